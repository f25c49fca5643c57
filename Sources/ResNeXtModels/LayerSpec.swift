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
    case sequential([(name: String, spec: LayerSpec)])
    /// Residual block `after(branch(y) + shortcut(y))` with `y = before(x)`: the original's Sequential(before…,
    /// ConcatTable(branch, shortcut), CAddTable, after…). `before`, branch and `after` children are named in the
    /// block's namespace, the shortcut `downsample`; a missing shortcut is the identity. Post-activation blocks
    /// have `after` = [relu_out] (fb.resnet.torch's released ResNet-50 also a batch norm before it);
    /// pre-activation blocks have no `after`, and `before` = [bn0, relu0] where the shortcut takes the
    /// activated input.
    case residual(before: [(name: String, spec: LayerSpec)], branch: [(name: String, spec: LayerSpec)], shortcut: LayerSpec?,
                  after: [(name: String, spec: LayerSpec)])
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
    /// Walks the spec for an input of shape `[N, C, H, W]`: checks every shape fits and counts parameters
    /// (convolutions have a bias only where `bias` says; batch norm γ and β; linear weight and bias) and multiply-adds
    /// (convolutions and linear layers only, as torchvision's GFLOPS figures).
    public func analyze(input: Shape) throws -> SpecAnalysis {
        switch self {
        case let .convolution(i, o, k, s, p, g, bias):
            guard input.rank == 4, input[1] == i else {
                throw ResNeXtError.shapeMismatch("convolution expects \(i) input channels, got \(input)")
            }
            let out = try Convolution2DParameters(stride: s, padding: p, groups: g).outputShape(input: input, weight: [o, i / g, k, k])
            return leaf(out, params: o * (i / g) * k * k + (bias ? o : 0), macs: out.elementCount * (i / g) * k * k, kind: "conv \(k)x\(k)/\(s)" + (g > 1 ? " g\(g)" : ""))
        case .batchNorm(let c):
            guard input.rank >= 2, input[1] == c else { throw ResNeXtError.shapeMismatch("batch norm expects \(c) channels, got \(input)") }
            return leaf(input, params: 2 * c, macs: 0, kind: "batchnorm")
        case .relu:
            return leaf(input, params: 0, macs: 0, kind: "relu")
        case let .maxPool(k, s, p):
            return leaf(try Pool2DParameters(kernel: k, stride: s, padding: p).outputShape(input: input), params: 0, macs: 0, kind: "maxpool \(k)x\(k)/\(s)")
        case .globalAveragePool:
            try input.requireRank(4, "global average pooling input")
            return leaf([input[0], input[1], 1, 1], params: 0, macs: 0, kind: "global avgpool")
        case .flatten:
            return leaf([input[0], input.elementCount / max(1, input[0])], params: 0, macs: 0, kind: "flatten")
        case let .linear(i, o):
            guard input.rank == 2, input[1] == i else { throw ResNeXtError.shapeMismatch("linear expects \(i) features, got \(input)") }
            return leaf([input[0], o], params: i * o + o, macs: input[0] * i * o, kind: "linear")
        case .sequential(let children):
            var total = SpecAnalysis(outputShape: input, parameters: 0, multiplyAdds: 0, rows: [])
            for (name, child) in children {
                let a = try child.analyze(input: total.outputShape)
                total.outputShape = a.outputShape
                total.parameters += a.parameters
                total.multiplyAdds += a.multiplyAdds
                total.rows.append(LayerSummary(name: name, kind: child.kind, outputShape: a.outputShape, parameters: a.parameters,
                                               multiplyAdds: a.multiplyAdds))
            }
            return total
        case let .residual(before, branch, shortcut, after):
            let pre = try LayerSpec.sequential(before).analyze(input: input)
            let b = try LayerSpec.sequential(branch).analyze(input: pre.outputShape)
            let s = try shortcut?.analyze(input: pre.outputShape)
                ?? SpecAnalysis(outputShape: pre.outputShape, parameters: 0, multiplyAdds: 0, rows: [])
            guard b.outputShape == s.outputShape else {
                throw ResNeXtError.shapeMismatch("residual branch gives \(b.outputShape) but the shortcut gives \(s.outputShape)")
            }
            let a = try LayerSpec.sequential(after).analyze(input: b.outputShape)
            return leaf(a.outputShape, params: pre.parameters + b.parameters + s.parameters + a.parameters,
                        macs: pre.multiplyAdds + b.multiplyAdds + s.multiplyAdds + a.multiplyAdds, kind: kind)
        case .parallel(let paths):
            let results = try paths.map { try $0.analyze(input: input) }
            guard let first = results.first else { throw ResNeXtError.invalidArgument("parallel block without paths") }
            let channels = results.reduce(0) { $0 + $1.outputShape[1] }
            return leaf([first.outputShape[0], channels, first.outputShape[2], first.outputShape[3]],
                        params: results.reduce(0) { $0 + $1.parameters }, macs: results.reduce(0) { $0 + $1.multiplyAdds }, kind: kind)
        case let .zeroPadShortcut(s, o):
            let sub = try Pool2DParameters(kernel: 1, stride: s).outputShape(input: input)
            return leaf([sub[0], o, sub[2], sub[3]], params: 0, macs: 0, kind: kind)
        }
    }

    private func leaf(_ shape: Shape, params: Int, macs: Int, kind: String) -> SpecAnalysis {
        SpecAnalysis(outputShape: shape, parameters: params, multiplyAdds: macs, rows: [])
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
