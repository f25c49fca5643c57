import ResNeXtCore

extension ConformanceSuite {
    /// Every backend operation on fresh random inputs, then a check that nothing leaked.
    public func runOperationChecks() {
        let before = backend.liveAllocations
        memoryChecks()
        convolutionChecks()
        batchNormChecks()
        elementwiseChecks()
        poolingChecks()
        linearChecks()
        channelChecks()
        lossChecks()
        optimizerChecks()
        // Every tensor of the checks is gone: the backend must hold no more than before.
        let after = backend.liveAllocations
        check("liveAllocations", "after all operation checks: \(after.count) blocks, \(after.bytes) bytes", exact: true) {
            [("live blocks and bytes", [Float(after.count), Float(after.bytes)], [Float(before.count), Float(before.bytes)])]
        }
    }

    func memoryChecks() {
        check("upload/download", "[3, 5, 7, 2]", exact: true) {
            let v = values(210)
            return [("values", try backend.download(try backend.upload(v, shape: [3, 5, 7, 2])), v)]
        }
        check("zeros", "[4, 3, 5, 5]", exact: true) {
            [("zeros", try backend.download(try backend.zeros([4, 3, 5, 5])), [Float](repeating: 0, count: 300))]
        }
        check("reshape / optimizedLayout", "[2, 3, 4, 5] -> [6, 20]", exact: true) {
            let (a, _, v) = try pair([2, 3, 4, 5])
            let r = try backend.reshape(try backend.optimizedLayout(a), to: [6, 20])
            return [("reshaped", try backend.download(r), v)]
        }
    }

    struct ConvolutionCase {
        let n, c, h, w, o, k, stride, padding, groups: Int
        let bias: Bool
        var detail: String {
            "[\(n), \(c), \(h), \(w)] o\(o) k\(k) s\(stride) p\(padding) g\(groups)\(bias ? " +bias" : "")"
        }
    }

    func convolutionChecks() {
        let cases = [
            ConvolutionCase(n: 2, c: 8, h: 9, w: 9, o: 16, k: 3, stride: 1, padding: 1, groups: 1, bias: true),
            ConvolutionCase(n: 1, c: 8, h: 7, w: 7, o: 8, k: 3, stride: 2, padding: 1, groups: 2, bias: false),
            ConvolutionCase(n: 3, c: 128, h: 8, w: 8, o: 128, k: 3, stride: 1, padding: 1, groups: 32, bias: false),
            ConvolutionCase(n: 2, c: 128, h: 9, w: 9, o: 128, k: 3, stride: 2, padding: 1, groups: 32, bias: false),
            ConvolutionCase(n: 2, c: 16, h: 11, w: 11, o: 16, k: 3, stride: 1, padding: 1, groups: 16, bias: false),
            ConvolutionCase(n: 2, c: 16, h: 9, w: 9, o: 32, k: 1, stride: 2, padding: 0, groups: 1, bias: false),
            ConvolutionCase(n: 2, c: 3, h: 17, w: 17, o: 8, k: 7, stride: 2, padding: 3, groups: 1, bias: false),
            ConvolutionCase(n: 4, c: 64, h: 5, w: 5, o: 64, k: 3, stride: 2, padding: 1, groups: 32, bias: true)
        ]
        for cs in cases {
            let p = Convolution2DParameters(stride: cs.stride, padding: cs.padding, groups: cs.groups)
            do {
                let (x, xr, _) = try pair([cs.n, cs.c, cs.h, cs.w])
                let bound = 1 / Double(cs.c / cs.groups * cs.k * cs.k).squareRoot()
                let (w, wr, _) = try pair([cs.o, cs.c / cs.groups, cs.k, cs.k], low: -bound, high: bound)
                let (b, br, _) = try pair([cs.o])
                let outShape = try p.outputShape(input: x.shape, weight: w.shape)
                let (dy, dyr, _) = try pair(outShape.dims)
                check("convolution forward", cs.detail, tolerance: convolutionTolerance) {
                    [
                        try both(
                            try backend.convolution2D(x, weight: w, bias: cs.bias ? b : nil, p),
                            try reference.convolution2D(xr, weight: wr, bias: cs.bias ? br : nil, p), "output")
                    ]
                }
                check("convolution backward data", cs.detail, tolerance: convolutionTolerance) {
                    [
                        try both(
                            try backend.convolution2DBackwardData(dy, weight: w, inputShape: x.shape, p),
                            try reference.convolution2DBackwardData(dyr, weight: wr, inputShape: xr.shape, p), "input gradient")
                    ]
                }
                check("convolution backward weight", cs.detail, tolerance: convolutionTolerance) {
                    let g = try backend.convolution2DBackwardWeights(dy, input: x, weightShape: w.shape, withBias: cs.bias, p)
                    let r = try reference.convolution2DBackwardWeights(dyr, input: xr, weightShape: wr.shape, withBias: cs.bias, p)
                    var out = [try both(g.weight, r.weight, "weight gradient")]
                    if let gb = g.bias, let rb = r.bias { out.append(try both(gb, rb, "bias gradient")) }
                    return out
                }
            } catch {
                check("convolution", cs.detail) { throw error }
            }
        }
    }

