import ArgumentParser
import ResNeXtCore
import ResNeXtCPU
import ResNeXtCUDA
import ResNeXtModels
import ResNeXtNN

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Checks the CUDA backend against the CPU backend on the GPU machine (which has no Swift toolchain to
/// run the test suite): every backend operation forward and backward on fresh random inputs, then a
/// short training run whose loss must fall.
struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check the CUDA backend against the CPU backend: every operation, forward and backward, then a short training run.",
        discussion: """
            Prints one line per check (PASS/FAIL, max |gpu − cpu| / max |cpu|), then "N passed, N failed". Exit status: 0 when \
            everything passed, 1 when a check failed, 2 when no GPU runtime could be loaded (the loader's message names every \
            file it tried and the RESNEXT_LIB* variable that overrides it). `--device cpu` compares the CPU backend with itself \
            (a check of this command on machines without a GPU).
            """)

    @Option(help: "The device under test: cuda, cuda:N (or cpu, to check the selftest itself).")
    var device = "cuda"

    @Option(help: "Allow TF32 tensor cores (true|false). Tolerance: 1e-3 with TF32, 1e-5 without.")
    var tf32 = true

    @Option(help: "cuDNN algorithm choice: fastest | deterministic | heuristic (the original's -cudnn; default = heuristic).")
    var cudnn = "fastest"

    @Option(help: "Random seed of the inputs (default: from the clock, so each run checks fresh inputs; printed for reruns).")
    var seed: UInt64?

    @Option(help: "Training steps of the final run (0 skips it).")
    var steps = 60

    @Option(help: "Learning rate of the final run.")
    var lr: Float = 0.02

    @Flag(help: "Print the CUDA C source of every kernel and exit.")
    var printKernels = false

    func run() throws {
        if printKernels {
            print(Kernels.fullSource)
            return
        }
        let target: Device
        do {
            target = try Device(parsing: device)
        } catch {
            throw ValidationError("--device: \(error)")
        }
        // The original's `-cudnn default` is cuDNN's heuristic choice.
        guard let search = CUDAAlgorithmSearch(rawValue: cudnn == "default" ? "heuristic" : cudnn) else {
            throw ValidationError("--cudnn must be fastest, deterministic or heuristic (or default), got '\(cudnn)'")
        }
        let seed = self.seed ?? Self.clockSeed()
        let backend: any Backend
        var exactFP32 = !tf32
        switch target {
        case .cpu:
            backend = try CPUBackend()
            exactFP32 = true
        case .cuda(let index):
            do {
                let gpu = try CUDABackend(device: index, allowTF32: tf32, algorithmSearch: search)
                exactFP32 = !gpu.allowTF32
                backend = gpu
            } catch {
                printError("selftest: \(error)")
                throw ExitCode(2)
            }
        }
        let reference = try CPUBackend()
        let tolerance = exactFP32 ? 1e-5 : 1e-3
        print("selftest: \(backend.name)")
        print("reference: \(reference.name)")
        print("seed \(seed) (rerun with --seed \(seed)); tolerance \(tolerance) on max |a − b| / max |b|\(exactFP32 ? "" : " (TF32)")")
        let suite = SelftestSuite(backend: backend, reference: reference, tolerance: tolerance, seed: seed)
        suite.runOperationChecks()
        if steps > 0 { suite.runTraining(steps: steps, learningRate: lr) }
        if let gpu = backend as? CUDABackend {
            print("allocator: \(gpu.allocatorStatistics); \(gpu.cachedAlgorithmCount) cached cuDNN algorithm choices")
        }
        print("\(suite.passed) passed, \(suite.failed) failed")
        if suite.failed > 0 { throw ExitCode(1) }
    }

    static func clockSeed() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(truncatingIfNeeded: ts.tv_sec) &* 1_000_000_007 &+ UInt64(truncatingIfNeeded: ts.tv_nsec)
    }
}

/// The checks: each runs the same operation with the same inputs on both backends and compares.
final class SelftestSuite {
    let backend: any Backend
    let reference: CPUBackend
    let tolerance: Double
    var rng: RandomGenerator
    private(set) var passed = 0
    private(set) var failed = 0

    init(backend: any Backend, reference: CPUBackend, tolerance: Double, seed: UInt64) {
        self.backend = backend
        self.reference = reference
        self.tolerance = tolerance
        self.rng = RandomGenerator(seed: seed)
    }

    // MARK: Reporting

