import ResNeXtCore

/// Batch normalization over the channels of `[N, C, H, W]` (γ = 1, β = 0, running mean 0, running
/// variance 1 at start; eps 1e-5, momentum 0.1 — the original's and PyTorch's defaults).
public final class BatchNorm2d: Layer {
    public let backend: any Backend
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVariance: Parameter
    public let epsilon: Float
    public let momentum: Float
    public var isTraining = true
    /// Synchronized batch norm: training-mode statistics over the whole batch of every rank of a
    /// data-parallel job instead of this rank's slice (see ``SynchronizedBatchNorm``).
    public var synchronization: SynchronizedBatchNorm?
    private var saved: (input: Tensor, statistics: BatchNormStatistics)?

    public init(_ backend: any Backend, channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) throws {
        guard channels > 0 else { throw ResNeXtError.invalidArgument("BatchNorm2d needs a positive channel count, got \(channels)") }
        self.backend = backend
        self.epsilon = epsilon
        self.momentum = momentum
        weight = Parameter(try backend.full([channels], value: 1))
        bias = Parameter(try backend.zeros([channels]))
        runningMean = Parameter(try backend.zeros([channels]), trainable: false)
        runningVariance = Parameter(try backend.full([channels], value: 1), trainable: false)
    }

    public var ownParameters: [(name: String, parameter: Parameter)] {
        [("weight", weight), ("bias", bias), ("running_mean", runningMean), ("running_var", runningVariance)]
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        guard isTraining else {
            saved = nil
            return try backend.batchNormInference(
                x, scale: weight.value, shift: bias.value, mean: runningMean.value,
                variance: runningVariance.value, epsilon: epsilon)
        }
        if let synchronization {
            let stats = try synchronization.forward(x, self)
            saved = (x, stats)
            return try backend.batchNormInference(
                x, scale: weight.value, shift: bias.value, mean: stats.mean, variance: stats.variance, epsilon: epsilon)
        }
        let (y, stats) = try backend.batchNormTraining(
            x, scale: weight.value, shift: bias.value, runningMean: runningMean.value,
            runningVariance: runningVariance.value, momentum: momentum, epsilon: epsilon)
        saved = (x, stats)
        return y
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let (x, stats) = try ResNeXtNN.saved(saved, "BatchNorm2d")
        saved = nil
        let grads = try backend.batchNormBackward(dy, input: x, scale: weight.value, statistics: stats, epsilon: epsilon)
        let input = try synchronization?.backward(dy, grads, input: x, statistics: stats, self) ?? grads.input
        try weight.accumulate(grads.scale, on: backend)
        try bias.accumulate(grads.shift, on: backend)
        return input
    }
}
