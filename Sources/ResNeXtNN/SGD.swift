import ResNeXtCore

/// Stochastic gradient descent as torch `optim.sgd` in the original (Nesterov momentum 0.9, dampening 0,
/// weight decay on every parameter, velocity = gradient on the first step).
public final class SGD {
    public let backend: any Backend
    public let parameters: [(name: String, parameter: Parameter)]
    public var hyperparameters: SGDHyperparameters
    /// Momentum buffers, one per parameter, in `parameters` order.
    public private(set) var velocities: [Tensor]
    /// Steps taken so far (torch's `evalCounter`).
    public private(set) var stepCount = 0

    public init(
        _ backend: any Backend, parameters: [(name: String, parameter: Parameter)],
        _ hyperparameters: SGDHyperparameters = SGDHyperparameters()
    ) throws {
        self.backend = backend
        self.parameters = parameters
        self.hyperparameters = hyperparameters
        self.velocities = try parameters.map { try backend.zeros($0.parameter.value.shape) }
    }

    /// Updates every parameter in place, in one backend call (one launch on a GPU); nothing is updated
    /// when a parameter has no gradient.
    public func step(learningRate: Float) throws {
        let gradients = try parameters.map { name, p in
            guard let g = p.gradient else {
                throw ResNeXtError.invalidArgument("parameter \(name) has no gradient; run backward before step")
            }
            return g
        }
        try backend.sgdStep(
            parameters: parameters.map(\.parameter.value), gradients: gradients, velocities: velocities, learningRate: learningRate,
            hyperparameters, isFirstStep: stepCount == 0)
        stepCount += 1
    }

    /// Restores momentum buffers and the step count (exact resume).
    public func restore(velocities: [Tensor], stepCount: Int) throws {
        guard velocities.count == parameters.count,
            zip(velocities, parameters).allSatisfy({ $0.shape == $1.parameter.value.shape })
        else {
            throw ResNeXtError.shapeMismatch("restored SGD state does not match the model's \(parameters.count) parameters")
        }
        self.velocities = velocities
        self.stepCount = stepCount
    }
}
