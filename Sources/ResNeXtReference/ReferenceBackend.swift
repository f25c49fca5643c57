import ResNeXtCore

/// A tensor's float64 values on the reference backend (mutable: running statistics and SGD update in place).
final class ReferenceStorage: TensorStorage, @unchecked Sendable {
    var value: RefTensor
    let device = Device.cpu
    init(_ value: RefTensor) { self.value = value }
}

/// The float64 reference as a ``Backend``: the first link of the oracle chain (float64 reference → CPU →
/// CUDA). The conformance suite checks the CPU backend against it and the CUDA backend against the CPU.
/// Slow by design; shapes are checked with the same rules as every backend, so bad calls throw.
public final class ReferenceBackend: Backend, @unchecked Sendable {
    public let device = Device.cpu
    public let name = "float64 reference"
    public init() {}

    func ref(_ t: Tensor, _ what: @autoclosure () -> String) throws -> RefTensor {
        guard let s = t.storage as? ReferenceStorage else {
            throw ResNeXtError.wrongDevice("\(what()) has storage \(type(of: t.storage)), not the reference backend's")
        }
        return s.value
    }

    func tensor(_ r: RefTensor) -> Tensor { Tensor(shape: Shape(r.shape), storage: ReferenceStorage(r)) }

    func store(_ r: RefTensor, into t: Tensor) { (t.storage as? ReferenceStorage)?.value = r }

    // MARK: Memory

    public func upload(_ values: [Float], shape: Shape) throws -> Tensor {
        guard values.count == (try shape.validated()).elementCount else {
            throw ResNeXtError.shapeMismatch("\(values.count) values do not fill shape \(shape) (\(shape.elementCount) elements)")
        }
        return tensor(RefTensor(shape: shape.dims, floats: values))
    }
    public func download(_ t: Tensor) throws -> [Float] { try ref(t, "downloaded tensor").floats }
    public func zeros(_ shape: Shape) throws -> Tensor { tensor(RefTensor(zeros: try shape.validated().dims)) }
    public func copy(_ t: Tensor) throws -> Tensor { tensor(try ref(t, "copied tensor")) }
    public func optimizedLayout(_ t: Tensor) throws -> Tensor { t }
    public func reshape(_ t: Tensor, to shape: Shape) throws -> Tensor {
        let r = try ref(t, "reshaped tensor")
        guard try shape.validated().elementCount == r.count else {
            throw ResNeXtError.shapeMismatch("cannot reshape \(t.shape) (\(t.elementCount) elements) to \(shape)")
        }
        return tensor(RefTensor(shape: shape.dims, data: r.data))
    }
    public var liveAllocations: (count: Int, bytes: Int) { (0, 0) }

    // MARK: Convolution

    public func convolution2D(_ input: Tensor, weight: Tensor, bias: Tensor?, _ p: Convolution2DParameters) throws -> Tensor {
        _ = try p.outputShape(input: input.shape, weight: weight.shape)
        return tensor(Reference.conv2d(try ref(input, "input"), weight: try ref(weight, "weight"), bias: try bias.map { try ref($0, "bias") },
                                       strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW, groups: p.groups))
    }
    public func convolution2DBackwardData(_ dy: Tensor, weight: Tensor, inputShape: Shape, _ p: Convolution2DParameters) throws -> Tensor {
        _ = try p.outputShape(input: inputShape, weight: weight.shape)
        return tensor(Reference.conv2dBackwardData(try ref(dy, "output gradient"), weight: try ref(weight, "weight"), inputShape: inputShape.dims,
                                                   strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW, groups: p.groups))
    }
    public func convolution2DBackwardWeights(_ dy: Tensor, input: Tensor, weightShape: Shape, withBias: Bool,
                                             _ p: Convolution2DParameters) throws -> (weight: Tensor, bias: Tensor?) {
        _ = try p.outputShape(input: input.shape, weight: weightShape)
        let g = Reference.conv2dBackwardWeights(try ref(dy, "output gradient"), input: try ref(input, "input"), weightShape: weightShape.dims,
                                                strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW, groups: p.groups)
        return (tensor(g.weight), withBias ? tensor(g.bias) : nil)
    }

