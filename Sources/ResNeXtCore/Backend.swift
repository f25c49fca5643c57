/// Batch statistics that training-mode batch normalization computed and its backward pass needs.
public struct BatchNormStatistics: Sendable {
    /// Per-channel batch mean, shape `[C]`.
    public let mean: Tensor
    /// Per-channel biased batch variance (divided by N·H·W), shape `[C]`.
    public let variance: Tensor
    public init(mean: Tensor, variance: Tensor) { self.mean = mean; self.variance = variance }
}

/// Max pooling's output and what its backward pass needs (an opaque, backend-specific record of where
/// each maximum came from).
public struct MaxPoolResult: Sendable {
    public let output: Tensor
    public let indices: Tensor
    public init(output: Tensor, indices: Tensor) { self.output = output; self.indices = indices }
}

/// Softmax cross-entropy averaged over the batch, and its gradient with respect to the logits.
public struct CrossEntropyResult: Sendable {
    public let loss: Float
    public let gradient: Tensor
    public init(loss: Float, gradient: Tensor) { self.loss = loss; self.gradient = gradient }
}

/// Bytes a backend's tensors hold, now and at their peak since the backend began or the last
/// ``Backend/resetPeakMemory()`` (the high-water mark PyTorch reports as `max_memory_allocated`), and the
/// bytes it holds from the device including what its caches keep (`max_memory_reserved`).
public struct MemoryStatistics: Sendable, Equatable, CustomStringConvertible {
    public var allocatedBytes: Int
    public var peakAllocatedBytes: Int
    public var reservedBytes: Int
    public var peakReservedBytes: Int

    public init(allocatedBytes: Int, peakAllocatedBytes: Int, reservedBytes: Int, peakReservedBytes: Int) {
        self.allocatedBytes = allocatedBytes
        self.peakAllocatedBytes = peakAllocatedBytes
        self.reservedBytes = reservedBytes
        self.peakReservedBytes = peakReservedBytes
    }

    public var description: String {
        "\(allocatedBytes) bytes allocated (peak \(peakAllocatedBytes)), \(reservedBytes) reserved (peak \(peakReservedBytes))"
    }
}

/// The operations a ResNet/ResNeXt needs, forward and backward, on one device.
///
/// Every backend implements every operation. Tensors are logically NCHW (`[N, C, H, W]`), vectors `[C]`,
/// matrices `[N, K]`; each backend stores them in the physical layout it prefers and converts only at
/// the edges (``upload(_:shape:)`` and ``download(_:)``). Operations throw ``ResNeXtError`` for tensors
/// of the wrong shape or device, never crash; every backend checks its operands with ``Operands``, so the
/// same bad call throws the same error on each.
public protocol Backend: AnyObject, Sendable {
    /// The device this backend computes on.
    var device: Device { get }
    /// A short human-readable name ("oneDNN 2.6.3 on cpu, 2 threads").
    var name: String { get }

    // MARK: Memory

    /// A tensor holding `values` (row-major, NCHW) on this backend's device.
    func upload(_ values: [Float], shape: Shape) throws -> Tensor
    /// The tensor's values in row-major logical order.
    func download(_ tensor: Tensor) throws -> [Float]
    /// A new tensor of zeros.
    func zeros(_ shape: Shape) throws -> Tensor
    /// The same tensor in the layout this backend computes fastest in (for a batch about to enter a
    /// network); backends without layout choices return it unchanged.
    func optimizedLayout(_ tensor: Tensor) throws -> Tensor
    /// The same values under another shape with the same element count (row-major order).
    func reshape(_ tensor: Tensor, to shape: Shape) throws -> Tensor
    /// Number of live allocations and bytes this backend holds (for leak checks and memory reports).
    var liveAllocations: (count: Int, bytes: Int) { get }
    /// Bytes held by tensors now and at their peak, and reserved from the device (see ``MemoryStatistics``).
    var memoryStatistics: MemoryStatistics { get }
    /// Starts a new peak at the current bytes (before a measured run, as `torch.cuda.reset_peak_memory_stats`).
    func resetPeakMemory()

    // MARK: Convolution (weights `[O, C/groups, KH, KW]`, optional bias `[O]`)

    func convolution2D(_ input: Tensor, weight: Tensor, bias: Tensor?, _ p: Convolution2DParameters) throws -> Tensor
    /// Gradient with respect to the input, whose shape is `inputShape`.
    func convolution2DBackwardData(_ outputGradient: Tensor, weight: Tensor, inputShape: Shape, _ p: Convolution2DParameters) throws
        -> Tensor
    /// Gradients with respect to the weight (and bias, when `withBias`).
    func convolution2DBackwardWeights(
        _ outputGradient: Tensor, input: Tensor, weightShape: Shape, withBias: Bool, _ p: Convolution2DParameters
    ) throws -> (weight: Tensor, bias: Tensor?)

    // MARK: Batch normalization (per channel of `[N, C, H, W]`; scale γ, shift β, statistics `[C]`)

