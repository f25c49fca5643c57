import ResNeXtCore

/// A tensor a layer owns: a trainable parameter (with its accumulated gradient) or a buffer such as
/// batch norm's running mean (never has a gradient).
public final class Parameter {
    public var value: Tensor
    /// Sum of the gradients of every backward pass since the last ``zeroGradient()``.
    public var gradient: Tensor?
    public let isTrainable: Bool
    /// Called after every gradient accumulated into this parameter (data parallelism starts reducing a
    /// bucket of gradients as soon as they are all there).
    public var gradientHook: ((Parameter) throws -> Void)?

    public init(_ value: Tensor, trainable: Bool = true) {
        self.value = value
        self.isTrainable = trainable
    }

    public func zeroGradient() { gradient = nil }

    /// Adds `g` to the accumulated gradient.
    func accumulate(_ g: Tensor, on backend: any Backend) throws {
        gradient = try gradient.map { try backend.add($0, g) } ?? g
        try gradientHook?(self)
    }
}

/// A network layer with explicit forward and backward passes.
///
/// `forward` keeps what `backward` needs (in training mode); `backward` takes the gradient of the loss
/// with respect to the output, accumulates parameter gradients, and returns the gradient with respect to
/// the input. Names of children and parameters compose into torchvision `state_dict` keys
/// (`layer1.0.conv1.weight`).
public protocol Layer: AnyObject {
    func forward(_ input: Tensor) throws -> Tensor
    func backward(_ outputGradient: Tensor) throws -> Tensor
    /// Direct sub-layers with their names.
    var children: [(name: String, layer: any Layer)] { get }
    /// This layer's own tensors (not its children's), e.g. `weight`, `bias`, `running_mean`.
    var ownParameters: [(name: String, parameter: Parameter)] { get }
    /// Training mode (batch statistics, saved activations) or evaluation mode.
    var isTraining: Bool { get set }
}

extension Layer {
    public var children: [(name: String, layer: any Layer)] { [] }
    public var ownParameters: [(name: String, parameter: Parameter)] { [] }

    /// Every tensor of this layer and its descendants, with dotted names, in definition order.
    public func namedTensors(prefix: String = "") -> [(name: String, parameter: Parameter)] {
        var result = ownParameters.map { (prefix + $0.name, $0.parameter) }
        for child in children {
            result += child.layer.namedTensors(prefix: prefix + child.name + ".")
        }
        return result
    }

    /// The trainable parameters (the optimizer's set), with dotted names.
    public func namedParameters() -> [(name: String, parameter: Parameter)] {
        namedTensors().filter { $0.parameter.isTrainable }
    }

    /// Total number of trainable scalars.
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.parameter.value.elementCount } }

    /// Sets training or evaluation mode on this layer and all descendants.
    public func setTraining(_ training: Bool) {
        isTraining = training
        for child in children { child.layer.setTraining(training) }
    }

    /// This layer and all its descendants, depth first in definition order.
    public var allLayers: [any Layer] { [self] + children.flatMap { $0.layer.allLayers } }

    /// Clears every accumulated gradient.
    public func zeroGradients() {
        for (_, p) in namedParameters() { p.zeroGradient() }
    }
}

/// Throws a clear error when `backward` runs without a preceding training-mode `forward`.
func saved<T>(_ value: T?, _ layer: String) throws -> T {
    guard let value else {
        throw ResNeXtError.invalidArgument("\(layer).backward called without a preceding forward in training mode")
    }
    return value
}