    // MARK: Batch normalization

    public func batchNormTraining(_ input: Tensor, scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor,
                                  momentum: Float, epsilon: Float) throws -> (output: Tensor, statistics: BatchNormStatistics) {
        let r = Reference.batchNormTraining(try ref(input, "input"), gamma: try ref(scale, "scale"), beta: try ref(shift, "shift"),
                                            runningMean: try ref(runningMean, "running mean"),
                                            runningVar: try ref(runningVariance, "running variance"),
                                            momentum: Double(momentum), eps: Double(epsilon))
        store(r.runningMean, into: runningMean)
        store(r.runningVar, into: runningVariance)
        return (tensor(r.output), BatchNormStatistics(mean: tensor(r.mean), variance: tensor(r.variance)))
    }
    public func batchNormInference(_ input: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) throws -> Tensor {
        tensor(Reference.batchNormInference(try ref(input, "input"), gamma: try ref(scale, "scale"), beta: try ref(shift, "shift"),
                                            mean: try ref(mean, "mean"), variance: try ref(variance, "variance"), eps: Double(epsilon)))
    }
    public func batchNormBackward(_ dy: Tensor, input: Tensor, scale: Tensor, statistics: BatchNormStatistics,
                                  epsilon: Float) throws -> (input: Tensor, scale: Tensor, shift: Tensor) {
        let g = Reference.batchNormBackward(try ref(dy, "output gradient"), x: try ref(input, "input"), gamma: try ref(scale, "scale"),
                                            mean: try ref(statistics.mean, "batch mean"), variance: try ref(statistics.variance, "batch variance"),
                                            eps: Double(epsilon))
        return (tensor(g.input), tensor(g.gamma), tensor(g.beta))
    }

    // MARK: Element-wise