    func batchNormChecks() {
        for dims in [[4, 8, 5, 5], [2, 16, 3, 3], [8, 16], [1, 4, 1, 1], [3, 32, 7, 7]] {
            let detail = "\(Shape(dims))"
            do {
                let c = dims[1]
                let (x, xr, _) = try pair(dims, low: -1.5, high: 2.5)
                let (scale, scaleR, _) = try pair([c], low: 0.5, high: 1.5)
                let (shift, shiftR, _) = try pair([c])
                let (rm, rmR, _) = try pair([c])
                let (rv, rvR, _) = try pair([c], low: 0.5, high: 2)
                let (dy, dyR, _) = try pair(dims)
                var saved: (BatchNormStatistics, BatchNormStatistics)?
                check("batch norm training", detail) {
                    let g = try backend.batchNormTraining(
                        x, scale: scale, shift: shift, runningMean: rm, runningVariance: rv, momentum: 0.1, epsilon: 1e-5)
                    let r = try reference.batchNormTraining(
                        xr, scale: scaleR, shift: shiftR, runningMean: rmR, runningVariance: rvR,
                        momentum: 0.1, epsilon: 1e-5)
                    saved = (g.statistics, r.statistics)
                    return [
                        try both(g.output, r.output, "output"), try both(g.statistics.mean, r.statistics.mean, "batch mean"),
                        try both(g.statistics.variance, r.statistics.variance, "batch variance"),
                        try both(rm, rmR, "running mean"), try both(rv, rvR, "running variance")
                    ]
                }
                check("batch norm inference", detail) {
                    [
                        try both(
                            try backend.batchNormInference(x, scale: scale, shift: shift, mean: rm, variance: rv, epsilon: 1e-5),
                            try reference.batchNormInference(xr, scale: scaleR, shift: shiftR, mean: rmR, variance: rvR, epsilon: 1e-5),
                            "output")
                    ]
                }
                check("batch norm backward", detail) {
                    guard let (gs, rs) = saved else { throw ResNeXtError.invalidArgument("training forward failed") }
                    let g = try backend.batchNormBackward(dy, input: x, scale: scale, statistics: gs, epsilon: 1e-5)
                    let r = try reference.batchNormBackward(dyR, input: xr, scale: scaleR, statistics: rs, epsilon: 1e-5)
                    return [
                        try both(g.input, r.input, "input gradient"), try both(g.scale, r.scale, "scale gradient"),
                        try both(g.shift, r.shift, "shift gradient")
                    ]
                }
            } catch {
                check("batch norm", detail) { throw error }
            }
        }
    }

    func elementwiseChecks() {
        do {
            let dims = [2, 3, 5, 7]
            let (x, xr, _) = try pair(dims)
            let (dy, dyr, _) = try pair(dims)
            let (b, br, _) = try pair(dims)
            let y = try backend.relu(x), yr = try reference.relu(xr)
            check("relu", "\(Shape(dims))") { [try both(y, yr, "output")] }
            check("relu backward", "\(Shape(dims))") {
                [try both(try backend.reluBackward(dy, output: y), try reference.reluBackward(dyr, output: yr), "input gradient")]
            }
            check("add", "\(Shape(dims))") { [try both(try backend.add(x, b), try reference.add(xr, br), "sum")] }
        } catch {
            check("element-wise", "") { throw error }
        }
    }

