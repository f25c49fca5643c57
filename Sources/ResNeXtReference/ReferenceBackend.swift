import ResNeXtCore

/// A tensor's float64 values on the reference backend (mutable: running statistics and SGD update in place).
final class ReferenceStorage: BackendStorage, @unchecked Sendable {
    var value: RefTensor
    let device = Device.cpu
    init(_ value: RefTensor) { self.value = value }
}

/// The float64 reference as a ``Backend``: the first link of the oracle chain (float64 reference → CPU →
/// CUDA). The conformance suite checks the CPU backend against it and the CUDA backend against the CPU.
/// Slow by design; operands are checked as on every backend (``Operands``), so bad calls throw the same
/// errors.
public final class ReferenceBackend: Backend, @unchecked Sendable {
    public let device = Device.cpu
    public let name = "float64 reference"
    let operands = Operands<ReferenceStorage>(device: .cpu)
    public init() {}

    func tensor(_ r: RefTensor) -> Tensor { Tensor(shape: Shape(r.shape), storage: ReferenceStorage(r)) }

    // MARK: Memory

    public func upload(_ values: [Float], shape: Shape) throws -> Tensor {
        tensor(RefTensor(shape: try operands.upload(count: values.count, shape: shape).dims, floats: values))
    }
    public func download(_ t: Tensor) throws -> [Float] { try operands.download(t).value.floats }
    public func zeros(_ shape: Shape) throws -> Tensor { tensor(RefTensor(zeros: try shape.validated().dims)) }
    public func optimizedLayout(_ t: Tensor) throws -> Tensor {
        _ = try operands.optimizedLayout(t)
        return t
    }
    public func reshape(_ t: Tensor, to shape: Shape) throws -> Tensor {
        let (s, shape) = try operands.reshape(t, to: shape)
        return tensor(RefTensor(shape: shape.dims, data: s.value.data))
    }
    public var liveAllocations: (count: Int, bytes: Int) { (0, 0) }

    // MARK: Convolution

    public func convolution2D(_ input: Tensor, weight: Tensor, bias: Tensor?, _ p: Convolution2DParameters) throws -> Tensor {
        let o = try operands.convolution2D(input, weight: weight, bias: bias, p)
        return tensor(
            Reference.conv2d(
                o.input.value, weight: o.weight.value, bias: o.bias?.value,
                strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW, groups: p.groups))
    }
    public func convolution2DBackwardData(_ dy: Tensor, weight: Tensor, inputShape: Shape, _ p: Convolution2DParameters) throws -> Tensor {
        let o = try operands.convolution2DBackwardData(dy, weight: weight, inputShape: inputShape, p)
        return tensor(
            Reference.conv2dBackwardData(
                o.outputGradient.value, weight: o.weight.value, inputShape: o.inputShape.dims,
                strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW, groups: p.groups))
    }
    public func convolution2DBackwardWeights(
        _ dy: Tensor, input: Tensor, weightShape: Shape, withBias: Bool,
        _ p: Convolution2DParameters
    ) throws -> (weight: Tensor, bias: Tensor?) {
        let o = try operands.convolution2DBackwardWeights(dy, input: input, weightShape: weightShape, p)
        let g = Reference.conv2dBackwardWeights(
            o.outputGradient.value, input: o.input.value, weightShape: o.weightShape.dims,
            strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW, groups: p.groups)
        return (tensor(g.weight), withBias ? tensor(g.bias) : nil)
    }

    // MARK: Batch normalization

    public func batchNormTraining(
        _ input: Tensor, scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor,
        momentum: Float, epsilon: Float
    ) throws -> (output: Tensor, statistics: BatchNormStatistics) {
        let (x, v) = try operands.batchNormTraining(
            input, scale: scale, shift: shift, runningMean: runningMean, runningVariance: runningVariance)
        let r = Reference.batchNormTraining(
            x.value, gamma: v[0].value, beta: v[1].value, runningMean: v[2].value, runningVar: v[3].value,
            momentum: Double(momentum), eps: Double(epsilon))
        v[2].value = r.runningMean
        v[3].value = r.runningVar
        return (tensor(r.output), BatchNormStatistics(mean: tensor(r.mean), variance: tensor(r.variance)))
    }
    public func batchNormInference(_ input: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) throws
        -> Tensor
    {
        let (x, v) = try operands.batchNormInference(input, scale: scale, shift: shift, mean: mean, variance: variance)
        return tensor(
            Reference.batchNormInference(
                x.value, gamma: v[0].value, beta: v[1].value, mean: v[2].value, variance: v[3].value,
                eps: Double(epsilon)))
    }
    public func batchNormBackward(
        _ dy: Tensor, input: Tensor, scale: Tensor, statistics: BatchNormStatistics,
        epsilon: Float
    ) throws -> (input: Tensor, scale: Tensor, shift: Tensor) {
        let o = try operands.batchNormBackward(dy, input: input, scale: scale, statistics: statistics)
        let v = o.vectors
        let g = Reference.batchNormBackward(
            o.outputGradient.value, x: o.input.value, gamma: v[0].value, mean: v[1].value, variance: v[2].value, eps: Double(epsilon))
        return (tensor(g.input), tensor(g.gamma), tensor(g.beta))
    }