    public func relu(_ input: Tensor) throws -> Tensor { tensor(Reference.relu(try ref(input, "input"))) }
    public func reluBackward(_ dy: Tensor, output: Tensor) throws -> Tensor {
        try requireSameShape(dy, output, "ReLU output gradient")
        return tensor(Reference.reluBackward(try ref(dy, "output gradient"), output: try ref(output, "output")))
    }
    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try requireSameShape(a, b, "addend")
        return tensor(Reference.add(try ref(a, "addend"), try ref(b, "addend")))
    }

    // MARK: Pooling (max pooling's "indices" are its input: the reference backward recomputes the argmax)

    public func maxPool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> MaxPoolResult {
        _ = try p.outputShape(input: input.shape)
        let y = Reference.maxPool2d(try ref(input, "input"), kernelH: p.kernelH, kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW,
                                    padH: p.padH, padW: p.padW)
        return MaxPoolResult(output: tensor(y), indices: input)
    }
    public func maxPool2DBackward(_ dy: Tensor, forward: MaxPoolResult, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor {
        tensor(Reference.maxPool2dBackward(try ref(dy, "output gradient"), input: try ref(forward.indices, "max pooling input"),
                                           kernelH: p.kernelH, kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW))
    }
    public func averagePool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> Tensor {
        _ = try p.outputShape(input: input.shape)
        return tensor(Reference.avgPool2d(try ref(input, "input"), kernelH: p.kernelH, kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW,
                                          padH: p.padH, padW: p.padW, countIncludePad: p.countIncludesPadding))
    }
    public func averagePool2DBackward(_ dy: Tensor, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor {
        _ = try p.outputShape(input: inputShape)
        return tensor(Reference.avgPool2dBackward(try ref(dy, "output gradient"), inputShape: inputShape.dims, kernelH: p.kernelH,
                                                  kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW,
                                                  countIncludePad: p.countIncludesPadding))
    }

    // MARK: Linear

    public func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        _ = try ShapeRules.linear(input: input.shape, weight: weight.shape)
        return tensor(Reference.linear(try ref(input, "input"), weight: try ref(weight, "weight"), bias: try bias.map { try ref($0, "bias") }))
    }
    public func linearBackwardData(_ dy: Tensor, weight: Tensor) throws -> Tensor {
        _ = try ShapeRules.linearBackwardData(outputGradient: dy.shape, weight: weight.shape)
        return tensor(Reference.linearBackwardData(try ref(dy, "output gradient"), weight: try ref(weight, "weight")))
    }
    public func linearBackwardWeights(_ dy: Tensor, input: Tensor, withBias: Bool) throws -> (weight: Tensor, bias: Tensor?) {
        _ = try ShapeRules.linearBackwardWeights(outputGradient: dy.shape, input: input.shape)
        let g = Reference.linearBackwardWeights(try ref(dy, "output gradient"), input: try ref(input, "input"))
        return (tensor(g.weight), withBias ? tensor(g.bias) : nil)
    }

    // MARK: Channels

    public func concatenateChannels(_ inputs: [Tensor]) throws -> Tensor {
        _ = try ShapeRules.concatenateChannels(inputs.map(\.shape))
        return tensor(Reference.concatChannels(try inputs.map { try ref($0, "concatenated tensor") }))
    }
    public func splitChannels(_ input: Tensor, sizes: [Int]) throws -> [Tensor] {
        try ShapeRules.splitChannels(input.shape, sizes: sizes)
        return Reference.splitChannels(try ref(input, "split tensor"), sizes: sizes).map(tensor)
    }

    // MARK: Loss, metrics, optimizer

    public func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) throws -> CrossEntropyResult {
        let (rows, _) = try ShapeRules.labels(logits.shape, labels)
        guard rows > 0 else { throw ResNeXtError.invalidArgument("cross-entropy of an empty batch") }
        let r = Reference.softmaxCrossEntropy(try ref(logits, "logits"), labels: labels.map(Int.init))
        return CrossEntropyResult(loss: Float(r.loss), gradient: tensor(r.gradient))
    }
    public func topKCorrect(_ logits: Tensor, labels: [Int32], ks: [Int]) throws -> [Int] {
        let (_, classes) = try ShapeRules.labels(logits.shape, labels)
        guard ks.allSatisfy({ $0 > 0 }) else { throw ResNeXtError.invalidArgument("top-k needs positive k, got \(ks)") }
        let r = try ref(logits, "logits")
        return ks.map { Reference.topKCorrect(r, labels: labels.map(Int.init), k: min($0, classes)) }
    }
    public func sgdStep(parameter: Tensor, gradient: Tensor, velocity: Tensor, learningRate: Float,
                        _ h: SGDHyperparameters, isFirstStep: Bool) throws {
        try requireSameShape(gradient, parameter, "gradient")
        try requireSameShape(velocity, parameter, "velocity")
        let r = Reference.sgdStep(theta: try ref(parameter, "parameter"), grad: try ref(gradient, "gradient"), velocity: try ref(velocity, "velocity"),
                                  lr: Double(learningRate), momentum: Double(h.momentum), dampening: Double(h.dampening),
                                  weightDecay: Double(h.weightDecay), nesterov: h.nesterov, firstStep: isFirstStep)
        store(r.theta, into: parameter)
        store(r.velocity, into: velocity)
    }
    public func scale(_ t: Tensor, by factor: Float) throws {
        let r = try ref(t, "scaled tensor")
        store(RefTensor(shape: r.shape, data: r.data.map { $0 * Double(factor) }), into: t)
    }

    private func requireSameShape(_ a: Tensor, _ b: Tensor, _ what: String) throws {
        guard a.shape == b.shape else { throw ResNeXtError.shapeMismatch("\(what) has shape \(a.shape), expected \(b.shape)") }
    }
}
