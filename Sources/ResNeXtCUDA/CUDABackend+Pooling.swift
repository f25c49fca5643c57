import ResNeXtCore

extension CUDABackend {
    /// The geometry arguments the pooling kernels share, for input `[N, C, H, W]` and output `[N, C, OH, OW]`.
    func poolArguments(input: Shape, output: Shape, _ p: Pool2DParameters) -> [KernelArgument] {
        [
            .count(input[0] * input[1]), .int(input[2]), .int(input[3]), .int(output[2]), .int(output[3]),
            .int(p.kernelH), .int(p.kernelW), .int(p.strideH), .int(p.strideW), .int(p.padH), .int(p.padW)
        ]
    }

    /// Pooling kernels index one plane with 32-bit integers.
    private func checkPlaneSize(_ shape: Shape) throws {
        guard shape[2] * shape[3] < Int(Int32.max) else {
            throw ResNeXtError.unsupported("pooling input \(shape) has planes larger than 2^31 elements")
        }
    }

    /// Max pooling; the indices (one int32 per output element: the position of the maximum in its
    /// `H × W` plane) are stored as a `.uint8` tensor of 4 bytes per output element.
    public func maxPool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> MaxPoolResult {
        let (x, outShape) = try operands.maxPool2D(input, p)
        try checkPlaneSize(input.shape)
        try prepare()
        let out = try allocate(outShape)
        let indexBytes = outShape.elementCount * 4
        let indices = CUDAStorage(
            block: try allocator.allocate(indexBytes), maxPoolRecord: MaxPoolIndexRecord(inputShape: input.shape, parameters: p))
        try launch(
            .maxPoolForward, count: outShape.elementCount,
            [.pointer(x.address), .pointer(out.address), .pointer(indices.address)] + poolArguments(input: input.shape, output: outShape, p)
        )
        return MaxPoolResult(output: wrap(out, outShape), indices: wrap(indices, [indexBytes], dtype: .uint8))
    }

    public func maxPool2DBackward(
        _ outputGradient: Tensor, forward: MaxPoolResult, inputShape: Shape,
        _ p: Pool2DParameters
    ) throws -> Tensor {
        let (dy, indices, outShape) = try operands.maxPool2DBackward(outputGradient, forward: forward, inputShape: inputShape, p)
        try prepare()
        let dx = try allocate(inputShape)
        try launch(
            .maxPoolBackward, count: inputShape.elementCount,
            [.pointer(dy.address), .pointer(indices.address), .pointer(dx.address)] + poolArguments(input: inputShape, output: outShape, p))
        return wrap(dx, inputShape)
    }

    public func averagePool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> Tensor {
        let (x, outShape) = try operands.averagePool2D(input, p)
        try checkPlaneSize(input.shape)
        try prepare()
        let out = try allocate(outShape)
        try launch(
            .averagePoolForward, count: outShape.elementCount,
            [.pointer(x.address), .pointer(out.address)] + poolArguments(input: input.shape, output: outShape, p)
                + [.int32(p.countIncludesPadding ? 1 : 0)])
        return wrap(out, outShape)
    }

    public func averagePool2DBackward(_ outputGradient: Tensor, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor {
        let (dy, inputShape, outShape) = try operands.averagePool2DBackward(outputGradient, inputShape: inputShape, p)
        try checkPlaneSize(inputShape)
        try prepare()
        let dx = try allocate(inputShape)
        try launch(
            .averagePoolBackward, count: inputShape.elementCount,
            [.pointer(dy.address), .pointer(dx.address)] + poolArguments(input: inputShape, output: outShape, p)
                + [.int32(p.countIncludesPadding ? 1 : 0)])
        return wrap(dx, inputShape)
    }
}