    func poolingChecks() {
        let cases: [([Int], Pool2DParameters, String)] = [
            ([2, 4, 9, 9], Pool2DParameters(kernel: 3, stride: 2, padding: 1), "k3 s2 p1"),
            ([1, 3, 8, 8], Pool2DParameters(kernel: 2, stride: 2), "k2 s2"),
            ([2, 2, 7, 5], Pool2DParameters(kernel: 3, stride: 1, padding: 1), "k3 s1 p1"),
            ([2, 4, 9, 9], Pool2DParameters(kernel: 3, stride: 2, padding: 1, countIncludesPadding: false), "k3 s2 p1 exclude padding"),
            ([2, 16, 8, 8], Pool2DParameters.global(height: 8, width: 8), "global 8x8"),
            ([1, 3, 7, 7], Pool2DParameters(kernel: 2, stride: 2), "k2 s2 odd")
        ]
        for (dims, p, name) in cases {
            let detail = "\(Shape(dims)) \(name)"
            do {
                let (x, xr, _) = try pair(dims)
                let outShape = try p.outputShape(input: x.shape)
                let (dy, dyr, _) = try pair(outShape.dims)
                if p.countIncludesPadding && name != "global 8x8" {
                    var saved: (MaxPoolResult, MaxPoolResult)?
                    check("max pooling", detail) {
                        let g = try backend.maxPool2D(x, p), r = try reference.maxPool2D(xr, p)
                        saved = (g, r)
                        return [try both(g.output, r.output, "output")]
                    }
                    check("max pooling backward", detail) {
                        guard let (g, r) = saved else { throw ResNeXtError.invalidArgument("forward failed") }
                        return [
                            try both(
                                try backend.maxPool2DBackward(dy, forward: g, inputShape: x.shape, p),
                                try reference.maxPool2DBackward(dyr, forward: r, inputShape: xr.shape, p), "input gradient")
                        ]
                    }
                }
                check("average pooling", detail) {
                    [try both(try backend.averagePool2D(x, p), try reference.averagePool2D(xr, p), "output")]
                }
                check("average pooling backward", detail) {
                    [
                        try both(
                            try backend.averagePool2DBackward(dy, inputShape: x.shape, p),
                            try reference.averagePool2DBackward(dyr, inputShape: xr.shape, p), "input gradient")
                    ]
                }
            } catch {
                check("pooling", detail) { throw error }
            }
        }
    }

    func linearChecks() {
        for (n, k, o) in [(5, 12, 7), (1, 64, 10), (32, 256, 100)] {
            let detail = "x [\(n), \(k)] w [\(o), \(k)]"
            do {
                let (x, xr, _) = try pair([n, k])
                let (w, wr, _) = try pair([o, k], low: -0.2, high: 0.2)
                let (b, br, _) = try pair([o])
                let (dy, dyr, _) = try pair([n, o])
                check("linear", detail + " +bias", tolerance: linearTolerance) {
                    [try both(try backend.linear(x, weight: w, bias: b), try reference.linear(xr, weight: wr, bias: br), "output")]
                }
                check("linear", detail, tolerance: linearTolerance) {
                    [try both(try backend.linear(x, weight: w, bias: nil), try reference.linear(xr, weight: wr, bias: nil), "output")]
                }
                check("linear backward data", detail, tolerance: linearTolerance) {
                    [
                        try both(
                            try backend.linearBackwardData(dy, weight: w), try reference.linearBackwardData(dyr, weight: wr),
                            "input gradient")
                    ]
                }
                check("linear backward weight", detail + " +bias", tolerance: linearTolerance) {
                    let g = try backend.linearBackwardWeights(dy, input: x, withBias: true)
                    let r = try reference.linearBackwardWeights(dyr, input: xr, withBias: true)
                    guard let gb = g.bias, let rb = r.bias else { throw ResNeXtError.invalidArgument("no bias gradient") }
                    return [try both(g.weight, r.weight, "weight gradient"), try both(gb, rb, "bias gradient")]
                }
            } catch {
                check("linear", detail) { throw error }
            }
        }
    }

    func channelChecks() {
        check("concatenate channels", "[2, 3|5|1, 4, 5]", exact: true) {
            let (a, ar, _) = try pair([2, 3, 4, 5])
            let (b, br, _) = try pair([2, 5, 4, 5])
            let (c, cr, _) = try pair([2, 1, 4, 5])
            return [try both(try backend.concatenateChannels([a, b, c]), try reference.concatenateChannels([ar, br, cr]), "output")]
        }
        check("split channels", "[2, 9, 4, 5] into 3, 5, 1", exact: true) {
            let (x, xr, _) = try pair([2, 9, 4, 5])
            let g = try backend.splitChannels(x, sizes: [3, 5, 1]), r = try reference.splitChannels(xr, sizes: [3, 5, 1])
            return try zip(g, r).enumerated().map { try both($1.0, $1.1, "piece \($0)") }
        }
    }

