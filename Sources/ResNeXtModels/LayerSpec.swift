import ResNeXtCore

/// A network described as data: what to build, count and print, before any weights exist.
public indirect enum LayerSpec: Sendable {
    case convolution(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, groups: Int, bias: Bool)
    case batchNorm(channels: Int)
    case relu
    case maxPool(kernel: Int, stride: Int, padding: Int)
    case globalAveragePool
    case flatten
    case linear(inFeatures: Int, outFeatures: Int)
    /// Named children applied in order.
    case sequential([NamedSpec])
    /// Residual block `after(branch(y) + shortcut(y))` with `y = before(x)`: the original's Sequential(before…,
    /// ConcatTable(branch, shortcut), CAddTable, after…). `before`, branch and `after` children are named in the
    /// block's namespace, the shortcut `downsample`; a missing shortcut is the identity. Post-activation blocks
    /// have `after` = [relu_out] (fb.resnet.torch's released ResNet-50 also a batch norm before it);
    /// pre-activation blocks have no `after`, and `before` = [bn0, relu0] where the shortcut takes the
    /// activated input.
    case residual(before: [NamedSpec], branch: [NamedSpec], shortcut: LayerSpec?, after: [NamedSpec])
    /// Parallel paths on the same input, concatenated along channels.
    case parallel([LayerSpec])
    /// Type-A shortcut: stride-subsample and pad with zero channels.
    case zeroPadShortcut(stride: Int, outChannels: Int)
}

/// One row of a layer table.
public struct LayerSummary: Sendable, Equatable {
    public let name: String
    public let kind: String
    public let outputShape: Shape
    public let parameters: Int
    public let multiplyAdds: Int
}

/// Output shape, trainable parameter count and multiply-adds of a spec for one input.
public struct SpecAnalysis: Sendable {
    public var outputShape: Shape
    public var parameters: Int
    public var multiplyAdds: Int
    /// One row per top-level child (stages are summarized as one row each).
    public var rows: [LayerSummary]
}

extension LayerSpec {
    /// Walks the spec for an input of shape `[N, C, H, W]`: checks every shape fits, counts parameters
    /// (``parameterCount``: convolutions have a bias only where `bias` says; batch norm γ and β; linear weight
    /// and bias) and multiply-adds (convolutions and linear layers only, as torchvision's GFLOPS figures).
    public func analyze(input: Shape) throws -> SpecAnalysis {
        guard case .sequential(let children) = self else {
            let (shape, macs) = try propagate(input)
            return SpecAnalysis(outputShape: shape, parameters: parameterCount, multiplyAdds: macs, rows: [])
        }
        var total = SpecAnalysis(outputShape: input, parameters: 0, multiplyAdds: 0, rows: [])
        for (name, child) in children {
            let (shape, macs) = try child.propagate(total.outputShape)
            let parameters = child.parameterCount
            total.outputShape = shape
            total.parameters += parameters
            total.multiplyAdds += macs
            total.rows.append(LayerSummary(name: name, kind: child.kind, outputShape: shape, parameters: parameters, multiplyAdds: macs))
        }
        return total
    }

    /// The output shape for `input` and the multiply-adds on the way; throws where a shape does not fit.
    private func propagate(_ input: Shape) throws -> (shape: Shape, multiplyAdds: Int) {
        switch self {
        case let .convolution(i, o, k, s, p, g, _):
            guard input.rank == 4, input[1] == i else {
                throw ResNeXtError.shapeMismatch("convolution expects \(i) input channels, got \(input)")
            }
            let out = try Convolution2DParameters(stride: s, padding: p, groups: g).outputShape(input: input, weight: [o, i / g, k, k])
            return (out, out.elementCount * (i / g) * k * k)
        case .batchNorm(let c):
            guard input.rank >= 2, input[1] == c else { throw ResNeXtError.shapeMismatch("batch norm expects \(c) channels, got \(input)") }
            return (input, 0)
        case .relu:
            return (input, 0)
        case let .maxPool(k, s, p):
            return (try Pool2DParameters(kernel: k, stride: s, padding: p).outputShape(input: input), 0)
        case .globalAveragePool:
            try input.requireRank(4, "global average pooling input")
            return ([input[0], input[1], 1, 1], 0)
        case .flatten:
            return ([input[0], input.elementCount / max(1, input[0])], 0)
        case let .linear(i, o):
            guard input.rank == 2, input[1] == i else { throw ResNeXtError.shapeMismatch("linear expects \(i) features, got \(input)") }
            return ([input[0], o], input[0] * i * o)
        case .sequential(let children):
            var x = (shape: input, multiplyAdds: 0)
            for child in children {
                let y = try child.spec.propagate(x.shape)
                x = (y.shape, x.multiplyAdds + y.multiplyAdds)
            }
            return x
        case let .residual(before, branch, shortcut, after):
            let pre = try LayerSpec.sequential(before).propagate(input)
            let b = try LayerSpec.sequential(branch).propagate(pre.shape)
            let s = try shortcut?.propagate(pre.shape) ?? (shape: pre.shape, multiplyAdds: 0)
            guard b.shape == s.shape else {
                throw ResNeXtError.shapeMismatch("residual branch gives \(b.shape) but the shortcut gives \(s.shape)")
            }
            let a = try LayerSpec.sequential(after).propagate(b.shape)
            return (a.shape, pre.multiplyAdds + b.multiplyAdds + s.multiplyAdds + a.multiplyAdds)
        case .parallel(let paths):
            let results = try paths.map { try $0.propagate(input) }
            guard let first = results.first else { throw ResNeXtError.invalidArgument("parallel block without paths") }
            let channels = results.reduce(0) { $0 + $1.shape[1] }
            return ([first.shape[0], channels, first.shape[2], first.shape[3]], results.reduce(0) { $0 + $1.multiplyAdds })
        case let .zeroPadShortcut(s, o):
            let sub = try Pool2DParameters(kernel: 1, stride: s).outputShape(input: input)
            return ([sub[0], o, sub[2], sub[3]], 0)
        }
    }

    /// A short description for layer tables.
    public var kind: String {
        switch self {
        case let .convolution(_, o, k, s, _, g, _): "conv \(k)x\(k)/\(s), \(o)" + (g > 1 ? ", \(g) groups" : "")
        case .batchNorm: "batchnorm"
        case .relu: "relu"
        case let .maxPool(k, s, _): "maxpool \(k)x\(k)/\(s)"
        case .globalAveragePool: "global avgpool"
        case .flatten: "flatten"
        case let .linear(_, o): "linear \(o)"
        case .sequential(let c): "\(c.count) blocks"
        case .residual: "residual block"
        case .parallel(let p): "\(p.count) parallel paths"
        case .zeroPadShortcut: "zero-pad shortcut"
        }
    }
}