    // MARK: Element-wise

    public func relu(_ input: Tensor) throws -> Tensor { tensor(Reference.relu(try operands.relu(input).value)) }
    public func reluBackward(_ dy: Tensor, output: Tensor) throws -> Tensor {
        let o = try operands.reluBackward(dy, output: output)
        return tensor(Reference.reluBackward(o.outputGradient.value, output: o.output.value))
    }
    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let o = try operands.add(a, b)
        return tensor(Reference.add(o.a.value, o.b.value))
    }

    // MARK: Pooling (max pooling's "indices" are its input: the reference backward recomputes the argmax)

    public func maxPool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> MaxPoolResult {
        let x = try operands.maxPool2D(input, p).input.value
        let y = Reference.maxPool2d(
            x, kernelH: p.kernelH, kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW,
            padH: p.padH, padW: p.padW)
        return MaxPoolResult(output: tensor(y), indices: input)
    }
    public func maxPool2DBackward(_ dy: Tensor, forward: MaxPoolResult, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor {
        let o = try operands.maxPool2DBackward(dy, forward: forward, inputShape: inputShape, p, indexType: .float32) { input in
            input.value.shape == inputShape.dims ? input.value : nil
        }
        return tensor(
            Reference.maxPool2dBackward(
                o.outputGradient.value, input: o.record,
                kernelH: p.kernelH, kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW))
    }
    public func averagePool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> Tensor {
        let x = try operands.averagePool2D(input, p).input.value
        return tensor(
            Reference.avgPool2d(
                x, kernelH: p.kernelH, kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW,
                padH: p.padH, padW: p.padW, countIncludePad: p.countIncludesPadding))
    }
    public func averagePool2DBackward(_ dy: Tensor, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor {
        let o = try operands.averagePool2DBackward(dy, inputShape: inputShape, p)
        return tensor(
            Reference.avgPool2dBackward(
                o.outputGradient.value, inputShape: o.inputShape.dims, kernelH: p.kernelH,
                kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW,
                countIncludePad: p.countIncludesPadding))
    }

    // MARK: Linear

    public func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        let o = try operands.linear(input, weight: weight, bias: bias)
        return tensor(Reference.linear(o.input.value, weight: o.weight.value, bias: o.bias?.value))
    }
    public func linearBackwardData(_ dy: Tensor, weight: Tensor) throws -> Tensor {
        let o = try operands.linearBackwardData(dy, weight: weight)
        return tensor(Reference.linearBackwardData(o.outputGradient.value, weight: o.weight.value))
    }
    public func linearBackwardWeights(_ dy: Tensor, input: Tensor, withBias: Bool) throws -> (weight: Tensor, bias: Tensor?) {
        let o = try operands.linearBackwardWeights(dy, input: input)
        let g = Reference.linearBackwardWeights(o.outputGradient.value, input: o.input.value)
        return (tensor(g.weight), withBias ? tensor(g.bias) : nil)
    }

    // MARK: Channels

    public func concatenateChannels(_ inputs: [Tensor]) throws -> Tensor {
        tensor(Reference.concatChannels(try operands.concatenateChannels(inputs).inputs.map(\.value)))
    }
    public func splitChannels(_ input: Tensor, sizes: [Int]) throws -> [Tensor] {
        Reference.splitChannels(try operands.splitChannels(input, sizes: sizes).value, sizes: sizes).map(tensor)
    }

    // MARK: Loss, metrics, optimizer

    public func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) throws -> CrossEntropyResult {
        let x = try operands.softmaxCrossEntropy(logits, labels: labels).logits.value
        let r = Reference.softmaxCrossEntropy(x, labels: labels.map(Int.init))
        return CrossEntropyResult(loss: Float(r.loss), gradient: tensor(r.gradient))
    }
    public func topKCorrect(_ logits: Tensor, labels: [Int32], ks: [Int]) throws -> [Int] {
        let (s, _, classes) = try operands.topKCorrect(logits, labels: labels, ks: ks)
        return ks.map { Reference.topKCorrect(s.value, labels: labels.map(Int.init), k: min($0, classes)) }
    }
    public func sgdStep(
        parameter: Tensor, gradient: Tensor, velocity: Tensor, learningRate: Float,
        _ h: SGDHyperparameters, isFirstStep: Bool
    ) throws {
        let o = try operands.sgdStep(parameter: parameter, gradient: gradient, velocity: velocity)
        let r = Reference.sgdStep(
            theta: o.parameter.value, grad: o.gradient.value, velocity: o.velocity.value,
            lr: Double(learningRate), momentum: Double(h.momentum), dampening: Double(h.dampening),
            weightDecay: Double(h.weightDecay), nesterov: h.nesterov, firstStep: isFirstStep)
        o.parameter.value = r.theta
        o.velocity.value = r.velocity
    }
}
