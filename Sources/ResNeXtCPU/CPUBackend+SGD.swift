import ResNeXtCore

extension CPUBackend {
    public func sgdStep(
        parameter: Tensor, gradient: Tensor, velocity: Tensor, learningRate: Float,
        _ h: SGDHyperparameters, isFirstStep: Bool
    ) throws {
        let (theta, gradientStorage, v) = try operands.sgdStep(parameter: parameter, gradient: gradient, velocity: velocity)
        let plainDesc = try MemoryDesc.plain(parameter.shape.dims)
        guard theta.desc.isEqual(plainDesc), v.desc.isEqual(plainDesc) else {
            throw ResNeXtError.invalidArgument(
                "SGD updates parameters and velocities in place; they must be plain tensors made by upload or zeros")
        }
        let g = try plain(gradientStorage, gradient.shape)
        let (mu, decay, keep) = (h.momentum, h.weightDecay, 1 - h.dampening)
        let nesterov = h.nesterov
        parallelChunks(parameter.elementCount) { range in
            let p = theta.floats, gp = g.floats, vp = v.floats
            for i in range {
                let grad = gp[i] + decay * p[i]
                let vel = isFirstStep ? grad : mu * vp[i] + keep * grad
                vp[i] = vel
                p[i] -= learningRate * (nesterov ? grad + mu * vel : vel)
            }
        }
    }
}
