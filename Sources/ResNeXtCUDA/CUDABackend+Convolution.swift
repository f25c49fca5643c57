import ResNeXtCore

/// The cuDNN descriptors of one convolution (tensor, filter, convolution), destroyed with this object.
final class ConvolutionDescriptors {
    let api: CuDNNAPI
    private(set) var x: OpaquePointer?
    private(set) var w: OpaquePointer?
    private(set) var y: OpaquePointer?
    private(set) var conv: OpaquePointer?

    init(_ api: CuDNNAPI, _ g: ConvolutionGeometry, mathType: Int32) throws {
        self.api = api
        try api.check(api.cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor")
        try api.check(api.cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor")
        try api.check(api.cudnnCreateTensorDescriptor(&y), "cudnnCreateTensorDescriptor")
        try api.check(api.cudnnCreateConvolutionDescriptor(&conv), "cudnnCreateConvolutionDescriptor")
        try api.check(
            api.cudnnSetTensor4dDescriptor(x, CuDNN.tensorNCHW, CuDNN.dataFloat, g.input[0], g.input[1], g.input[2], g.input[3]),
            "cudnnSetTensor4dDescriptor(input \(g.input))")
        try api.check(
            api.cudnnSetFilter4dDescriptor(w, CuDNN.dataFloat, CuDNN.tensorNCHW, g.filter[0], g.filter[1], g.filter[2], g.filter[3]),
            "cudnnSetFilter4dDescriptor(\(g.filter))")
        try api.check(
            api.cudnnSetTensor4dDescriptor(y, CuDNN.tensorNCHW, CuDNN.dataFloat, g.output[0], g.output[1], g.output[2], g.output[3]),
            "cudnnSetTensor4dDescriptor(output \(g.output))")
        try api.check(
            api.cudnnSetConvolution2dDescriptor(
                conv, g.padding[0], g.padding[1], g.stride[0], g.stride[1], g.dilation[0], g.dilation[1],
                CuDNN.crossCorrelation, CuDNN.dataFloat),
            "cudnnSetConvolution2dDescriptor(\(g))")
        try api.check(api.cudnnSetConvolutionGroupCount(conv, g.groups), "cudnnSetConvolutionGroupCount(\(g.groups))")
        try setMathType(mathType)
        // cuDNN must agree with our output shape (it computes it from the same geometry).
        var n: Int32 = 0, c: Int32 = 0, h: Int32 = 0, wd: Int32 = 0
        try api.check(api.cudnnGetConvolution2dForwardOutputDim(conv, x, w, &n, &c, &h, &wd), "cudnnGetConvolution2dForwardOutputDim(\(g))")
        guard [n, c, h, wd] == g.output else {
            throw ResNeXtError.backend("cuDNN computes output \([n, c, h, wd]) for convolution \(g)")
        }
    }

    func setMathType(_ mathType: Int32) throws {
        try api.check(api.cudnnSetConvolutionMathType(conv, mathType), "cudnnSetConvolutionMathType(\(mathType))")
    }

    deinit {
        if let x { _ = api.cudnnDestroyTensorDescriptor(x) }
        if let w { _ = api.cudnnDestroyFilterDescriptor(w) }
        if let y { _ = api.cudnnDestroyTensorDescriptor(y) }
        if let conv { _ = api.cudnnDestroyConvolutionDescriptor(conv) }
    }
}

extension CUDABackend {
    /// The algorithm for `key`: cached, or searched now (benchmarked with the real operands, which the
    /// search may overwrite only in the output buffer `out`).
    private func convolutionAlgorithm(
        _ key: ConvolutionAlgorithmKey, _ d: ConvolutionDescriptors, handle: OpaquePointer,
        x: CUDAStorage, w: CUDAStorage, y: CUDAStorage
    ) throws -> ConvolutionAlgorithmChoice {
        if let cached = algorithms.withLock({ $0[key] }) { return cached }
        let api = cudnn
        let best: CuDNNAlgorithmPerformance
        do {
            best = try searchAlgorithm(key, key.search, d, handle: handle, x: x, w: w, y: y)
        } catch let searchError {
            // A benchmark that fails (out of memory for its workspace, an unsupported case) falls back to
            // cuDNN's heuristic, still requiring determinism when asked.
            guard key.search != .heuristic,
                let fallback = try? searchAlgorithm(
                    key, .heuristic, d, handle: handle, x: x, w: w, y: y,
                    policy: key.search == .deterministic ? .deterministic : .heuristic)
            else {
                throw searchError
            }
            best = fallback
        }
        let mathType = ConvolutionAlgorithmSelection.runMathType(best, allowTF32: allowTF32)
        try d.setMathType(mathType)
        var bytes = 0
        let sizeStatus: Int32
        switch key.direction {
        case .forward: sizeStatus = api.cudnnGetConvolutionForwardWorkspaceSize(handle, d.x, d.w, d.conv, d.y, best.algorithm, &bytes)
        case .backwardData:
            sizeStatus = api.cudnnGetConvolutionBackwardDataWorkspaceSize(handle, d.w, d.y, d.conv, d.x, best.algorithm, &bytes)
        case .backwardFilter:
            sizeStatus = api.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, d.x, d.y, d.conv, d.w, best.algorithm, &bytes)
        }
        try api.check(sizeStatus, "cudnnGetConvolution\(key.direction.cudnnName)WorkspaceSize(algo \(best.algorithm), \(key))")
        let choice = ConvolutionAlgorithmChoice(
            algorithm: best.algorithm, mathType: mathType, workspaceBytes: max(bytes, best.memory),
            time: key.search == .heuristic ? -1 : best.time)
        algorithms.withLock { $0[key] = choice }
        return choice
    }

    /// Asks cuDNN for its algorithms in `mode` (benchmark or heuristic) and picks one by `policy`.
    private func searchAlgorithm(
        _ key: ConvolutionAlgorithmKey, _ mode: CUDAAlgorithmSearch, _ d: ConvolutionDescriptors, handle: OpaquePointer,
        x: CUDAStorage, w: CUDAStorage, y: CUDAStorage, policy: CUDAAlgorithmSearch? = nil
    ) throws -> CuDNNAlgorithmPerformance {
        let api = cudnn
        try d.setMathType(ConvolutionAlgorithmSelection.searchMathType(allowTF32: allowTF32))
        let requested: Int32 = 16
        var results = [CuDNNAlgorithmPerformance](repeating: CuDNNAlgorithmPerformance(), count: Int(requested))
        var returned: Int32 = 0
        var limit = Int.max
        var status: Int32 = 0
        let call: String
        switch mode {
        case .heuristic:
            call = "cudnnGetConvolution\(key.direction.cudnnName)Algorithm_v7(\(key))"
            status = results.withUnsafeMutableBytes { perf -> Int32 in
                switch key.direction {
                case .forward:
                    api.cudnnGetConvolutionForwardAlgorithm_v7(handle, d.x, d.w, d.conv, d.y, requested, &returned, perf.baseAddress)
                case .backwardData:
                    api.cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, d.w, d.y, d.conv, d.x, requested, &returned, perf.baseAddress)
                case .backwardFilter:
                    api.cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, d.x, d.y, d.conv, d.w, requested, &returned, perf.baseAddress)
                }
            }
        case .fastest, .deterministic:
            call = "cudnnFindConvolution\(key.direction.cudnnName)AlgorithmEx(\(key))"
            let workspace = try searchWorkspace()
            limit = workspace?.requested ?? 0
            let ws = workspace.flatMap { devicePointer($0.address) }
            status = results.withUnsafeMutableBytes { perf -> Int32 in
                switch key.direction {
                case .forward:
                    api.cudnnFindConvolutionForwardAlgorithmEx(
                        handle, d.x, x.pointer, d.w, w.pointer, d.conv, d.y, y.pointer,
                        requested, &returned, perf.baseAddress, ws, limit)
                case .backwardData:
                    api.cudnnFindConvolutionBackwardDataAlgorithmEx(
                        handle, d.w, w.pointer, d.y, y.pointer, d.conv, d.x, x.pointer,
                        requested, &returned, perf.baseAddress, ws, limit)
                case .backwardFilter:
                    api.cudnnFindConvolutionBackwardFilterAlgorithmEx(
                        handle, d.x, x.pointer, d.y, y.pointer, d.conv, d.w, w.pointer,
                        requested, &returned, perf.baseAddress, ws, limit)
                }
            }
        }
        try api.check(status, call)
        try afterCall(call)
        let found = Array(results.prefix(Int(max(0, min(returned, requested)))))
        guard
            let best = ConvolutionAlgorithmSelection.choose(
                found, direction: key.direction, search: policy ?? mode, allowTF32: allowTF32, workspaceLimit: limit)
        else {
            throw ResNeXtError.backend("\(call) found no usable algorithm (\(ConvolutionAlgorithmSelection.summary(found)))")
        }
        return best
    }

    /// The largest workspace for an algorithm search: up to `searchWorkspaceLimit`, at most half the free
    /// device memory, halved until it can be allocated (nil: none).
    private func searchWorkspace() throws -> DeviceBlock? {
        var free = 0, total = 0
        try driver.check(driver.cuMemGetInfo(&free, &total), "cuMemGetInfo_v2")
        var size = min(searchWorkspaceLimit, free / 2)
        while size >= 1 << 20 {
            if let block = try? allocator.allocate(size) { return block }
            size /= 2
        }
        return nil
    }

    /// A workspace of `bytes` from the allocator (nil for none).
    private func workspace(_ bytes: Int) throws -> DeviceBlock? {
        bytes > 0 ? try allocator.allocate(bytes) : nil
    }

    private func key(_ g: ConvolutionGeometry, _ direction: ConvolutionDirection) -> ConvolutionAlgorithmKey {
        ConvolutionAlgorithmKey(geometry: g, direction: direction, allowTF32: allowTF32, search: algorithmSearch)
    }

    public func convolution2D(_ input: Tensor, weight: Tensor, bias: Tensor?, _ p: Convolution2DParameters) throws -> Tensor {
        let (x, w, b, _) = try operands.convolution2D(input, weight: weight, bias: bias, p)
        let g = try ConvolutionGeometry(input: input.shape, weight: weight.shape, p)
        try prepare()
        let outShape = g.outputShape
        let out = try allocate(outShape)
        guard outShape.elementCount > 0 else { return wrap(out, outShape) }
        if input.elementCount == 0 || weight.elementCount == 0 {
            try fillZeros(out, count: outShape.elementCount)
        } else {
            let api = cudnn
            let k = key(g, .forward)
            try withCuDNN { handle, descriptors in
                let d = try descriptors.convolution(g, mathType: ConvolutionAlgorithmSelection.searchMathType(allowTF32: allowTF32))
                let choice = try convolutionAlgorithm(k, d, handle: handle, x: x, w: w, y: out)
                try d.setMathType(choice.mathType)
                let ws = try workspace(choice.workspaceBytes)
                var one: Float = 1, zero: Float = 0
                try api.check(
                    api.cudnnConvolutionForward(
                        handle, &one, d.x, x.pointer, d.w, w.pointer, d.conv, choice.algorithm,
                        ws.flatMap { devicePointer($0.address) }, ws?.requested ?? 0, &zero, d.y, out.pointer),
                    "cudnnConvolutionForward(algo \(choice.algorithm), \(k))")
                try afterCall("cudnnConvolutionForward")
            }
        }
        if let b {
            try launch(
                .addChannelBias, count: outShape.elementCount,
                [
                    .pointer(out.address), .pointer(b.address), .count(outShape.elementCount), .count(outShape[1]),
                    .count(outShape[2] * outShape[3])
                ])
        }
        return wrap(out, outShape)
    }

    public func convolution2DBackwardData(
        _ outputGradient: Tensor, weight: Tensor, inputShape: Shape,
        _ p: Convolution2DParameters
    ) throws -> Tensor {
        let (dy, w, inputShape, _) = try operands.convolution2DBackwardData(outputGradient, weight: weight, inputShape: inputShape, p)
        let g = try ConvolutionGeometry(input: inputShape, weight: weight.shape, p)
        try prepare()
        let dx = try allocate(inputShape)
        guard inputShape.elementCount > 0 else { return wrap(dx, inputShape) }
        if outputGradient.elementCount == 0 || weight.elementCount == 0 {
            try fillZeros(dx, count: inputShape.elementCount)
            return wrap(dx, inputShape)
        }
        let api = cudnn
        let k = key(g, .backwardData)
        try withCuDNN { handle, descriptors in
            let d = try descriptors.convolution(g, mathType: ConvolutionAlgorithmSelection.searchMathType(allowTF32: allowTF32))
            let choice = try convolutionAlgorithm(k, d, handle: handle, x: dx, w: w, y: dy)
            try d.setMathType(choice.mathType)
            let ws = try workspace(choice.workspaceBytes)
            var one: Float = 1, zero: Float = 0
            try api.check(
                api.cudnnConvolutionBackwardData(
                    handle, &one, d.w, w.pointer, d.y, dy.pointer, d.conv, choice.algorithm,
                    ws.flatMap { devicePointer($0.address) }, ws?.requested ?? 0, &zero, d.x, dx.pointer),
                "cudnnConvolutionBackwardData(algo \(choice.algorithm), \(k))")
            try afterCall("cudnnConvolutionBackwardData")
        }
        return wrap(dx, inputShape)
    }

    public func convolution2DBackwardWeights(
        _ outputGradient: Tensor, input: Tensor, weightShape: Shape, withBias: Bool,
        _ p: Convolution2DParameters
    ) throws -> (weight: Tensor, bias: Tensor?) {
        let (dy, x, weightShape, _) = try operands.convolution2DBackwardWeights(outputGradient, input: input, weightShape: weightShape, p)
        let g = try ConvolutionGeometry(input: input.shape, weight: weightShape, p)
        try prepare()
        let dw = try allocate(weightShape)
        if weightShape.elementCount > 0 {
            if outputGradient.elementCount == 0 || input.elementCount == 0 {
                try fillZeros(dw, count: weightShape.elementCount)
            } else {
                let api = cudnn
                let k = key(g, .backwardFilter)
                try withCuDNN { handle, descriptors in
                    let d = try descriptors.convolution(g, mathType: ConvolutionAlgorithmSelection.searchMathType(allowTF32: allowTF32))
                    let choice = try convolutionAlgorithm(k, d, handle: handle, x: x, w: dw, y: dy)
                    try d.setMathType(choice.mathType)
                    let ws = try workspace(choice.workspaceBytes)
                    var one: Float = 1, zero: Float = 0
                    try api.check(
                        api.cudnnConvolutionBackwardFilter(
                            handle, &one, d.x, x.pointer, d.y, dy.pointer, d.conv, choice.algorithm,
                            ws.flatMap { devicePointer($0.address) }, ws?.requested ?? 0, &zero, d.w, dw.pointer),
                        "cudnnConvolutionBackwardFilter(algo \(choice.algorithm), \(k))")
                    try afterCall("cudnnConvolutionBackwardFilter")
                }
            }
        }
        var db: Tensor?
        if withBias {
            let channels = weightShape[0]
            let bias = try allocate([channels])
            let (n, plane) = (Int(g.output[0]), Int(g.output[2]) * Int(g.output[3]))
            if n * plane == 0 {
                try fillZeros(bias, count: channels)
            } else {
                try launch(
                    .channelSum, count: channels, [.pointer(dy.address), .pointer(bias.address), .count(n), .count(channels), .count(plane)]
                )
            }
            db = wrap(bias, [channels])
        }
        return (wrap(dw, weightShape), db)
    }
}

extension ConvolutionDirection {
    /// The word in cuDNN's function names.
    var cudnnName: String {
        switch self {
        case .forward: "Forward"
        case .backwardData: "BackwardData"
        case .backwardFilter: "BackwardFilter"
        }
    }
}
