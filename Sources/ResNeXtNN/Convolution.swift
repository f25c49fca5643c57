import ResNeXtCore

/// 2-D convolution with groups, weights `[out, in / groups, k, k]`, optional bias.
public final class Conv2d: Layer {
    public let backend: any Backend
    public let weight: Parameter
    public let bias: Parameter?
    public let parameters: Convolution2DParameters
    public var isTraining = true
    private var input: Tensor?

    /// Weights are drawn from N(0, sqrt(2 / (k·k·out))) — the original's He fan-out initialisation.
    /// The bias, when present, starts at zero.
    public init(
        _ backend: any Backend, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
        padding: Int = 0, groups: Int = 1, bias: Bool = false, rng: inout RandomGenerator
    ) throws {
        guard inChannels > 0, outChannels > 0, kernelSize > 0, groups > 0 else {
            throw ResNeXtError.invalidArgument(
                "Conv2d needs positive channels, kernel size and groups; got in \(inChannels), out \(outChannels), kernel \(kernelSize), "
                    + "groups \(groups)"
            )
        }
        guard inChannels % groups == 0, outChannels % groups == 0 else {
            throw ResNeXtError.invalidArgument(
                "Conv2d groups \(groups) must divide both \(inChannels) input and \(outChannels) output channels")
        }
        self.backend = backend
        self.parameters = Convolution2DParameters(stride: stride, padding: padding, groups: groups)
        let shape: Shape = [outChannels, inChannels / groups, kernelSize, kernelSize]
        let std = (2.0 / Double(kernelSize * kernelSize * outChannels)).squareRoot()
        let values = (0..<shape.elementCount).map { _ in Float(rng.normal(std: std)) }
        self.weight = Parameter(try backend.upload(values, shape: shape))
        self.bias = bias ? Parameter(try backend.zeros([outChannels])) : nil
    }

    public var ownParameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        input = isTraining ? x : nil
        return try backend.convolution2D(x, weight: weight.value, bias: bias?.value, parameters)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let x = try saved(input, "Conv2d")
        input = nil
        let grads = try backend.convolution2DBackwardWeights(
            dy, input: x, weightShape: weight.value.shape, withBias: bias != nil, parameters)
        try weight.accumulate(grads.weight, on: backend)
        if let bias, let g = grads.bias { try bias.accumulate(g, on: backend) }
        return try backend.convolution2DBackwardData(dy, weight: weight.value, inputShape: x.shape, parameters)
    }
}

/// Fully connected layer `y = x·Wᵀ + b` on `[N, in]` inputs.
public final class Linear: Layer {
    public let backend: any Backend
    public let weight: Parameter
    public let bias: Parameter?
    public var isTraining = true
    private var input: Tensor?

    /// Weight and bias uniform in ±1/sqrt(in) (torch `nn.Linear`'s default); `zeroBias` zeroes the bias as
    /// the original's model builders do.
    public init(
        _ backend: any Backend, inFeatures: Int, outFeatures: Int, bias: Bool = true, zeroBias: Bool = false,
        rng: inout RandomGenerator
    ) throws {
        guard inFeatures > 0, outFeatures > 0 else {
            throw ResNeXtError.invalidArgument("Linear needs positive sizes, got \(inFeatures) → \(outFeatures)")
        }
        self.backend = backend
        let bound = 1 / Double(inFeatures).squareRoot()
        let w = (0..<(inFeatures * outFeatures)).map { _ in Float(rng.uniform(-bound, bound)) }
        self.weight = Parameter(try backend.upload(w, shape: [outFeatures, inFeatures]))
        if bias {
            let b = (0..<outFeatures).map { _ in zeroBias ? 0 : Float(rng.uniform(-bound, bound)) }
            self.bias = Parameter(try backend.upload(b, shape: [outFeatures]))
        } else {
            self.bias = nil
        }
    }

    public var ownParameters: [(name: String, parameter: Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        input = isTraining ? x : nil
        return try backend.linear(x, weight: weight.value, bias: bias?.value)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let x = try saved(input, "Linear")
        input = nil
        let grads = try backend.linearBackwardWeights(dy, input: x, withBias: bias != nil)
        try weight.accumulate(grads.weight, on: backend)
        if let bias, let g = grads.bias { try bias.accumulate(g, on: backend) }
        return try backend.linearBackwardData(dy, weight: weight.value)
    }
}
