/// A backend's tensor storage type: what ``Operands`` casts an operation's tensors to.
public protocol BackendStorage: TensorStorage {
    /// Throws unless this storage can back `tensor` as it claims (checked after the device, element type
    /// and storage type; the CUDA backend refuses a tensor larger than its device block).
    func checkBacks(_ tensor: Tensor, _ what: @autoclosure () -> String) throws
}

extension BackendStorage {
    public func checkBacks(_ tensor: Tensor, _ what: @autoclosure () -> String) throws {}
}

/// The checks every backend makes on an operation's operands before computing, so that a bad call
/// fails the same way (the same error and message) on every backend: shapes (``ShapeRules`` and the
/// geometry of the parameter types), then each tensor's device, element type and storage, in one order.
/// Each operation returns its operands' storages and the shapes it computed.
///
/// What only one backend needs (layouts, in-place tensors that must be plain, the 32-bit sizes of the
/// NVIDIA libraries) it checks itself, after these.
public struct Operands<Storage: BackendStorage>: Sendable {
    /// The device the backend computes on.
    public let device: Device

    public init(device: Device) { self.device = device }

    // MARK: Tensors

    /// The storage of `tensor`, or the error naming `what`: another device, another element type, or the
    /// storage of another backend.
    public func storage(_ tensor: Tensor, _ what: @autoclosure () -> String, dtype: DType = .float32) throws -> Storage {
        guard tensor.device == device else {
            throw ResNeXtError.wrongDevice("\(what()) is on \(tensor.device), but this backend computes on \(device)")
        }
        guard tensor.dtype == dtype else {
            throw ResNeXtError.unsupported("\(what()) has element type \(tensor.dtype); this operation takes \(dtype)")
        }
        guard let s = tensor.storage as? Storage else {
            throw ResNeXtError.wrongDevice("\(what()) has storage \(type(of: tensor.storage)), not this backend's")
        }
        try s.checkBacks(tensor, what())
        return s
    }

    // MARK: Memory

    public func upload(count: Int, shape: Shape) throws -> Shape {
        try ShapeRules.upload(count: count, shape: shape)
    }

    public func download(_ tensor: Tensor) throws -> Storage { try storage(tensor, "downloaded tensor") }

    public func optimizedLayout(_ tensor: Tensor) throws -> Storage { try storage(tensor, "tensor") }

    public func reshape(_ tensor: Tensor, to shape: Shape) throws -> (storage: Storage, shape: Shape) {
        let shape = try ShapeRules.reshape(tensor.shape, to: shape)
        return (try storage(tensor, "reshaped tensor"), shape)
    }

    // MARK: Convolution

    public func convolution2D(_ input: Tensor, weight: Tensor, bias: Tensor?, _ p: Convolution2DParameters) throws
        -> (input: Storage, weight: Storage, bias: Storage?, outputShape: Shape)
    {
        let outputShape = try p.outputShape(input: input.shape, weight: weight.shape)
        let x = try storage(input, "convolution input")
        let w = try storage(weight, "convolution weight")
        let b = try bias.map { bias in
            try bias.shape.requireEqual([weight.shape[0]], "convolution bias")
            return try storage(bias, "convolution bias")
        }
        return (x, w, b, outputShape)
    }

    public func convolution2DBackwardData(_ outputGradient: Tensor, weight: Tensor, inputShape: Shape, _ p: Convolution2DParameters) throws
        -> (outputGradient: Storage, weight: Storage, inputShape: Shape, outputShape: Shape)
    {
        let inputShape = try inputShape.validated("convolution input")
        let outputShape = try p.outputShape(input: inputShape, weight: weight.shape)
        try outputGradient.shape.requireEqual(outputShape, "convolution output gradient")
        let dy = try storage(outputGradient, "convolution output gradient")
        return (dy, try storage(weight, "convolution weight"), inputShape, outputShape)
    }

    public func convolution2DBackwardWeights(_ outputGradient: Tensor, input: Tensor, weightShape: Shape, _ p: Convolution2DParameters)
        throws
        -> (outputGradient: Storage, input: Storage, weightShape: Shape, outputShape: Shape)
    {
        let weightShape = try weightShape.validated("convolution weight")
        let outputShape = try p.outputShape(input: input.shape, weight: weightShape)
        try outputGradient.shape.requireEqual(outputShape, "convolution output gradient")
        let dy = try storage(outputGradient, "convolution output gradient")
        return (dy, try storage(input, "convolution input"), weightShape, outputShape)
    }

