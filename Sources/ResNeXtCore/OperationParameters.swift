/// Geometry of a 2-D convolution. Weights are `[outChannels, inChannels / groups, kernelH, kernelW]`.
public struct Convolution2DParameters: Hashable, Sendable {
    public let strideH: Int, strideW: Int
    public let padH: Int, padW: Int
    public let groups: Int

    public init(stride: Int = 1, padding: Int = 0, groups: Int = 1) {
        self.init(strideH: stride, strideW: stride, padH: padding, padW: padding, groups: groups)
    }

    public init(strideH: Int, strideW: Int, padH: Int, padW: Int, groups: Int) {
        self.strideH = strideH; self.strideW = strideW
        self.padH = padH; self.padW = padW
        self.groups = groups
    }

    /// The output shape for an input `[N, C, H, W]` and weights `[O, C / groups, KH, KW]`, or a clear
    /// error when they do not fit.
    public func outputShape(input: Shape, weight: Shape) throws -> Shape {
        try input.requireRank(4, "convolution input")
        try weight.requireRank(4, "convolution weight")
        guard groups > 0 else { throw ResNeXtError.invalidArgument("convolution groups must be positive, got \(groups)") }
        guard strideH > 0, strideW > 0 else {
            throw ResNeXtError.invalidArgument("convolution stride must be positive, got \(strideH)x\(strideW)")
        }
        guard padH >= 0, padW >= 0 else {
            throw ResNeXtError.invalidArgument("convolution padding must be non-negative, got \(padH)x\(padW)")
        }
        let (n, c, h, w) = (input[0], input[1], input[2], input[3])
        let (o, cg, kh, kw) = (weight[0], weight[1], weight[2], weight[3])
        guard c % groups == 0 else {
            throw ResNeXtError.invalidArgument("convolution groups \(groups) do not divide the \(c) input channels")
        }
        guard o % groups == 0 else {
            throw ResNeXtError.invalidArgument("convolution groups \(groups) do not divide the \(o) output channels")
        }
        guard cg == c / groups else {
            throw ResNeXtError.shapeMismatch(
                "convolution weight \(weight) expects \(cg * groups) input channels with \(groups) groups, input \(input) has \(c)")
        }
        let oh = (h + 2 * padH - kh) / strideH + 1
        let ow = (w + 2 * padW - kw) / strideW + 1
        guard kh > 0, kw > 0, h + 2 * padH >= kh, w + 2 * padW >= kw, oh > 0, ow > 0 else {
            throw ResNeXtError.shapeMismatch("convolution kernel \(kh)x\(kw) does not fit input \(input) with padding \(padH)x\(padW)")
        }
        return Shape([n, o, oh, ow])
    }
}

/// Geometry of a 2-D pooling window. Output sizes use floor mode, as the original.
public struct Pool2DParameters: Hashable, Sendable {
    public let kernelH: Int, kernelW: Int
    public let strideH: Int, strideW: Int
    public let padH: Int, padW: Int
    /// Average pooling only: divide by the full window, padding included (the original's cuDNN default).
    public let countIncludesPadding: Bool

    public init(kernel: Int, stride: Int, padding: Int = 0, countIncludesPadding: Bool = true) {
        self.init(
            kernelH: kernel, kernelW: kernel, strideH: stride, strideW: stride,
            padH: padding, padW: padding, countIncludesPadding: countIncludesPadding)
    }

    public init(
        kernelH: Int, kernelW: Int, strideH: Int, strideW: Int, padH: Int, padW: Int,
        countIncludesPadding: Bool = true
    ) {
        self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW
        self.padH = padH; self.padW = padW
        self.countIncludesPadding = countIncludesPadding
    }

    /// A window covering the whole `height × width` map (global average pooling).
    public static func global(height: Int, width: Int) -> Pool2DParameters {
        Pool2DParameters(kernelH: height, kernelW: width, strideH: 1, strideW: 1, padH: 0, padW: 0)
    }

    public func outputShape(input: Shape) throws -> Shape {
        try input.requireRank(4, "pooling input")
        guard kernelH > 0, kernelW > 0, strideH > 0, strideW > 0, padH >= 0, padW >= 0 else {
            throw ResNeXtError.invalidArgument(
                "pooling window \(kernelH)x\(kernelW) stride \(strideH)x\(strideW) padding \(padH)x\(padW) must be positive (padding "
                    + "non-negative)"
            )
        }
        guard padH < kernelH, padW < kernelW else {
            throw ResNeXtError.invalidArgument("pooling padding \(padH)x\(padW) must be smaller than the window \(kernelH)x\(kernelW)")
        }
        let oh = (input[2] + 2 * padH - kernelH) / strideH + 1
        let ow = (input[3] + 2 * padW - kernelW) / strideW + 1
        guard input[2] + 2 * padH >= kernelH, input[3] + 2 * padW >= kernelW, oh > 0, ow > 0 else {
            throw ResNeXtError.shapeMismatch("pooling window \(kernelH)x\(kernelW) does not fit input \(input)")
        }
        return Shape([input[0], input[1], oh, ow])
    }
}

/// SGD hyper-parameters, as torch `optim.sgd` in the original: velocity = gradient on the first step,
/// then `v = momentum·v + (1 − dampening)·g`; Nesterov steps along `g + momentum·v`.
public struct SGDHyperparameters: Hashable, Sendable {
    public var momentum: Float
    public var dampening: Float
    public var weightDecay: Float
    public var nesterov: Bool

    public init(momentum: Float = 0.9, dampening: Float = 0, weightDecay: Float = 1e-4, nesterov: Bool = true) {
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }
}
