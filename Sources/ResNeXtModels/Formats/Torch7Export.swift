import ResNeXtCore
import ResNeXtIO
import ResNeXtNN

// Export to the original's Torch7 module tree; reading it back is Torch7Import.swift.

extension ResNeXtModel {
    /// The model as the original's nn module tree: nn.Sequential of cudnn.SpatialConvolution,
    /// nn.SpatialBatchNormalization ("V 2"), cudnn.ReLU, nn.SpatialMaxPooling, stages of
    /// nn.Sequential(nn.ConcatTable(branch, shortcut), nn.CAddTable(true), cudnn.ReLU(true)),
    /// cudnn.SpatialAveragePooling, nn.View, nn.Linear — float32 tensors, none sharing storage, zero
    /// gradWeight/gradBias of the same shapes (as saved checkpoints have).
    public static func exportTorch7(_ model: ResNeXtModel, on backend: any Backend) throws -> Torch7Value {
        let spec = try model.configuration.spec()
        guard case .sequential = spec else { throw ResNeXtError.invalidArgument("model spec must be a sequence of layers") }
        let tensors = Dictionary(model.namedTensors().map { ($0.name, $0.parameter) }, uniquingKeysWith: { first, _ in first })
        let exporter = Torch7Exporter(backend: backend, tensors: tensors, training: model.isTraining, configuration: model.configuration)
        return exporter.sequential(try exporter.modules(spec.children(named: "")))
    }

    /// Writes ``exportTorch7(_:on:)`` to `path` atomically.
    public func saveTorch7(_ path: String, on backend: any Backend) throws {
        try Torch7.write(Self.exportTorch7(self, on: backend), to: path)
    }
}

/// Builds the module tree from the spec, named by the spec walker (``LayerSpec/named(_:)``), with the
/// model's tensors looked up under those names.
struct Torch7Exporter {
    let backend: any Backend
    /// The model's parameters and buffers by torchvision name.
    let tensors: [String: Parameter]
    let training: Bool
    let configuration: ModelConfiguration

    func module(_ className: String, version: Int = 1, _ fields: [(String, Torch7Value)]) -> Torch7Value {
        let common: [(String, Torch7Value)] = [
            ("output", .tensor(.empty())), ("gradInput", .tensor(.empty())),
            ("_type", .string("torch.FloatTensor")), ("train", .boolean(training))
        ]
        return .object(className: className, version: version, payload: .table(Torch7Table(fields: fields + common)))
    }

    func sequential(_ modules: [Torch7Value]) -> Torch7Value {
        module("nn.Sequential", [("modules", .table(Torch7Table(array: modules)))])
    }

    private func number(_ x: Int) -> Torch7Value { .number(Double(x)) }

    /// The double nearest the float's shortest decimal form (Float(1e-5) → 1e-5, as Lua writes it).
    private func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

    private func tensor(_ p: Parameter) throws -> Torch7Value {
        .tensor(Torch7Tensor(shape: p.value.shape.dims, floats: try backend.download(p.value)))
    }

    private func zeros(like p: Parameter) -> Torch7Value {
        .tensor(Torch7Tensor(shape: p.value.shape.dims, floats: [Float](repeating: 0, count: p.value.elementCount)))
    }

    /// The model's tensors of the layer `spec` named `name`, in ``LayerSpec/ownTensors(named:)`` order.
    private func parameters(_ spec: LayerSpec, _ name: String) throws -> [Parameter] {
        try spec.ownTensors(named: name).map { wanted in
            guard let p = tensors[wanted.name], p.value.shape.dims == wanted.shape else {
                throw ResNeXtError.invalidArgument("exportTorch7: the model has no \(wanted.shape) tensor named \(wanted.name)")
            }
            return p
        }
    }

    private var relu: Torch7Value {
        module("cudnn.ReLU", [("inplace", .boolean(true)), ("mode", .string("CUDNN_ACTIVATION_RELU"))])
    }

    private func averagePool(kernel: Int, stride: Int) -> Torch7Value {
        module(
            "cudnn.SpatialAveragePooling",
            [
                ("kW", number(kernel)), ("kH", number(kernel)), ("dW", number(stride)), ("dH", number(stride)),
                ("padW", number(0)), ("padH", number(0)), ("ceil_mode", .boolean(false)), ("count_include_pad", .boolean(true)),
                ("mode", .string("CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING"))
            ])
    }

    /// The final feature map size at the native resolution (7 for ImageNet, 8 for CIFAR).
    private var finalMapSize: Int {
        var h = configuration.nativeResolution
        if configuration.stem == .imagenet { h = (h - 1) / 2 + 1; h = (h - 1) / 2 + 1 }
        for _ in 1..<max(configuration.stagePlanes.count, 1) { h = (h - 1) / 2 + 1 }
        return max(h, 1)
    }

    /// The modules for named specs, in order.
    func modules(_ list: [NamedSpec]) throws -> [Torch7Value] {
        try list.flatMap { try export($0.spec, name: $0.name) }
    }