    // MARK: Batch normalization

    /// The input, then the `[C]` vectors in order (scale, shift, running mean, running variance).
    public func batchNormTraining(_ input: Tensor, scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor) throws
        -> (input: Storage, vectors: [Storage])
    {
        try batchNorm(input, [(scale, "scale"), (shift, "shift"), (runningMean, "running mean"), (runningVariance, "running variance")])
    }

    /// The input, then the `[C]` vectors in order (scale, shift, mean, variance).
    public func batchNormInference(_ input: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor) throws
        -> (input: Storage, vectors: [Storage])
    {
        try batchNorm(input, [(scale, "scale"), (shift, "shift"), (mean, "mean"), (variance, "variance")])
    }

    /// The output gradient, the input, then the `[C]` vectors in order (scale, batch mean, batch variance).
    public func batchNormBackward(_ outputGradient: Tensor, input: Tensor, scale: Tensor, statistics: BatchNormStatistics) throws
        -> (outputGradient: Storage, input: Storage, vectors: [Storage])
    {
        try outputGradient.shape.requireEqual(input.shape, "batch normalization output gradient")
        let (x, v) = try batchNorm(input, [(scale, "scale"), (statistics.mean, "batch mean"), (statistics.variance, "batch variance")])
        return (try storage(outputGradient, "batch normalization output gradient"), x, v)
    }

    /// An `[N, C, H, W]` or `[N, C]` input and its `[C]` per-channel vectors (shape, then storage, each in
    /// turn).
    public func batchNorm(_ input: Tensor, _ vectors: [(Tensor, String)]) throws -> (input: Storage, vectors: [Storage]) {
        let x = try storage(input, "batch normalization input")
        let channels = try ShapeRules.batchNormChannels(input.shape)
        let v = try vectors.map { t, what in
            try t.shape.requireEqual([channels], "batch normalization \(what)")
            return try storage(t, "batch normalization \(what)")
        }
        return (x, v)
    }

    // MARK: Element-wise

    public func relu(_ input: Tensor) throws -> Storage { try storage(input, "ReLU input") }

    public func reluBackward(_ outputGradient: Tensor, output: Tensor) throws -> (outputGradient: Storage, output: Storage) {
        try outputGradient.shape.requireEqual(output.shape, "ReLU output gradient")
        let y = try storage(output, "ReLU output")
        return (try storage(outputGradient, "ReLU output gradient"), y)
    }

    public func add(_ a: Tensor, _ b: Tensor) throws -> (a: Storage, b: Storage) {
        try b.shape.requireEqual(a.shape, "second addend")
        let x = try storage(a, "first addend")
        return (x, try storage(b, "second addend"))
    }

    // MARK: Pooling

    public func maxPool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> (input: Storage, outputShape: Shape) {
        let outputShape = try p.outputShape(input: input.shape)
        return (try storage(input, "max pooling input"), outputShape)
    }

    /// Max pooling's backward operands. The indices are the backend's record (of element type
    /// `indexType`) of where each maximum came from; `forwardRecord` returns what the backward pass needs
    /// from indices that ``Backend/maxPool2D(_:_:)`` returned for an input of `inputShape` pooled with
    /// `p`, or nil for any other indices.
    public func maxPool2DBackward<Record>(
        _ outputGradient: Tensor, forward: MaxPoolResult, inputShape: Shape, _ p: Pool2DParameters,
        indexType: DType, forwardRecord: (Storage) -> Record?
    ) throws
        -> (outputGradient: Storage, indices: Storage, record: Record, outputShape: Shape)
    {
        let outputShape = try p.outputShape(input: inputShape)
        try outputGradient.shape.requireEqual(outputShape, "max pooling output gradient")
        let indices = try storage(forward.indices, "max pooling indices", dtype: indexType)
        guard let record = forwardRecord(indices) else {
            throw ResNeXtError.invalidArgument(
                "max pooling backward needs the indices that maxPool2D returned for an input of shape \(inputShape)")
        }
        return (try storage(outputGradient, "max pooling output gradient"), indices, record, outputShape)
    }

    public func averagePool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> (input: Storage, outputShape: Shape) {
        let outputShape = try p.outputShape(input: input.shape)
        return (try storage(input, "average pooling input"), outputShape)
    }

