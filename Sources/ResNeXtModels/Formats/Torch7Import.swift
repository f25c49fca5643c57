import ResNeXtCore
import ResNeXtIO
import ResNeXtNN

// Models in the original's Torch7 format (docs/FORMATS.md; the serialization is ResNeXtIO's Torch7Reader):
// an nn.Sequential tree of nn/cudnn modules. Architecture inference is in Torch7Inference.swift, export in
// Torch7Export.swift.
//
// Import walks the module tree depth-first along every `modules` table, whatever the containers
// (nn.Sequential, nn.ConcatTable, nn.Concat, nn.gModule, …), collecting convolutions, batch norms and
// linear layers in order. That order is the order of the spec walker's layers (`layersWithTensors()`) and of
// our layers' tensors (`namedTensors()`), because a
// block is ConcatTable(branch, shortcut) in both — the branch's conv1 … bn3 (or its paths, then conv3
// and bn3) before the shortcut's `downsample.0/1`. So extra nesting such as the released files' inner
// Sequential around conv1 … relu2 does not matter. gradWeight, gradBias, output and gradInput are ignored.

extension ResNeXtModel {
    /// Reads an original model file (`.t7`): infers its configuration from the module tree and loads
    /// every weight and batch-norm statistic. The model is returned in training mode, as a new model is.
    /// - Throws: `ResNeXtError.io("<path>: …")` for an unreadable file or a module tree that is not a
    ///   ResNeXt/ResNet; `ResNeXtError.shapeMismatch("<path>: module #k <class> …")` when a layer does
    ///   not fit the inferred network.
    public static func importTorch7(_ path: String, on backend: any Backend) throws -> ResNeXtModel {
        try importTorch7(Torch7.read(path), source: path, on: backend)
    }

    /// ``importTorch7(_:on:)`` for a parsed value; `source` names it in errors.
    public static func importTorch7(_ value: Torch7Value, source: String, on backend: any Backend) throws -> ResNeXtModel {
        let configuration = try torch7Configuration(value, source: source)
        let model = try ResNeXtModel(configuration, on: backend)
        try model.loadTorch7(value, source: source, on: backend)
        return model
    }

    /// Loads the weights of an original model file into this model (same structure required).
    public func loadTorch7(_ path: String, on backend: any Backend) throws {
        try loadTorch7(Torch7.read(path), source: path, on: backend)
    }

    /// Loads the weights of a parsed original model into this model (same structure required).
    public func loadTorch7(_ value: Torch7Value, source: String, on backend: any Backend) throws {
        let tensors = try Self.torch7Tensors(value, configuration: configuration, source: source)
        let own = namedTensors().map(\.name)
        guard own == tensors.map(\.name) else {
            let first = zip(own, tensors.map(\.name)).first { $0 != $1 }
            throw ResNeXtError.invalidArgument(
                "internal: the layer order of the configuration (\(first?.1 ?? "end")) differs from the model's tensors "
                    + "(\(first?.0 ?? "end"))"
            )
        }
        try loadStateDict(tensors, on: backend, strict: true, source: source)
    }