    /// Normalizes with the batch mean and biased variance, and updates `runningMean`/`runningVariance`
    /// in place: `running = (1 − momentum)·running + momentum·batch`, using the unbiased variance
    /// (no update when N·H·W is 1).
    func batchNormTraining(
        _ input: Tensor, scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor,
        momentum: Float, epsilon: Float
    ) throws -> (output: Tensor, statistics: BatchNormStatistics)
    /// Normalizes with the given (running) statistics.
    func batchNormInference(_ input: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) throws -> Tensor
    /// Gradients of training-mode batch normalization with respect to input, scale and shift.
    func batchNormBackward(
        _ outputGradient: Tensor, input: Tensor, scale: Tensor, statistics: BatchNormStatistics,
        epsilon: Float
    ) throws -> (input: Tensor, scale: Tensor, shift: Tensor)

    // MARK: Element-wise

    func relu(_ input: Tensor) throws -> Tensor
    /// ReLU's backward from its output: passes the gradient where `output > 0`.
    func reluBackward(_ outputGradient: Tensor, output: Tensor) throws -> Tensor
    /// `a + b` for tensors of the same shape (residual additions, gradient accumulation).
    func add(_ a: Tensor, _ b: Tensor) throws -> Tensor

    // MARK: Pooling

    func maxPool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> MaxPoolResult
    func maxPool2DBackward(_ outputGradient: Tensor, forward: MaxPoolResult, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor
    func averagePool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> Tensor
    func averagePool2DBackward(_ outputGradient: Tensor, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor

    // MARK: Linear (`x [N, K]`, `weight [O, K]`, `bias [O]`, `y = x·weightᵀ + bias`)

    func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor
    func linearBackwardData(_ outputGradient: Tensor, weight: Tensor) throws -> Tensor
    func linearBackwardWeights(_ outputGradient: Tensor, input: Tensor, withBias: Bool) throws -> (weight: Tensor, bias: Tensor?)

    // MARK: Channel concatenation (type-B bottlenecks, type-A shortcuts)

    func concatenateChannels(_ inputs: [Tensor]) throws -> Tensor
    /// Splits `[N, C, H, W]` along channels into pieces of the given channel counts (summing to C).
    func splitChannels(_ input: Tensor, sizes: [Int]) throws -> [Tensor]

    // MARK: Loss and metrics (labels are 0-based class indices)

    /// Mean over the batch of `−log softmax(logits)[label]`, and its gradient.
    func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) throws -> CrossEntropyResult
    /// For each k in `ks`, how many rows have their label among the k largest logits (k is clamped to the
    /// number of classes, so top-5 works with fewer than 5 classes). Ties rank the label first only when
    /// strictly larger values number fewer than k. NaN ranks above every number (as in `torch.topk`), so a row
    /// whose label logit is NaN is never correct: a diverged model cannot score well.
    func topKCorrect(_ logits: Tensor, labels: [Int32], ks: [Int]) throws -> [Int]

    // MARK: Optimizer

    /// One SGD step in place on `parameter` and `velocity` (same shape): `g = gradient + weightDecay·θ`;
    /// `v = g` on the first step, else `v = momentum·v + (1 − dampening)·g`; `d = g + momentum·v` (Nesterov)
    /// or `d = v`; `θ −= learningRate·d`.
    func sgdStep(
        parameter: Tensor, gradient: Tensor, velocity: Tensor, learningRate: Float,
        _ h: SGDHyperparameters, isFirstStep: Bool) throws
    /// The same step on every parameter at once (a GPU backend launches one kernel for all): as many
    /// gradients and velocities as parameters, each triple as in the single-tensor step, all checked before
    /// anything is updated.
    func sgdStep(
        parameters: [Tensor], gradients: [Tensor], velocities: [Tensor], learningRate: Float,
        _ h: SGDHyperparameters, isFirstStep: Bool) throws
}

extension Backend {
    /// For backends that keep no peak: the live bytes as both current and peak.
    public var memoryStatistics: MemoryStatistics {
        let bytes = liveAllocations.bytes
        return MemoryStatistics(allocatedBytes: bytes, peakAllocatedBytes: bytes, reservedBytes: bytes, peakReservedBytes: bytes)
    }

    public func resetPeakMemory() {}

    /// One single-tensor step per parameter, after checking the lists' lengths.
    public func sgdStep(
        parameters: [Tensor], gradients: [Tensor], velocities: [Tensor], learningRate: Float,
        _ h: SGDHyperparameters, isFirstStep: Bool
    ) throws {
        try checkSGDLists(parameters.count, gradients.count, velocities.count)
        for i in parameters.indices {
            try sgdStep(
                parameter: parameters[i], gradient: gradients[i], velocity: velocities[i], learningRate: learningRate, h,
                isFirstStep: isFirstStep)
        }
    }

    /// A tensor filled with `value`.
    public func full(_ shape: Shape, value: Float) throws -> Tensor {
        try upload([Float](repeating: value, count: try shape.validated().elementCount), shape: shape)
    }
}

/// The lists of a many-parameter SGD step must be equally long (the same error on every backend).
func checkSGDLists(_ parameters: Int, _ gradients: Int, _ velocities: Int) throws {
    guard gradients == parameters, velocities == parameters else {
        throw ResNeXtError.invalidArgument(
            "SGD step over \(parameters) parameters with \(gradients) gradients and \(velocities) velocities")
    }
}