    public func averagePool2DBackward(_ outputGradient: Tensor, inputShape: Shape, _ p: Pool2DParameters) throws
        -> (outputGradient: Storage, inputShape: Shape, outputShape: Shape)
    {
        let inputShape = try inputShape.validated("average pooling input")
        let outputShape = try p.outputShape(input: inputShape)
        try outputGradient.shape.requireEqual(outputShape, "average pooling output gradient")
        return (try storage(outputGradient, "average pooling output gradient"), inputShape, outputShape)
    }

    // MARK: Linear

    public func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) throws
        -> (input: Storage, weight: Storage, bias: Storage?, outputShape: Shape)
    {
        let outputShape = try ShapeRules.linear(input: input.shape, weight: weight.shape)
        try bias?.shape.requireEqual([weight.shape[0]], "linear bias")
        let x = try storage(input, "linear input")
        let w = try storage(weight, "linear weight")
        return (x, w, try bias.map { try storage($0, "linear bias") }, outputShape)
    }

    public func linearBackwardData(_ outputGradient: Tensor, weight: Tensor) throws
        -> (outputGradient: Storage, weight: Storage, inputShape: Shape)
    {
        let inputShape = try ShapeRules.linearBackwardData(outputGradient: outputGradient.shape, weight: weight.shape)
        let dy = try storage(outputGradient, "linear output gradient")
        return (dy, try storage(weight, "linear weight"), inputShape)
    }

    public func linearBackwardWeights(_ outputGradient: Tensor, input: Tensor) throws
        -> (outputGradient: Storage, input: Storage, weightShape: Shape)
    {
        let weightShape = try ShapeRules.linearBackwardWeights(outputGradient: outputGradient.shape, input: input.shape)
        let x = try storage(input, "linear input")
        return (try storage(outputGradient, "linear output gradient"), x, weightShape)
    }

    // MARK: Channels

    public func concatenateChannels(_ inputs: [Tensor]) throws -> (inputs: [Storage], outputShape: Shape) {
        let outputShape = try ShapeRules.concatenateChannels(inputs.map(\.shape))
        return (try inputs.enumerated().map { try storage($1, "concatenated tensor \($0)") }, outputShape)
    }

    public func splitChannels(_ input: Tensor, sizes: [Int]) throws -> Storage {
        try ShapeRules.splitChannels(input.shape, sizes: sizes)
        return try storage(input, "split tensor")
    }

    // MARK: Loss and metrics

    public func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) throws -> (logits: Storage, rows: Int, classes: Int) {
        let (rows, classes) = try ShapeRules.labels(logits.shape, labels)
        guard rows > 0 else { throw ResNeXtError.invalidArgument("cross-entropy of an empty batch") }
        return (try storage(logits, "logits"), rows, classes)
    }

    public func topKCorrect(_ logits: Tensor, labels: [Int32], ks: [Int]) throws -> (logits: Storage, rows: Int, classes: Int) {
        let (rows, classes) = try ShapeRules.labels(logits.shape, labels)
        guard ks.allSatisfy({ $0 > 0 }) else { throw ResNeXtError.invalidArgument("top-k needs positive k, got \(ks)") }
        return (try storage(logits, "logits"), rows, classes)
    }

    // MARK: Optimizer

    public func sgdStep(parameter: Tensor, gradient: Tensor, velocity: Tensor) throws
        -> (parameter: Storage, gradient: Storage, velocity: Storage)
    {
        try gradient.shape.requireEqual(parameter.shape, "SGD gradient")
        try velocity.shape.requireEqual(parameter.shape, "SGD velocity")
        let theta = try storage(parameter, "SGD parameter")
        let v = try storage(velocity, "SGD velocity")
        return (theta, try storage(gradient, "SGD gradient"), v)
    }

    /// The operands of a many-parameter SGD step: equally long lists, each triple checked as one step.
    public func sgdStep(parameters: [Tensor], gradients: [Tensor], velocities: [Tensor]) throws
        -> [(parameter: Storage, gradient: Storage, velocity: Storage)]
    {
        try checkSGDLists(parameters.count, gradients.count, velocities.count)
        return try parameters.indices.map { try sgdStep(parameter: parameters[$0], gradient: gradients[$0], velocity: velocities[$0]) }
    }
}