    /// The tensors of an original model under torchvision names, for `configuration`, in the model's
    /// definition order. Convolution, batch-norm and linear modules are matched one to one in depth-first
    /// order; kinds, shapes, strides, paddings and groups must agree. Version-1 batch norms (`running_std`
    /// = 1/√(var+eps)) are converted to variances; a file eps other than ours (1e-5) is folded into the
    /// variance so that var + eps is unchanged. Convolution biases must be absent or zero.
    public static func torch7Tensors(
        _ value: Torch7Value, configuration: ModelConfiguration,
        source: String
    ) throws -> [(name: String, tensor: StoredTensor)] {
        let walk = try Torch7ModuleWalk(value, source: source)
        let targets = try configuration.spec().layersWithTensors()
        var result: [(name: String, tensor: StoredTensor)] = []
        for (module, target) in zip(walk.modules, targets) {
            guard module.kind == Torch7LayerKind(target.spec) else {
                throw ResNeXtError.shapeMismatch(
                    "\(source): \(module.label) is a \(module.kind.rawValue) but the model's layer \(module.ordinal), \(target.name), is "
                        + "a \(Torch7LayerKind(target.spec).rawValue)"
                )
            }
            result += try module.tensors(for: target, source: source)
        }
        if walk.modules.count != targets.count {
            let counts = "the file has \(walk.modules.count) convolution, batch-norm and linear modules but the model has \(targets.count)"
            if walk.modules.count > targets.count {
                throw ResNeXtError.shapeMismatch("\(source): \(counts); the first extra one is \(walk.modules[targets.count].label)")
            }
            throw ResNeXtError.shapeMismatch(
                "\(source): \(counts); nothing in the file for \(targets[walk.modules.count].name) "
                    + "(\(Torch7LayerKind(targets[walk.modules.count].spec).rawValue)) and after"
            )
        }
        return result
    }

    /// The configuration of an original model: stem from the first convolution's kernel (7×7 ImageNet,
    /// 3×3 CIFAR), stages and blocks from the residual blocks (ConcatTable followed by CAddTable) grouped
    /// by their parent container, block type from the branch's convolutions (2: basic, 3: bottleneck —
    /// grouped ⇒ ResNeXt C, else ResNet — 2C+1: ResNeXt B), cardinality from the groups, base width
    /// from the grouped widths, shortcut type from where projections appear, classes from the Linear.
    /// - Throws: `ResNeXtError.io("<source>: …")` naming what does not fit.
    public static func torch7Configuration(_ value: Torch7Value, source: String) throws -> ModelConfiguration {
        try Torch7ModuleWalk(value, source: source).inferConfiguration()
    }
}

// MARK: - Our side: the layers with tensors (`LayerSpec.layersWithTensors()`), in definition order

enum Torch7LayerKind: String {
    case convolution, batchNorm = "batch norm", linear

    /// The kind of a layer with tensors.
    init(_ spec: LayerSpec) {
        switch spec {
        case .convolution: self = .convolution
        case .batchNorm: self = .batchNorm
        default: self = .linear
        }
    }
}

// MARK: - The file's side: walking the module tree

struct Torch7Module {
    /// 1-based position among the convolution, batch-norm and linear modules.
    let ordinal: Int
    let className: String
    let version: Int
    let fields: Torch7Table
    let path: String
    let kind: Torch7LayerKind

    static let convolutionClasses: Set<String> = ["nn.SpatialConvolution", "cudnn.SpatialConvolution", "nn.SpatialConvolutionMM"]
    static let batchNormClasses: Set<String> = ["nn.SpatialBatchNormalization", "cudnn.SpatialBatchNormalization"]

    /// nn.ReLU, cudnn.ReLU, and nn.Threshold (what nn.ReLU derives from).
    static func isReLU(_ className: String) -> Bool { className.hasSuffix(".ReLU") || className == "nn.Threshold" }
    static let linearClasses: Set<String> = ["nn.Linear"]

    var label: String { "module #\(ordinal) \(className) (\(path))" }

    /// A tensor field; nil when absent.
    func tensor(_ name: String, source: String) throws -> Torch7Tensor? {
        switch fields[name] {
        case nil, .nil?: return nil
        case .tensor(let t)?: return t
        case let other?: throw ResNeXtError.io("\(source): \(label): field \(name) is \(other.describe(depth: 0)), not a tensor")
        }
    }

    func requiredTensor(_ name: String, source: String) throws -> Torch7Tensor {
        guard let t = try tensor(name, source: source) else { throw ResNeXtError.io("\(source): \(label) has no \(name)") }
        return t
    }

    func int(_ name: String) -> Int? { fields[name]?.int }