    /// max |a − b| / max |b| (absolute when b is all zeros); infinity for NaN or different sizes.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .infinity }
        var diff = 0.0, scale = 0.0
        for (x, y) in zip(a, b) {
            if x.isNaN != y.isNaN { return .infinity }
            diff = max(diff, abs(Double(x) - Double(y)))
            scale = max(scale, abs(Double(y)))
        }
        return scale > 0 ? diff / scale : diff
    }

    /// One reported line: runs `body` (which returns named pairs of device and reference values),
    /// PASS when every pair is within tolerance (or exactly equal when `exact`).
    func check(_ op: String, _ detail: String, exact: Bool = false, tolerance: Double? = nil,
               _ body: () throws -> [(String, [Float], [Float])]) {
        let label = padded(op, 28) + " " + padded(detail, 48)
        do {
            let pairs = try body()
            var worst = 0.0, worstName = ""
            for (name, a, b) in pairs {
                let e = Self.relativeError(a, b)
                if a.count != b.count { print("       \(name): \(a.count) values vs \(b.count)") }
                if !(e <= worst) || worstName.isEmpty { worst = e; worstName = name }
            }
            let ok = exact ? worst == 0 : worst <= (tolerance ?? self.tolerance)
            if ok { passed += 1 } else { failed += 1 }
            let where_ = pairs.count > 1 ? " (\(worstName))" : ""
            print("\(ok ? "PASS" : "FAIL")  \(label) max rel err \(scientific(worst))\(where_)")
        } catch {
            failed += 1
            print("FAIL  \(label) error: \(error)")
        }
    }

    // MARK: Inputs

    /// Uniform values in [low, high) scaled, never exactly zero.
    func values(_ count: Int, low: Double = -1, high: Double = 1) -> [Float] {
        (0..<count).map { _ in
            var v = Float(rng.uniform(low, high))
            while v == 0 { v = Float(rng.uniform(low, high)) }
            return v
        }
    }

    /// The same random values on both backends.
    func pair(_ dims: [Int], low: Double = -1, high: Double = 1) throws -> (Tensor, Tensor, [Float]) {
        let shape = Shape(dims)
        let v = values(shape.elementCount, low: low, high: high)
        return (try backend.upload(v, shape: shape), try reference.upload(v, shape: shape), v)
    }

    func both(_ a: Tensor, _ b: Tensor, _ name: String) throws -> (String, [Float], [Float]) {
        guard a.shape == b.shape else {
            throw ResNeXtError.shapeMismatch("\(name): shape \(a.shape) on the device, \(b.shape) on the reference")
        }
        return (name, try backend.download(a), try reference.download(b))
    }

    // MARK: Operation checks

    func runOperationChecks() {
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
        check("copy", "[2, 3, 4, 5]", exact: true) {
            let (a, _, v) = try pair([2, 3, 4, 5])
            let c = try backend.copy(a)
            try backend.scale(a, by: 2)   // the copy must not share storage
            return [("copy", try backend.download(c), v)]
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
            ConvolutionCase(n: 4, c: 64, h: 5, w: 5, o: 64, k: 3, stride: 2, padding: 1, groups: 32, bias: true),
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
                check("convolution forward", cs.detail) {
                    [try both(try backend.convolution2D(x, weight: w, bias: cs.bias ? b : nil, p),
                              try reference.convolution2D(xr, weight: wr, bias: cs.bias ? br : nil, p), "output")]
                }
                check("convolution backward data", cs.detail) {
                    [try both(try backend.convolution2DBackwardData(dy, weight: w, inputShape: x.shape, p),
                              try reference.convolution2DBackwardData(dyr, weight: wr, inputShape: xr.shape, p), "input gradient")]
                }
                check("convolution backward weight", cs.detail) {
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
                    let g = try backend.batchNormTraining(x, scale: scale, shift: shift, runningMean: rm, runningVariance: rv, momentum: 0.1, epsilon: 1e-5)
                    let r = try reference.batchNormTraining(xr, scale: scaleR, shift: shiftR, runningMean: rmR, runningVariance: rvR,
                                                            momentum: 0.1, epsilon: 1e-5)
                    saved = (g.statistics, r.statistics)
                    return [try both(g.output, r.output, "output"), try both(g.statistics.mean, r.statistics.mean, "batch mean"),
                            try both(g.statistics.variance, r.statistics.variance, "batch variance"),
                            try both(rm, rmR, "running mean"), try both(rv, rvR, "running variance")]
                }
                check("batch norm inference", detail) {
                    [try both(try backend.batchNormInference(x, scale: scale, shift: shift, mean: rm, variance: rv, epsilon: 1e-5),
                              try reference.batchNormInference(xr, scale: scaleR, shift: shiftR, mean: rmR, variance: rvR, epsilon: 1e-5), "output")]
                }
                check("batch norm backward", detail) {
                    guard let (gs, rs) = saved else { throw ResNeXtError.invalidArgument("training forward failed") }
                    let g = try backend.batchNormBackward(dy, input: x, scale: scale, statistics: gs, epsilon: 1e-5)
                    let r = try reference.batchNormBackward(dyR, input: xr, scale: scaleR, statistics: rs, epsilon: 1e-5)
                    return [try both(g.input, r.input, "input gradient"), try both(g.scale, r.scale, "scale gradient"),
                            try both(g.shift, r.shift, "shift gradient")]
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
            check("relu backward", "\(Shape(dims))") { [try both(try backend.reluBackward(dy, output: y), try reference.reluBackward(dyr, output: yr), "input gradient")] }
            check("add", "\(Shape(dims))") { [try both(try backend.add(x, b), try reference.add(xr, br), "sum")] }
            check("scale (in place)", "\(Shape(dims)) by -0.37") {
                try backend.scale(b, by: -0.37)
                try reference.scale(br, by: -0.37)
                return [try both(b, br, "scaled")]
            }
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
            ([1, 3, 7, 7], Pool2DParameters(kernel: 2, stride: 2), "k2 s2 odd"),
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
                        return [try both(try backend.maxPool2DBackward(dy, forward: g, inputShape: x.shape, p),
                                         try reference.maxPool2DBackward(dyr, forward: r, inputShape: xr.shape, p), "input gradient")]
                    }
                }
                check("average pooling", detail) { [try both(try backend.averagePool2D(x, p), try reference.averagePool2D(xr, p), "output")] }
                check("average pooling backward", detail) {
                    [try both(try backend.averagePool2DBackward(dy, inputShape: x.shape, p),
                              try reference.averagePool2DBackward(dyr, inputShape: xr.shape, p), "input gradient")]
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
                check("linear", detail + " +bias") {
                    [try both(try backend.linear(x, weight: w, bias: b), try reference.linear(xr, weight: wr, bias: br), "output")]
                }
                check("linear", detail) {
                    [try both(try backend.linear(x, weight: w, bias: nil), try reference.linear(xr, weight: wr, bias: nil), "output")]
                }
                check("linear backward data", detail) {
                    [try both(try backend.linearBackwardData(dy, weight: w), try reference.linearBackwardData(dyr, weight: wr), "input gradient")]
                }
                check("linear backward weight", detail + " +bias") {
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
                return [("counts", try backend.topKCorrect(x, labels: labels, ks: ks).map(Float.init),
                         try reference.topKCorrect(xr, labels: labels, ks: ks).map(Float.init))]
            }
        }
        check("top-k correct (ties)", "[6, 4] integer logits k [1, 2]", exact: true) {
            let v: [Float] = [1, 1, 0, 2, 3, 3, 3, 1, 0, 0, 0, 0, 2, 1, 2, 1, 5, 4, 5, 5, 1, 2, 2, 2]
            let labels: [Int32] = [0, 1, 3, 0, 1, 2]
            return [("counts", try backend.topKCorrect(try backend.upload(v, shape: [6, 4]), labels: labels, ks: [1, 2]).map(Float.init),
                     try reference.topKCorrect(try reference.upload(v, shape: [6, 4]), labels: labels, ks: [1, 2]).map(Float.init))]
        }
    }

    func optimizerChecks() {
        let settings: [(SGDHyperparameters, String)] = [
            (SGDHyperparameters(), "nesterov 0.9, wd 1e-4"),
            (SGDHyperparameters(momentum: 0.8, dampening: 0.1, weightDecay: 5e-4, nesterov: false), "momentum 0.8, dampening 0.1"),
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
        }
    }

    // MARK: Training

    /// A CIFAR-style ResNeXt (depth 11, 4×4d) on generated 32×32 images of 10 classes (a fixed random
    /// template per class plus noise): the loss must fall; its first step must match the CPU backend's;
    /// after warm-up no step may allocate device memory.
    func runTraining(steps: Int, learningRate: Float) {
        let classes = 10, batch = 32, examples = 256
        var data = rng
        let templates = (0..<classes).map { _ in (0..<(3 * 32 * 32)).map { _ in Float(data.normal()) } }
        var images = [[Float]](), labels = [Int32]()
        for i in 0..<examples {
            let label = i % classes
            images.append(templates[label].map { $0 + Float(data.normal(std: 1.5)) })
            labels.append(Int32(label))
        }
        func batchAt(_ step: Int, on b: any Backend) throws -> (Tensor, [Int32]) {
            let start = (step * batch) % examples
            let idx = Array(start..<(start + batch))
            return (try b.upload(idx.flatMap { images[$0] }, shape: [batch, 3, 32, 32]), idx.map { labels[$0] })
        }
        func trainStep(_ model: ResNeXtModel, _ sgd: SGD, _ b: any Backend, _ step: Int) throws -> Float {
            let (x, y) = try batchAt(step, on: b)
            model.zeroGradients()
            let logits = try model.forward(x)
            let ce = try b.softmaxCrossEntropy(logits, labels: y)
            _ = try model.backward(ce.gradient)
            try sgd.step(learningRate: learningRate)
            return ce.loss
        }
        do {
            let config = try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 4)
            let modelSeed = rng.next()
            let model = try ResNeXtModel(config, on: backend, seed: modelSeed)
            let sgd = try SGD(backend, parameters: model.namedParameters(), SGDHyperparameters(weightDecay: 5e-4))
            let cpuModel = try ResNeXtModel(config, on: reference, seed: modelSeed)
            let cpuSGD = try SGD(reference, parameters: cpuModel.namedParameters(), SGDHyperparameters(weightDecay: 5e-4))
            print("training: ResNeXt \(config.depth)-layer CIFAR \(config.cardinality)x\(config.baseWidth)d, \(model.parameterCount) parameters, "
                  + "batch \(batch), \(steps) steps of SGD (lr \(learningRate)) on generated 10-class images")
            var losses = [Float]()
            var allocationsAfterWarmup: Int?
            let start = ContinuousClock.now
            for step in 0..<steps {
                losses.append(try trainStep(model, sgd, backend, step))
                if step == 0 {
                    let cpuLoss = try trainStep(cpuModel, cpuSGD, reference, 0)
                    // A whole network's forward pass: 10× the per-operation tolerance.
                    check("training step 1 loss vs cpu", "ResNeXt-11 4x4d batch \(batch)", tolerance: 10 * tolerance) {
                        [("loss", [losses[0]], [cpuLoss])]
                    }
                }
                if step == 2, let gpu = backend as? CUDABackend { allocationsAfterWarmup = gpu.allocatorStatistics.deviceAllocations }
                if step % 10 == 0 || step == steps - 1 { print("  step \(step + 1): loss \(format(Double(losses[step]), digits: 4))") }
            }
            let elapsed = ContinuousClock.now - start
            let ms = (Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15) / Double(steps)
            print("  \(format(ms, digits: 1)) ms per step (including the first steps' algorithm search)")
            let window = max(1, min(5, steps / 4))
            let first = losses.prefix(window).reduce(0, +) / Float(window)
            let last = losses.suffix(window).reduce(0, +) / Float(window)
            let falls = last.isFinite && last < 0.7 * first
            if falls { passed += 1 } else { failed += 1 }
            print("\(falls ? "PASS" : "FAIL")  \(padded("training loss falls", 28)) \(padded("mean of first \(window) steps → last \(window)", 48)) "
                  + "\(format(Double(first), digits: 4)) → \(format(Double(last), digits: 4)) (must fall below 70 %)")
            if let before = allocationsAfterWarmup, let gpu = backend as? CUDABackend, steps > 3 {
                let extra = gpu.allocatorStatistics.deviceAllocations - before
                let ok = extra == 0
                if ok { passed += 1 } else { failed += 1 }
                print("\(ok ? "PASS" : "FAIL")  \(padded("caching allocator", 28)) \(padded("device allocations after step 3", 48)) \(extra)")
            }
        } catch {
            failed += 1
            print("FAIL  training run: \(error)")
        }
    }
}

/// `1.23e-04`.
func scientific(_ x: Double) -> String {
    guard x.isFinite else { return "\(x)" }
    guard x != 0 else { return "0" }
    var exponent = Int(log10(abs(x)).rounded(.down))
    var mantissa = x / pow(10, Double(exponent))
    if abs(mantissa) >= 9.995 {
        mantissa /= 10
        exponent += 1
    }
    return "\(format(mantissa, digits: 2))e\(exponent < 0 ? "-" : "+")\(abs(exponent) < 10 ? "0" : "")\(abs(exponent))"
}
