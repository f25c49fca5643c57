import ResNeXtCore

extension CUDABackend {
    public func sgdStep(
        parameter: Tensor, gradient: Tensor, velocity: Tensor, learningRate: Float,
        _ h: SGDHyperparameters, isFirstStep: Bool
    ) throws {
        let (theta, g, v) = try operands.sgdStep(parameter: parameter, gradient: gradient, velocity: velocity)
        try prepare()
        try launch(
            .sgdStep, count: parameter.elementCount,
            [
                .pointer(theta.address), .pointer(g.address), .pointer(v.address), .float32(learningRate), .float32(h.momentum),
                .float32(1 - h.dampening), .float32(h.weightDecay), .int32(h.nesterov ? 1 : 0), .int32(isFirstStep ? 1 : 0),
                .count(parameter.elementCount)
            ])
    }
}
