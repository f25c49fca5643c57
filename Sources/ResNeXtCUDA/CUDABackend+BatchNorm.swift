import ResNeXtCore

/// The input descriptor of a batch normalization and the `[1, C, 1, 1]` descriptor cuDNN derives for
/// scale, shift and statistics.
final class BatchNormDescriptors {
    let api: CuDNNAPI
    private(set) var x: OpaquePointer?
    private(set) var parameters: OpaquePointer?

    init(_ api: CuDNNAPI, dims: [Int32]) throws {
        self.api = api
        try api.check(api.cudnnCreateTensorDescriptor(&x), "cudnnCreateTensorDescriptor")
        try api.check(api.cudnnCreateTensorDescriptor(&parameters), "cudnnCreateTensorDescriptor")
        try api.check(
            api.cudnnSetTensor4dDescriptor(x, CuDNN.tensorNCHW, CuDNN.dataFloat, dims[0], dims[1], dims[2], dims[3]),
            "cudnnSetTensor4dDescriptor(batch normalization input \(dims))")
        try api.check(api.cudnnDeriveBNTensorDescriptor(parameters, x, CuDNN.batchNormSpatial), "cudnnDeriveBNTensorDescriptor(\(dims))")
    }

    deinit {
        if let x { _ = api.cudnnDestroyTensorDescriptor(x) }
        if let parameters { _ = api.cudnnDestroyTensorDescriptor(parameters) }
    }
}

extension CUDABackend {
    /// cuDNN spatial batch normalization. cuDNN updates the running variance with the unbiased batch
    /// variance (N·H·W / (N·H·W − 1) times the biased one), as PyTorch and the CPU backend; with one
    /// value per channel there is no update, as on the CPU.
    public func batchNormTraining(
        _ input: Tensor, scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor,
        momentum: Float, epsilon: Float
    ) throws -> (output: Tensor, statistics: BatchNormStatistics) {
        let (x, v) = try operands.batchNormTraining(
            input, scale: scale, shift: shift, runningMean: runningMean, runningVariance: runningVariance)
        let dims = try BatchNormGeometry.dims(input.shape)
        try prepare()
        let channels = input.shape[1]
        let out = try allocate(input.shape)
        let mean = try allocate([channels])
        let invStd = try allocate([channels])
        let variance = try allocate([channels])
        if BatchNormGeometry.valuesPerChannel(input.shape) == 1 {
            // One value per channel: x − mean = 0, so y = shift, mean = x, variance = 0, and the running
            // statistics stay as they are. cuDNN is not asked (its unbiased variance divides by N·H·W − 1).
            try copyBytes(from: v[1], to: out, count: channels, "batch normalization output")
            try copyBytes(from: x, to: mean, count: channels, "batch normalization mean")
            try fillZeros(variance, count: channels)
            return (wrap(out, input.shape), BatchNormStatistics(mean: wrap(mean, [channels]), variance: wrap(variance, [channels])))
        }
        let api = cudnn
        try withCuDNN { handle, descriptors in
            let d = try descriptors.batchNorm(dims)
            var one: Float = 1, zero: Float = 0
            try api.check(
                api.cudnnBatchNormalizationForwardTraining(
                    handle, CuDNN.batchNormSpatial, &one, &zero, d.x, x.pointer, d.x, out.pointer, d.parameters, v[0].pointer, v[1].pointer,
                    Double(momentum), v[2].pointer, v[3].pointer, Double(epsilon),
                    mean.pointer, invStd.pointer),
                "cudnnBatchNormalizationForwardTraining(\(input.shape), momentum \(momentum), epsilon \(epsilon))")
            try afterCall("cudnnBatchNormalizationForwardTraining")
        }
        try launch(
            .batchNormInvStdToVariance, count: channels,
            [.pointer(invStd.address), .pointer(variance.address), .float32(epsilon), .count(channels)])
        let statistics = BatchNormStatistics(mean: wrap(mean, [channels]), variance: wrap(variance, [channels]))
        return (wrap(out, input.shape), statistics)
    }

    public func batchNormInference(
        _ input: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor,
        epsilon: Float
    ) throws -> Tensor {
        let (x, v) = try operands.batchNormInference(input, scale: scale, shift: shift, mean: mean, variance: variance)
        let dims = try BatchNormGeometry.dims(input.shape)
        try prepare()
        let out = try allocate(input.shape)
        let api = cudnn
        try withCuDNN { handle, descriptors in
            let d = try descriptors.batchNorm(dims)
            var one: Float = 1, zero: Float = 0
            try api.check(
                api.cudnnBatchNormalizationForwardInference(
                    handle, CuDNN.batchNormSpatial, &one, &zero, d.x, x.pointer, d.x, out.pointer, d.parameters, v[0].pointer, v[1].pointer,
                    v[2].pointer, v[3].pointer, Double(epsilon)),
                "cudnnBatchNormalizationForwardInference(\(input.shape), epsilon \(epsilon))")
            try afterCall("cudnnBatchNormalizationForwardInference")
        }
        return wrap(out, input.shape)
    }

    public func batchNormBackward(
        _ outputGradient: Tensor, input: Tensor, scale: Tensor, statistics: BatchNormStatistics,
        epsilon: Float
    ) throws -> (input: Tensor, scale: Tensor, shift: Tensor) {
        let (dy, x, v) = try operands.batchNormBackward(outputGradient, input: input, scale: scale, statistics: statistics)
        let dims = try BatchNormGeometry.dims(input.shape)
        try prepare()
        let channels = input.shape[1]
        if BatchNormGeometry.valuesPerChannel(input.shape) == 1 {
            // x̂ = 0: the input and scale gradients are zero, the shift gradient is the output gradient.
            let dx = try allocate(input.shape), dScale = try allocate([channels]), dShift = try allocate([channels])
            try fillZeros(dx, count: channels)
            try fillZeros(dScale, count: channels)
            try copyBytes(from: dy, to: dShift, count: channels, "batch normalization shift gradient")
            return (wrap(dx, input.shape), wrap(dScale, [channels]), wrap(dShift, [channels]))
        }
        let invStd = try allocate([channels])
        try launch(
            .batchNormVarianceToInvStd, count: channels,
            [.pointer(v[2].address), .pointer(invStd.address), .float32(epsilon), .count(channels)])
        let dx = try allocate(input.shape)
        let dScale = try allocate([channels])
        let dShift = try allocate([channels])
        let api = cudnn
        try withCuDNN { handle, descriptors in
            let d = try descriptors.batchNorm(dims)
            var alphaData: Float = 1, betaData: Float = 0, alphaParameters: Float = 1, betaParameters: Float = 0
            try api.check(
                api.cudnnBatchNormalizationBackward(
                    handle, CuDNN.batchNormSpatial, &alphaData, &betaData, &alphaParameters, &betaParameters, d.x, x.pointer, d.x,
                    dy.pointer, d.x, dx.pointer,
                    d.parameters, v[0].pointer, dScale.pointer, dShift.pointer, Double(epsilon), v[1].pointer, invStd.pointer),
                "cudnnBatchNormalizationBackward(\(input.shape), epsilon \(epsilon))")
            try afterCall("cudnnBatchNormalizationBackward")
        }
        return (wrap(dx, input.shape), wrap(dScale, [channels]), wrap(dShift, [channels]))
    }
}
