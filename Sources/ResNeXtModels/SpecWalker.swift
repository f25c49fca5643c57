import ResNeXtCore

/// A child of a spec under its name (a local name in a spec, a full dotted name from the walker).
public typealias NamedSpec = (name: String, spec: LayerSpec)

/// A parameter or buffer a spec implies, under its torchvision `state_dict` name.
public struct SpecTensor: Sendable, Equatable {
    /// Dotted name, e.g. `layer1.0.conv1.weight` or `layer1.0.paths.3.bn1.running_mean`.
    public let name: String
    public let shape: [Int]
    /// False for batch-norm running statistics (buffers).
    public let isTrainable: Bool
}

/// The one place that names the parts of a spec. Counting, the Torch7 import and export and the ONNX
/// export all see children through it, so their names agree with the built layers' `namedTensors()`.
extension LayerSpec {
    /// Batch-norm ε and momentum of every built model (the original's and PyTorch's defaults).
    public static let batchNormEpsilon: Float = 1e-5
    public static let batchNormMomentum: Float = 0.1

    /// A spec node with its children under full dotted names.
    public enum NamedNode {
        /// A layer without children (convolution, batch norm, ReLU, pooling, flatten, linear, zero-pad shortcut).
        case leaf
        case sequential([NamedSpec])
        /// `before`, branch and `after` layers are named in the block's own namespace (torchvision's
        /// `Bottleneck`), the shortcut `downsample`.
        case residual(before: [NamedSpec], branch: [NamedSpec], shortcut: NamedSpec?, after: [NamedSpec])
        /// Paths named by their index.
        case parallel([NamedSpec])
    }

    /// `prefix.name`, or `name` at the top.
    public static func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// This node, named `name`, with its children's full names.
    public func named(_ name: String) -> NamedNode {
        func inside(_ list: [NamedSpec]) -> [NamedSpec] { list.map { (Self.join(name, $0.name), $0.spec) } }
        switch self {
        case .sequential(let children):
            return .sequential(inside(children))
        case let .residual(before, branch, shortcut, after):
            return .residual(
                before: inside(before), branch: inside(branch),
                shortcut: shortcut.map { (Self.join(name, "downsample"), $0) }, after: inside(after))
        case .parallel(let paths):
            return .parallel(inside(paths.enumerated().map { (String($0.offset), $0.element) }))
        case .convolution, .batchNorm, .relu, .maxPool, .globalAveragePool, .flatten, .linear, .zeroPadShortcut:
            return .leaf
        }
    }

    /// The direct children of this node named `name`, in definition order.
    public func children(named name: String) -> [NamedSpec] {
        switch named(name) {
        case .leaf: []
        case .sequential(let list), .parallel(let list): list
        case let .residual(before, branch, shortcut, after): before + branch + (shortcut.map { [$0] } ?? []) + after
        }
    }

    /// Visits this node and everything below it depth-first in definition order (the order of the built
    /// layers' `namedTensors()`), with dotted names; the root is named `name`.
    public func walk(named name: String = "", _ visit: (String, LayerSpec) throws -> Void) rethrows {
        try visit(name, self)
        for child in children(named: name) { try child.spec.walk(named: child.name, visit) }
    }

    /// The tensors this node holds itself, named under `name`: a convolution's weight `[out, in/groups, k, k]`
    /// (and bias `[out]`); a batch norm's weight, bias, running_mean and running_var `[channels]`; a linear
    /// layer's weight `[out, in]` and bias `[out]`. Other nodes hold none.
    public func ownTensors(named name: String) -> [SpecTensor] {
        func tensor(_ suffix: String, _ shape: [Int], trainable: Bool = true) -> SpecTensor {
            SpecTensor(name: Self.join(name, suffix), shape: shape, isTrainable: trainable)
        }
        switch self {
        case let .convolution(i, o, k, _, _, g, bias):
            return [tensor("weight", [o, i / g, k, k])] + (bias ? [tensor("bias", [o])] : [])
        case .batchNorm(let c):
            return [
                tensor("weight", [c]), tensor("bias", [c]),
                tensor("running_mean", [c], trainable: false), tensor("running_var", [c], trainable: false)
            ]
        case let .linear(i, o):
            return [tensor("weight", [o, i]), tensor("bias", [o])]
        case .relu, .maxPool, .globalAveragePool, .flatten, .zeroPadShortcut, .sequential, .residual, .parallel:
            return []
        }
    }

    /// Every parameter and buffer of the spec in `namedTensors()` order, under `name`.
    public func tensors(named name: String = "") -> [SpecTensor] {
        var result: [SpecTensor] = []
        walk(named: name) { result += $1.ownTensors(named: $0) }
        return result
    }

    /// The layers that hold tensors (convolutions, batch norms, linear layers) with their dotted names.
    public func layersWithTensors(named name: String = "") -> [NamedSpec] {
        var result: [NamedSpec] = []
        walk(named: name) { if !$1.ownTensors(named: $0).isEmpty { result.append(($0, $1)) } }
        return result
    }

    /// Number of trainable scalars: convolution weights (and biases), batch-norm γ and β, linear weight and bias.
    public var parameterCount: Int {
        tensors().filter(\.isTrainable).reduce(0) { $0 + $1.shape.reduce(1, *) }
    }

    /// The spec with `transform` applied to every leaf; containers keep their structure and names.
    public func mapLeaves(_ transform: (LayerSpec) -> LayerSpec) -> LayerSpec {
        func inside(_ list: [NamedSpec]) -> [NamedSpec] { list.map { ($0.name, $0.spec.mapLeaves(transform)) } }
        switch self {
        case .sequential(let children):
            return .sequential(inside(children))
        case let .residual(before, branch, shortcut, after):
            return .residual(before: inside(before), branch: inside(branch), shortcut: shortcut?.mapLeaves(transform), after: inside(after))
        case .parallel(let paths):
            return .parallel(paths.map { $0.mapLeaves(transform) })
        case .convolution, .batchNorm, .relu, .maxPool, .globalAveragePool, .flatten, .linear, .zeroPadShortcut:
            return transform(self)
        }
    }
}