    /// Convolution hyper-parameters, from the fields where present, else from the weight's shape.
    func convolutionInfo(source: String) throws -> (inChannels: Int, outChannels: Int, kernel: Int, stride: Int, groups: Int) {
        let w = try requiredTensor("weight", source: source)
        let four = w.sizes.count == 4
        guard let out = int("nOutputPlane") ?? w.sizes.first else { throw ResNeXtError.io("\(source): \(label) has an empty weight") }
        guard let kernel = int("kW") ?? (four ? w.sizes[3] : nil) else {
            throw ResNeXtError.io("\(source): \(label) has no kW and a \(w.sizes.count)-dimensional weight")
        }
        let fieldGroups = int("groups")
        guard let inChannels = int("nInputPlane") ?? (four ? w.sizes[1] * (fieldGroups ?? 1) : nil) else {
            throw ResNeXtError.io("\(source): \(label) has no nInputPlane and a \(w.sizes.count)-dimensional weight")
        }
        let groups = fieldGroups ?? (four && w.sizes[1] > 0 && inChannels % w.sizes[1] == 0 ? inChannels / w.sizes[1] : 1)
        guard out > 0, inChannels > 0, kernel > 0, groups > 0 else {
            throw ResNeXtError.io("\(source): \(label) has \(inChannels) inputs, \(out) outputs, kernel \(kernel), \(groups) groups")
        }
        return (inChannels, out, kernel, int("dW") ?? 1, groups)
    }

    /// The module's tensors under `target`'s names (``LayerSpec/ownTensors(named:)``), checked against its shapes.
    func tensors(for target: NamedSpec, source: String) throws -> [(name: String, tensor: StoredTensor)] {
        let values = try floats(for: target, source: source)
        return zip(target.spec.ownTensors(named: target.name), values).map { ($0.name, StoredTensor(shape: $0.shape, floats: $1)) }
    }

