import ResNeXtCore
import ResNeXtNN

extension LayerSpec {
    /// Instantiates the spec on a backend with the original's initialisation: convolutions He-normal with
    /// fan = k·k·out and no bias, batch norm γ = 1 and β = 0, linear weights uniform ±1/√in with zero bias.
    public func build(on backend: any Backend, rng: inout RandomGenerator) throws -> any Layer {
        switch self {
        case let .convolution(i, o, k, s, p, g, bias):
            return try Conv2d(
                backend, inChannels: i, outChannels: o, kernelSize: k, stride: s, padding: p, groups: g, bias: bias, rng: &rng)
        case .batchNorm(let c):
            return try BatchNorm2d(backend, channels: c, epsilon: LayerSpec.batchNormEpsilon, momentum: LayerSpec.batchNormMomentum)
        case .relu:
            return ReLU(backend)
        case let .maxPool(k, s, p):
            return MaxPool2d(backend, kernelSize: k, stride: s, padding: p)
        case .globalAveragePool:
            return AvgPool2d(global: backend)
        case .flatten:
            return Flatten(backend)
        case let .linear(i, o):
            return try Linear(backend, inFeatures: i, outFeatures: o, zeroBias: true, rng: &rng)
        case .sequential(let children):
            return Sequential(named: try children.map { ($0.name, try $0.spec.build(on: backend, rng: &rng)) })
        case let .residual(before, branch, shortcut, after):
            func layers(_ list: [(name: String, spec: LayerSpec)]) throws -> [(name: String, layer: any Layer)] {
                try list.map { (name: $0.name, layer: try $0.spec.build(on: backend, rng: &rng)) }
            }
            let pre = try layers(before)
            let body = Sequential(named: try layers(branch).map { ($0.name, $0.layer) })
            let skip = try shortcut?.build(on: backend, rng: &rng)
            return Residual(backend, before: pre, branch: body, shortcut: skip, branchName: nil, afterAdd: try layers(after))
        case .parallel(let paths):
            return try ConcatBranches(backend, branches: try paths.map { try $0.build(on: backend, rng: &rng) })
        case let .zeroPadShortcut(s, o):
            return ZeroPadShortcut(backend, stride: s, outChannels: o)
        }
    }
}

/// A ResNeXt/ResNet ready to run: its configuration and its layers (torchvision names).
public final class ResNeXtModel: Layer {
    /// What the model is (its class count follows ``resetClassifier(classes:seed:)``).
    public private(set) var configuration: ModelConfiguration
    public let backend: any Backend
    /// Everything up to and including flattening: image → `[N, featureChannels]` features.
    public let features: Sequential
    /// The classifier.
    public private(set) var fc: Linear
    public var isTraining = true

    /// Builds the network with freshly initialised weights from `seed`.
    public init(_ configuration: ModelConfiguration, on backend: any Backend, seed: UInt64 = 0) throws {
        let spec = try configuration.spec()
        try ModelConfiguration.checkSize(of: spec)
        guard case .sequential(let layers) = spec else {
            throw ResNeXtError.invalidArgument("model spec must be a sequence of layers")
        }
        var rng = RandomGenerator(seed: seed)
        let body = try layers.dropLast().map { ($0.name, try $0.spec.build(on: backend, rng: &rng)) }
        guard let head = try layers.last?.spec.build(on: backend, rng: &rng) as? Linear else {
            throw ResNeXtError.invalidArgument("model spec must end with a linear classifier")
        }
        self.configuration = configuration
        self.backend = backend
        self.features = Sequential(named: body)
        self.fc = head
    }

    public var children: [(name: String, layer: any Layer)] { features.children + [("fc", fc)] }

    public func forward(_ x: Tensor) throws -> Tensor { try fc.forward(try features.forward(x)) }

    public func backward(_ dy: Tensor) throws -> Tensor { try features.backward(try fc.backward(dy)) }

    /// Replaces the classifier with a freshly initialised `classes`-way one (fine-tuning).
    public func resetClassifier(classes: Int, seed: UInt64 = 0) throws {
        var rng = RandomGenerator(seed: seed)
        fc = try Linear(backend, inFeatures: fc.weight.value.shape[1], outFeatures: classes, zeroBias: true, rng: &rng)
        fc.isTraining = isTraining
        configuration.classes = classes
    }
}