    /// The module(s) for `spec` named `name` (a parallel set of paths becomes ConcatTable + JoinTable).
    func export(_ spec: LayerSpec, name: String) throws -> [Torch7Value] {
        switch spec.named(name) {
        case .leaf:
            return try leaf(spec, name: name)
        case .sequential(let children):
            return [sequential(try modules(children))]
        case let .residual(before, branch, shortcut, after):
            let skip: [Torch7Value]
            switch shortcut {
            case nil:
                skip = [module("nn.Identity", [])]
            case let (skipName, projection)?:
                if case .sequential(let only) = projection, only.count == 1 {
                    // A bare projection convolution, as in fb.resnet.torch's released ResNet-18/34/50.
                    skip = try modules(projection.children(named: skipName))
                } else {
                    skip = try export(projection, name: skipName)
                }
            }
            let concat = module("nn.ConcatTable", [("modules", .table(Torch7Table(array: [sequential(try modules(branch))] + skip)))])
            return [
                sequential(try modules(before) + [concat, module("nn.CAddTable", [("inplace", .boolean(true))])] + (try modules(after)))
            ]
        case .parallel(let paths):
            return [
                module("nn.ConcatTable", [("modules", .table(Torch7Table(array: try modules(paths))))]),
                module(
                    "nn.JoinTable",
                    [
                        ("dimension", number(2)), ("nInputDims", number(3)),
                        ("size", .storage(Torch7Storage(int64s: [])))
                    ])
            ]
        }
    }

    /// The module for a layer without children.
    private func leaf(_ spec: LayerSpec, name: String) throws -> [Torch7Value] {
        switch spec {
        case let .convolution(i, o, k, s, p, g, _):
            let weights = try parameters(spec, name)
            var fields: [(String, Torch7Value)] = [
                ("nInputPlane", number(i)), ("nOutputPlane", number(o)), ("kW", number(k)), ("kH", number(k)),
                ("dW", number(s)), ("dH", number(s)), ("padW", number(p)), ("padH", number(p)), ("groups", number(g)),
                ("weight", try tensor(weights[0])), ("gradWeight", zeros(like: weights[0]))
            ]
            if weights.count > 1 { fields += [("bias", try tensor(weights[1])), ("gradBias", zeros(like: weights[1]))] }
            return [module("cudnn.SpatialConvolution", fields)]
        case .batchNorm:
            let t = try parameters(spec, name)  // weight, bias, running_mean, running_var
            return [
                module(
                    "nn.SpatialBatchNormalization", version: 2,
                    [
                        ("eps", .number(decimal(LayerSpec.batchNormEpsilon))), ("momentum", .number(decimal(LayerSpec.batchNormMomentum))),
                        ("affine", .boolean(true)), ("running_mean", try tensor(t[2])), ("running_var", try tensor(t[3])),
                        ("weight", try tensor(t[0])), ("bias", try tensor(t[1])), ("gradWeight", zeros(like: t[0])),
                        ("gradBias", zeros(like: t[1]))
                    ])
            ]
        case .relu:
            return [relu]
        case let .maxPool(k, s, p):
            return [
                module(
                    "nn.SpatialMaxPooling",
                    [
                        ("kW", number(k)), ("kH", number(k)), ("dW", number(s)), ("dH", number(s)), ("padW", number(p)),
                        ("padH", number(p)),
                        ("ceil_mode", .boolean(false)), ("indices", .tensor(.empty("torch.LongTensor")))
                    ])
            ]
        case .globalAveragePool:
            return [averagePool(kernel: finalMapSize, stride: 1)]
        case .flatten:
            let features = configuration.featureChannels
            return [
                module(
                    "nn.View",
                    [
                        ("size", .storage(Torch7Storage(int64s: [Int64(features)]))),
                        ("numElements", number(features)), ("numInputDims", number(3))
                    ])
            ]
        case .linear:
            let t = try parameters(spec, name)  // weight, bias
            return [
                module(
                    "nn.Linear",
                    [
                        ("weight", try tensor(t[0])), ("gradWeight", zeros(like: t[0])),
                        ("bias", try tensor(t[1])), ("gradBias", zeros(like: t[1]))
                    ])
            ]
        case .zeroPadShortcut(let s, _):
            let pad = module(
                "nn.Concat",
                [
                    ("dimension", number(2)), ("outputSize", .storage(Torch7Storage(int64s: []))),
                    (
                        "modules",
                        .table(
                            Torch7Table(array: [
                                module("nn.Identity", []),
                                module("nn.MulConstant", [("constant_scalar", number(0)), ("inplace", .boolean(false))])
                            ]))
                    )
                ])
            return [sequential([averagePool(kernel: 1, stride: s), pad])]
        case .sequential, .residual, .parallel:
            throw ResNeXtError.invalidArgument("internal: \(name) is a container, not a layer")
        }
    }
}