    func lossChecks() {
        for (rows, classes) in [(6, 10), (1, 1000), (64, 100)] {
            check("softmax cross-entropy", "[\(rows), \(classes)]") {
                let (x, xr, _) = try pair([rows, classes], low: -4, high: 4)
                let labels = (0..<rows).map { _ in Int32(rng.integer(in: 0...(classes - 1))) }
                let g = try backend.softmaxCrossEntropy(x, labels: labels)
                let r = try reference.softmaxCrossEntropy(xr, labels: labels)
                return [("loss", [g.loss], [r.loss]), try both(g.gradient, r.gradient, "gradient")]
            }
        }
        for (rows, classes, ks) in [(64, 10, [1, 5]), (8, 3, [1, 5]), (1, 1000, [1, 5, 1000])] {
            check("top-k correct", "[\(rows), \(classes)] k \(ks)", exact: true) {
                let (x, xr, _) = try pair([rows, classes])
                let labels = (0..<rows).map { _ in Int32(rng.integer(in: 0...(classes - 1))) }
                return [
                    (
                        "counts", try backend.topKCorrect(x, labels: labels, ks: ks).map(Float.init),
                        try reference.topKCorrect(xr, labels: labels, ks: ks).map(Float.init)
                    )
                ]
            }
        }
        check("top-k correct (NaN)", "[4, 3] with NaN logits k [1, 2, 3]", exact: true) {
            let v: [Float] = [.nan, 1, 2, 1, .nan, 0, .nan, .nan, .nan, 3, 2, 1]
            let labels: [Int32] = [0, 0, 1, 0]
            let tested = try backend.topKCorrect(try backend.upload(v, shape: [4, 3]), labels: labels, ks: [1, 2, 3])
            let trusted = try reference.topKCorrect(try reference.upload(v, shape: [4, 3]), labels: labels, ks: [1, 2, 3])
            return [("counts", tested.map(Float.init), trusted.map(Float.init))]
        }
        check("top-k correct (ties)", "[6, 4] integer logits k [1, 2]", exact: true) {
            let v: [Float] = [1, 1, 0, 2, 3, 3, 3, 1, 0, 0, 0, 0, 2, 1, 2, 1, 5, 4, 5, 5, 1, 2, 2, 2]
            let labels: [Int32] = [0, 1, 3, 0, 1, 2]
            return [
                (
                    "counts", try backend.topKCorrect(try backend.upload(v, shape: [6, 4]), labels: labels, ks: [1, 2]).map(Float.init),
                    try reference.topKCorrect(try reference.upload(v, shape: [6, 4]), labels: labels, ks: [1, 2]).map(Float.init)
                )
            ]
        }
    }

    func optimizerChecks() {
        let settings: [(SGDHyperparameters, String)] = [
            (SGDHyperparameters(), "nesterov 0.9, wd 1e-4"),
            (SGDHyperparameters(momentum: 0.8, dampening: 0.1, weightDecay: 5e-4, nesterov: false), "momentum 0.8, dampening 0.1")
        ]
        for (h, name) in settings {
            check("sgd step", "[3, 4, 3, 3] \(name), 2 steps") {
                let (p, pr, _) = try pair([3, 4, 3, 3])
                let (v, vr) = (try backend.zeros(p.shape), try reference.zeros(pr.shape))
                var out = [(String, [Float], [Float])]()
                for step in 0..<2 {
                    let (g, gr, _) = try pair([3, 4, 3, 3])
                    try backend.sgdStep(parameter: p, gradient: g, velocity: v, learningRate: 0.1, h, isFirstStep: step == 0)
                    try reference.sgdStep(parameter: pr, gradient: gr, velocity: vr, learningRate: 0.1, h, isFirstStep: step == 0)
                    out += [try both(p, pr, "parameter after step \(step + 1)"), try both(v, vr, "velocity after step \(step + 1)")]
                }
                return out
            }
            // Its inputs are drawn without advancing the suite's generator: every later check (the training
            // step among them) sees the inputs it saw before this check was added.
            let generator = rng
            defer { rng = generator }
            check("sgd step (all parameters)", "[3, 4, 3, 3], [7], [1], [10, 33] \(name), 2 steps") {
                let shapes = [[3, 4, 3, 3], [7], [1], [10, 33]]
                let ps = try shapes.map { try pair($0) }
                let vs = try shapes.map { (try backend.zeros(Shape($0)), try reference.zeros(Shape($0))) }
                var out = [(String, [Float], [Float])]()
                for step in 0..<2 {
                    let gs = try shapes.map { try pair($0) }
                    try backend.sgdStep(
                        parameters: ps.map(\.0), gradients: gs.map(\.0), velocities: vs.map(\.0), learningRate: 0.1, h,
                        isFirstStep: step == 0)
                    try reference.sgdStep(
                        parameters: ps.map(\.1), gradients: gs.map(\.1), velocities: vs.map(\.1), learningRate: 0.1, h,
                        isFirstStep: step == 0)
                    for (i, shape) in shapes.enumerated() {
                        out += [
                            try both(ps[i].0, ps[i].1, "parameter \(shape) after step \(step + 1)"),
                            try both(vs[i].0, vs[i].1, "velocity \(shape) after step \(step + 1)")
                        ]
                    }
                }
                return out
            }
        }
    }

}