    /// The values of `target`'s tensors in ``LayerSpec/ownTensors(named:)`` order.
    private func floats(for target: NamedSpec, source: String) throws -> [[Float]] {
        func mismatch(_ what: String, _ sizes: [Int], _ name: String, _ expected: [Int]) -> ResNeXtError {
            .shapeMismatch("\(source): \(label): \(what) is \(sizes) in the file but \(target.name).\(name) is \(expected) in the model")
        }
        switch target.spec {
        case let .convolution(i, o, k, s, p, g, hasBias):
            let expected = [o, i / g, k, k]
            let w = try requiredTensor("weight", source: source)
            // nn.SpatialConvolutionMM keeps [out, in·kH·kW]; old grouped cudnn convolutions [groups, out/groups, in/groups, kH, kW].
            let acceptable =
                w.sizes == expected
                || (w.sizes.count == 2 && w.sizes[0] == o && w.sizes[1] == (i / g) * k * k)
                || (w.sizes.count == 5 && w.sizes[0] == g && w.sizes[0] * w.sizes[1] == o && Array(w.sizes[2...]) == [i / g, k, k])
            guard acceptable else { throw mismatch("weight", w.sizes, "weight", expected) }
            let checks: [(String, Int)] = [
                ("nInputPlane", i), ("nOutputPlane", o), ("kW", k), ("kH", k), ("dW", s), ("dH", s),
                ("padW", p), ("padH", p), ("groups", g)
            ]
            for (field, want) in checks {
                if let have = int(field), have != want {
                    throw ResNeXtError.shapeMismatch(
                        "\(source): \(label): \(field) is \(have) in the file but \(want) for \(target.name) in the model")
                }
            }
            var bias: [Float]?
            if let b = try tensor("bias", source: source), b.elementCount > 0 {
                guard b.elementCount == o else { throw mismatch("bias", b.sizes, "bias", [o]) }
                bias = try b.floats()
            }
            let weight = try w.floats()
            if hasBias {  // a convolution stored without one has a zero bias
                return [weight, bias ?? [Float](repeating: 0, count: o)]
            }
            if let values = bias, let index = values.firstIndex(where: { $0 != 0 }) {
                throw ResNeXtError.io(
                    "\(source): \(label) has a non-zero bias (element \(index + 1) is \(values[index])); the model's convolution "
                        + "\(target.name) has no bias"
                )
            }
            return [weight]

        case .batchNorm(let c):
            func vector(_ field: String, _ name: String, default fill: Float? = nil) throws -> [Float] {
                guard let t = try tensor(field, source: source) else {
                    if let fill { return [Float](repeating: fill, count: c) }
                    throw ResNeXtError.io("\(source): \(label) has no \(field)")
                }
                guard t.sizes == [c] else { throw mismatch(field, t.sizes, name, [c]) }
                return try t.floats()
            }
            // affine = false: no weight or bias, i.e. γ = 1, β = 0.
            let gamma = try vector("weight", "weight", default: 1)
            let beta = try vector("bias", "bias", default: 0)
            let mean = try vector("running_mean", "running_mean")
            let fileEps = fields["eps"]?.number ?? 1e-5
            guard fileEps.isFinite, fileEps >= 0 else { throw ResNeXtError.io("\(source): \(label) has eps \(fileEps)") }
            let ourEps = 1e-5  // LayerSpec.batchNormEpsilon, as the double Lua writes
            let variance: [Float]
            if (try tensor("running_var", source: source)) != nil {
                variance = try vector("running_var", "running_var").map { Float(Double($0) + fileEps - ourEps) }
            } else if (try tensor("running_std", source: source)) != nil {
                // Version-1 files: running_std = 1/sqrt(var + eps).
                variance = try vector("running_std", "running_var").map { Float(1 / (Double($0) * Double($0)) - ourEps) }
            } else {
                throw ResNeXtError.io("\(source): \(label) has neither running_var nor running_std")
            }
            return [gamma, beta, mean, variance]

        case let .linear(i, o):
            let w = try requiredTensor("weight", source: source)
            guard w.sizes == [o, i] else { throw mismatch("weight", w.sizes, "weight", [o, i]) }
            let bias: [Float]
            if let b = try tensor("bias", source: source) {
                guard b.sizes == [o] else { throw mismatch("bias", b.sizes, "bias", [o]) }
                bias = try b.floats()
            } else {
                bias = [Float](repeating: 0, count: o)
            }
            return [try w.floats(), bias]

        default:
            throw ResNeXtError.invalidArgument("internal: \(target.name) is not a layer with weights")
        }
    }
}

/// A residual block found in the file: positions of the modules in its container before the split
/// (pre-activation), of its branch's and its shortcut's modules, and of the batch norms right after its
/// addition (fb.resnet.torch's released ResNet-50); and whether a ReLU follows the addition.
struct Torch7Block {
    let stage: ObjectIdentifier?
    let before: Range<Int>
    let branch: Range<Int>
    let shortcut: Range<Int>
    let afterAdd: Range<Int>
    let reluAfterAdd: Bool
    let path: String
}

struct Torch7ModuleWalk {
    let source: String
    private(set) var modules: [Torch7Module] = []
    private(set) var blocks: [Torch7Block] = []
    private var visited = Set<ObjectIdentifier>()

    static let maxDepth = 100

    init(_ root: Torch7Value, source: String) throws {
        self.source = source
        try visit(root, path: "model", parent: nil, depth: 0)
    }

    func bad(_ message: String) -> ResNeXtError { .io("\(source): \(message)") }

    private mutating func visit(_ value: Torch7Value, path: String, parent: Torch7Table?, depth: Int) throws {
        guard depth <= Self.maxDepth else { throw bad("modules nested deeper than \(Self.maxDepth) levels at \(path)") }
        guard case let .object(className, version, payload) = value else {
            throw bad("\(path) is \(value.describe(depth: 0)), not an nn module")
        }
        guard case .table(let fields) = payload else { throw bad("\(path) (\(className)) has no field table") }
        guard visited.insert(ObjectIdentifier(fields)).inserted else {
            throw bad("\(path) (\(className)) appears twice in the module tree; shared or recursive modules are not supported")
        }
        let kind: Torch7LayerKind? =
            Torch7Module.convolutionClasses.contains(className)
            ? .convolution
            : Torch7Module.batchNormClasses.contains(className)
                ? .batchNorm
                : Torch7Module.linearClasses.contains(className) ? .linear : nil
        if let kind {
            modules.append(
                Torch7Module(
                    ordinal: modules.count + 1, className: className, version: version, fields: fields,
                    path: path, kind: kind))
            return
        }
        if case .tensor(let w)? = fields["weight"], w.elementCount > 0 {
            throw bad("\(path) (\(className)) has weights but is not a supported layer (convolution, batch norm or nn.Linear)")
        }
        guard let children = try self.children(of: fields, className: className, path: path) else { return }
        var segmentStart = modules.count  // layers of this container since its last block: a block's `before`
        var i = 0
        while i < children.count {
            let (key, child) = children[i]
            let childPath = "\(path).modules[\(key)]"
            if child.className == "nn.ConcatTable", i + 1 < children.count, children[i + 1].value.className == "nn.CAddTable",
                let concat = child.fields
            {
                // A residual block: ConcatTable(branch, shortcut) then the addition.
                guard visited.insert(ObjectIdentifier(concat)).inserted else {
                    throw bad("\(childPath) (nn.ConcatTable) appears twice in the module tree")
                }
                let paths = try self.children(of: concat, className: "nn.ConcatTable", path: childPath) ?? []
                guard paths.count == 2 else {
                    throw bad("\(childPath): a residual nn.ConcatTable needs 2 paths (branch, shortcut), found \(paths.count)")
                }
                let start = modules.count
                try visit(paths[0].value, path: "\(childPath).modules[\(paths[0].key)]", parent: concat, depth: depth + 2)
                let middle = modules.count
                try visit(paths[1].value, path: "\(childPath).modules[\(paths[1].key)]", parent: concat, depth: depth + 2)
                let end = modules.count
                // Batch norms between the addition and the ReLU belong to the block.
                var next = i + 2
                while next < children.count, let name = children[next].value.className, Torch7Module.batchNormClasses.contains(name) {
                    try visit(children[next].value, path: "\(path).modules[\(children[next].key)]", parent: fields, depth: depth + 1)
                    next += 1
                }
                let relu = next < children.count && children[next].value.className.map(Torch7Module.isReLU) == true
                blocks.append(
                    Torch7Block(
                        stage: parent.map { ObjectIdentifier($0) }, before: segmentStart..<start, branch: start..<middle,
                        shortcut: middle..<end, afterAdd: end..<modules.count, reluAfterAdd: relu, path: path))
                segmentStart = modules.count
                i = next - 1
            } else {
                try visit(child, path: childPath, parent: fields, depth: depth + 1)
            }
            i += 1
        }
    }

    /// The `modules` of a container in index order, or nil when it has none.
    private func children(of fields: Torch7Table, className: String, path: String) throws -> [(key: Int, value: Torch7Value)]? {
        switch fields["modules"] {
        case nil, .nil?: return nil
        case .table(let t)?:
            var list: [(key: Int, value: Torch7Value)] = []
            for (key, value) in t.entries {
                guard let k = key.int, k >= 1 else {
                    throw bad("\(path) (\(className)): modules has the key \(key.describe(depth: 0)), not a positive integer")
                }
                list.append((k, value))
            }
            return list.sorted { $0.key < $1.key }
        case let other?:
            throw bad("\(path) (\(className)): modules is \(other.describe(depth: 0)), not a table")
        }
    }
}
