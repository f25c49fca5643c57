import ResNeXtCore
import ResNeXtIO
import ResNeXtNN

// Models in the original's Torch7 format (SPEC §6, §8): an nn.Sequential tree of nn/cudnn modules.
//
// Import walks the module tree depth-first along every `modules` table, whatever the containers
// (nn.Sequential, nn.ConcatTable, nn.Concat, nn.gModule, …), collecting convolutions, batch norms and
// linear layers in order. That order is the order of our layers' tensors (`namedTensors()`), because a
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
            throw ResNeXtError.invalidArgument("internal: the layer order of the configuration (\(first?.1 ?? "end")) differs from the model's tensors (\(first?.0 ?? "end"))")
        }
        try loadStateDict(tensors, on: backend, strict: true, source: source)
    }

    /// The tensors of an original model under torchvision names, for `configuration`, in the model's
    /// definition order. Convolution, batch-norm and linear modules are matched one to one in depth-first
    /// order; kinds, shapes, strides, paddings and groups must agree. Version-1 batch norms (`running_std`
    /// = 1/√(var+eps)) are converted to variances; a file eps other than ours (1e-5) is folded into the
    /// variance so that var + eps is unchanged. Convolution biases must be absent or zero.
    public static func torch7Tensors(_ value: Torch7Value, configuration: ModelConfiguration,
                                     source: String) throws -> [(name: String, tensor: StoredTensor)] {
        let walk = try Torch7ModuleWalk(value, source: source)
        let targets = try Torch7Target.collect(configuration.spec())
        var result: [(name: String, tensor: StoredTensor)] = []
        for (module, target) in zip(walk.modules, targets) {
            guard module.kind == target.kind else {
                throw ResNeXtError.shapeMismatch("\(source): \(module.label) is a \(module.kind.rawValue) but the model's layer \(module.ordinal), \(target.name), is a \(target.kind.rawValue)")
            }
            result += try module.tensors(for: target, source: source)
        }
        if walk.modules.count != targets.count {
            let counts = "the file has \(walk.modules.count) convolution, batch-norm and linear modules but the model has \(targets.count)"
            if walk.modules.count > targets.count {
                throw ResNeXtError.shapeMismatch("\(source): \(counts); the first extra one is \(walk.modules[targets.count].label)")
            }
            throw ResNeXtError.shapeMismatch("\(source): \(counts); nothing in the file for \(targets[walk.modules.count].name) (\(targets[walk.modules.count].kind.rawValue)) and after")
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

    /// The model as the original's nn module tree: nn.Sequential of cudnn.SpatialConvolution,
    /// nn.SpatialBatchNormalization ("V 2"), cudnn.ReLU, nn.SpatialMaxPooling, stages of
    /// nn.Sequential(nn.ConcatTable(branch, shortcut), nn.CAddTable(true), cudnn.ReLU(true)),
    /// cudnn.SpatialAveragePooling, nn.View, nn.Linear — float32 tensors, none sharing storage, zero
    /// gradWeight/gradBias of the same shapes (as saved checkpoints have).
    public static func exportTorch7(_ model: ResNeXtModel, on backend: any Backend) throws -> Torch7Value {
        guard case .sequential(let top) = try model.configuration.spec() else {
            throw ResNeXtError.invalidArgument("model spec must be a sequence of layers")
        }
        var layers: [String: any Layer] = [:]
        func collect(_ layer: any Layer, _ prefix: String) {
            for (name, child) in layer.children {
                let full = Torch7Target.join(prefix, name)
                layers[full] = child
                collect(child, full)
            }
        }
        collect(model, "")
        let exporter = Torch7Exporter(backend: backend, layers: layers, training: model.isTraining, configuration: model.configuration)
        return exporter.sequential(try top.flatMap { try exporter.export($0.spec, name: $0.name) })
    }

    /// Writes ``exportTorch7(_:on:)`` to `path` atomically.
    public func saveTorch7(_ path: String, on backend: any Backend) throws {
        try Torch7.write(Self.exportTorch7(self, on: backend), to: path)
    }
}

// MARK: - Our side: the layers with weights, in definition order

enum Torch7LayerKind: String {
    case convolution, batchNorm = "batch norm", linear
}

struct Torch7Target {
    let name: String
    let spec: LayerSpec

    var kind: Torch7LayerKind {
        switch spec {
        case .convolution: .convolution
        case .batchNorm: .batchNorm
        default: .linear
        }
    }

    static func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    /// Convolutions, batch norms and linear layers of `spec` under their torchvision names, in the order
    /// of `namedTensors()` (residual branches in the block's namespace, then `downsample`).
    static func collect(_ spec: LayerSpec) -> [Torch7Target] {
        var result: [Torch7Target] = []
        func visit(_ spec: LayerSpec, _ name: String) {
            switch spec {
            case .convolution, .batchNorm, .linear:
                result.append(Torch7Target(name: name, spec: spec))
            case .sequential(let children):
                for (child, s) in children { visit(s, join(name, child)) }
            case let .residual(before, branch, shortcut, after):
                for (child, s) in before + branch { visit(s, join(name, child)) }
                if let shortcut { visit(shortcut, join(name, "downsample")) }
                for (child, s) in after { visit(s, join(name, child)) }
            case .parallel(let paths):
                for (i, p) in paths.enumerated() { visit(p, join(name, String(i))) }
            case .relu, .maxPool, .globalAveragePool, .flatten, .zeroPadShortcut:
                break
            }
        }
        visit(spec, "")
        return result
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

    /// The module's tensors under `target`'s names, checked against the target's shapes.
    func tensors(for target: Torch7Target, source: String) throws -> [(name: String, tensor: StoredTensor)] {
        func mismatch(_ what: String, _ sizes: [Int], _ name: String, _ expected: [Int]) -> ResNeXtError {
            .shapeMismatch("\(source): \(label): \(what) is \(sizes) in the file but \(target.name).\(name) is \(expected) in the model")
        }
        switch target.spec {
        case let .convolution(i, o, k, s, p, g, hasBias):
            let expected = [o, i / g, k, k]
            let w = try requiredTensor("weight", source: source)
            // nn.SpatialConvolutionMM keeps [out, in·kH·kW]; old grouped cudnn convolutions [groups, out/groups, in/groups, kH, kW].
            let acceptable = w.sizes == expected
                || (w.sizes.count == 2 && w.sizes[0] == o && w.sizes[1] == (i / g) * k * k)
                || (w.sizes.count == 5 && w.sizes[0] == g && w.sizes[0] * w.sizes[1] == o && Array(w.sizes[2...]) == [i / g, k, k])
            guard acceptable else { throw mismatch("weight", w.sizes, "weight", expected) }
            let checks: [(String, Int)] = [("nInputPlane", i), ("nOutputPlane", o), ("kW", k), ("kH", k), ("dW", s), ("dH", s),
                                           ("padW", p), ("padH", p), ("groups", g)]
            for (field, want) in checks {
                if let have = int(field), have != want {
                    throw ResNeXtError.shapeMismatch("\(source): \(label): \(field) is \(have) in the file but \(want) for \(target.name) in the model")
                }
            }
            var bias: [Float]?
            if let b = try tensor("bias", source: source), b.elementCount > 0 {
                guard b.elementCount == o else { throw mismatch("bias", b.sizes, "bias", [o]) }
                bias = try b.floats()
            }
            let weight = (target.name + ".weight", StoredTensor(shape: expected, floats: try w.floats()))
            if hasBias {   // a convolution stored without one has a zero bias
                return [weight, (target.name + ".bias", StoredTensor(shape: [o], floats: bias ?? [Float](repeating: 0, count: o)))]
            }
            if let values = bias, let index = values.firstIndex(where: { $0 != 0 }) {
                throw ResNeXtError.io("\(source): \(label) has a non-zero bias (element \(index + 1) is \(values[index])); the model's convolution \(target.name) has no bias")
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
            let ourEps = 1e-5
            let variance: [Float]
            if (try tensor("running_var", source: source)) != nil {
                variance = try vector("running_var", "running_var").map { Float(Double($0) + fileEps - ourEps) }
            } else if (try tensor("running_std", source: source)) != nil {
                // Version-1 files: running_std = 1/sqrt(var + eps).
                variance = try vector("running_std", "running_var").map { Float(1 / (Double($0) * Double($0)) - ourEps) }
            } else {
                throw ResNeXtError.io("\(source): \(label) has neither running_var nor running_std")
            }
            return [(target.name + ".weight", StoredTensor(shape: [c], floats: gamma)),
                    (target.name + ".bias", StoredTensor(shape: [c], floats: beta)),
                    (target.name + ".running_mean", StoredTensor(shape: [c], floats: mean)),
                    (target.name + ".running_var", StoredTensor(shape: [c], floats: variance))]

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
            return [(target.name + ".weight", StoredTensor(shape: [o, i], floats: try w.floats())),
                    (target.name + ".bias", StoredTensor(shape: [o], floats: bias))]

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

    private func bad(_ message: String) -> ResNeXtError { .io("\(source): \(message)") }

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
            Torch7Module.convolutionClasses.contains(className) ? .convolution
            : Torch7Module.batchNormClasses.contains(className) ? .batchNorm
            : Torch7Module.linearClasses.contains(className) ? .linear : nil
        if let kind {
            modules.append(Torch7Module(ordinal: modules.count + 1, className: className, version: version, fields: fields,
                                        path: path, kind: kind))
            return
        }
        if case .tensor(let w)? = fields["weight"], w.elementCount > 0 {
            throw bad("\(path) (\(className)) has weights but is not a supported layer (convolution, batch norm or nn.Linear)")
        }
        guard let children = try self.children(of: fields, className: className, path: path) else { return }
        var segmentStart = modules.count   // layers of this container since its last block: a block's `before`
        var i = 0
        while i < children.count {
            let (key, child) = children[i]
            let childPath = "\(path).modules[\(key)]"
            if child.className == "nn.ConcatTable", i + 1 < children.count, children[i + 1].value.className == "nn.CAddTable",
               let concat = child.fields {
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
                blocks.append(Torch7Block(stage: parent.map { ObjectIdentifier($0) }, before: segmentStart..<start, branch: start..<middle,
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

    // MARK: Configuration inference

    private enum Family: Equatable { case basic, bottleneck, pathsB(Int) }

    func inferConfiguration() throws -> ModelConfiguration {
        guard let first = blocks.first else {
            throw bad("no residual blocks (nn.ConcatTable followed by nn.CAddTable) in the module tree")
        }
        func list(_ ms: ArraySlice<Torch7Module>) -> String {
            ms.isEmpty ? "nothing" : ms.prefix(4).map(\.label).joined(separator: ", ") + (ms.count > 4 ? ", …" : "")
        }
        // Pre-activation networks (preresnet.lua) have no ReLU after their additions.
        let preActivation = !first.reluAfterAdd
        guard blocks.allSatisfy({ $0.reluAfterAdd == first.reluAfterAdd }) else {
            throw bad("some residual blocks have a ReLU after their addition and others do not")
        }
        let stem = modules[0..<first.before.lowerBound]
        let stemFits = stem.first?.kind == .convolution
            && ((stem.count == 2 && stem.last?.kind == .batchNorm) || (stem.count == 1 && preActivation))
        guard stemFits else {
            throw bad("expected one convolution and one batch norm before the first residual block, found \(list(stem))")
        }
        let stemConv = try stem[stem.startIndex].convolutionInfo(source: source)
        let stemType: Stem
        switch stemConv.kernel {
        case 7: stemType = .imagenet
        case 3: stemType = .cifar
        default: throw bad("\(stem[stem.startIndex].label) has a \(stemConv.kernel)×\(stemConv.kernel) kernel; only 7×7 (ImageNet) and 3×3 (CIFAR) stems are known")
        }
        var next = first.before.lowerBound
        for block in blocks {
            guard block.before.lowerBound == next else {
                throw bad("layers with weights outside residual blocks before \(block.path): \(list(modules[next..<block.before.lowerBound]))")
            }
            guard modules[block.before].allSatisfy({ $0.kind == .batchNorm }), block.before.count <= 1 else {
                throw bad("the residual block at \(block.path) has \(list(modules[block.before])) before its split; only a batch norm (pre-activation) is known")
            }
            next = block.afterAdd.upperBound
        }
        let head = modules[next...]
        let expectedHead = preActivation ? "one batch norm and one nn.Linear" : "one nn.Linear"
        guard head.count == (preActivation ? 2 : 1), let fc = head.last, fc.kind == .linear,
              !preActivation || head.first?.kind == .batchNorm else {
            throw bad("expected \(expectedHead) after the last residual block, found \(list(head))")
        }
        let fcWeight = try fc.requiredTensor("weight", source: source)
        guard fcWeight.sizes.count == 2, fcWeight.sizes[0] > 0 else { throw bad("\(fc.label) has a weight of shape \(fcWeight.sizes)") }

        // Per block: family, planes, inner width, groups, stride, projection shortcut.
        struct BlockInfo {
            let family: Family, planes: Int, width: Int, groups: Int, stride: Int, projection: Bool
            let shortcutBatchNorm: Bool, batchNormAfterAddition: Bool
        }
        var infos: [BlockInfo] = []
        for block in blocks {
            let convs = try modules[block.branch].filter { $0.kind == .convolution }.map { try $0.convolutionInfo(source: source) }
            let family: Family
            switch convs.count {
            case 2: family = .basic
            case 3: family = .bottleneck
            case let n where n >= 5 && n % 2 == 1: family = .pathsB((n - 1) / 2)
            default:
                throw bad("the residual block at \(block.path) has \(convs.count) convolutions in its branch; expected 2 (basic), 3 (bottleneck) or 2·C+1 (ResNeXt form B)")
            }
            let last = convs[convs.count - 1]
            let planes: Int, width: Int, groups: Int, stride: Int
            switch family {
            case .basic:
                (planes, width, groups, stride) = (last.outChannels, last.outChannels, 1, convs[0].stride)
            case .bottleneck:
                guard last.outChannels % 4 == 0 else { throw bad("the bottleneck at \(block.path) outputs \(last.outChannels) channels, not a multiple of 4") }
                (planes, width, groups, stride) = (last.outChannels / 4, convs[0].outChannels, convs[1].groups, convs[1].stride)
            case .pathsB(let c):
                guard last.outChannels % 4 == 0 else { throw bad("the bottleneck at \(block.path) outputs \(last.outChannels) channels, not a multiple of 4") }
                (planes, width, groups, stride) = (last.outChannels / 4, convs[0].outChannels * c, c, convs[1].stride)
            }
            let projection = modules[block.shortcut].contains { $0.kind == .convolution }
            guard block.afterAdd.count <= 1 else {
                throw bad("the residual block at \(block.path) has \(block.afterAdd.count) batch norms after its addition; at most one is known")
            }
            infos.append(BlockInfo(family: family, planes: planes, width: width, groups: groups, stride: stride, projection: projection,
                                   shortcutBatchNorm: modules[block.shortcut].contains { $0.kind == .batchNorm },
                                   batchNormAfterAddition: !block.afterAdd.isEmpty))
        }
        let family = infos[0].family
        guard infos.allSatisfy({ $0.family == family }) else { throw bad("residual blocks of different types in one network") }
        let batchNormAfterAddition = infos[0].batchNormAfterAddition
        guard infos.allSatisfy({ $0.batchNormAfterAddition == batchNormAfterAddition }) else {
            throw bad("some residual blocks have a batch norm after the addition and others do not")
        }
        let projections = infos.filter(\.projection)
        let shortcutBatchNorm = projections.first?.shortcutBatchNorm ?? true
        guard projections.allSatisfy({ $0.shortcutBatchNorm == shortcutBatchNorm }) else {
            throw bad("some projection shortcuts have a batch norm after their convolution and others do not")
        }

        // Stages: consecutive blocks with the same parent container.
        var stagePlanes: [Int] = [], stageWidths: [Int] = [], stageGroups: [Int] = [], blocksPerStage: [Int] = []
        var previous: ObjectIdentifier??
        for (block, info) in zip(blocks, infos) {
            if let previous, previous == block.stage {
                blocksPerStage[blocksPerStage.count - 1] += 1
                guard info.planes == stagePlanes.last, info.width == stageWidths.last, info.groups == stageGroups.last else {
                    throw bad("the residual block at \(block.path) has \(info.planes) planes and width \(info.width), unlike the first block of its stage")
                }
            } else {
                stagePlanes.append(info.planes)
                stageWidths.append(info.width)
                stageGroups.append(info.groups)
                blocksPerStage.append(1)
            }
            previous = .some(block.stage)
        }

        var blockType: BlockType
        var cardinality = 1, baseWidth = 64
        switch family {
        case .basic:
            blockType = .basic
        case .bottleneck, .pathsB:
            cardinality = stageGroups[0]
            guard stageGroups.allSatisfy({ $0 == cardinality }) else { throw bad("stages with different group counts \(stageGroups)") }
            if case .pathsB = family {
                blockType = .resnextB
            } else {
                blockType = cardinality == 1 && stageWidths == stagePlanes ? .resnet : .resnextC
            }
            if blockType != .resnet {
                baseWidth = try inferBaseWidth(planes: stagePlanes, widths: stageWidths, cardinality: cardinality)
            }
        }

        var channels = stemConv.outChannels
        var sawA = false, sawC = false
        for info in infos {
            let out = info.planes * (family == .basic ? 1 : 4)
            let changes = info.stride != 1 || channels != out
            if info.projection && !changes { sawC = true }
            if !info.projection && changes { sawA = true }
            channels = out
        }
        guard !(sawA && sawC) else { throw bad("both zero-padding and all-projection shortcuts appear; no shortcut type fits") }
        // Biases that are all zero (or absent) are no biases.
        let convolutionBias = try modules.contains { module in
            guard module.kind == .convolution, let bias = try module.tensor("bias", source: source) else { return false }
            return try bias.floats().contains { $0 != 0 }
        }
        let configuration = ModelConfiguration(
            stem: stemType, inputChannels: stemConv.inChannels, stemWidth: stemConv.outChannels, stagePlanes: stagePlanes,
            blocksPerStage: blocksPerStage, blockType: blockType, baseWidth: baseWidth, cardinality: cardinality,
            shortcutType: sawC ? .C : (sawA ? .A : .B), classes: fcWeight.sizes[0],
            shortcutBatchNorm: shortcutBatchNorm, batchNormAfterAddition: batchNormAfterAddition, preActivation: preActivation,
            convolutionBias: convolutionBias)
        do {
            try configuration.validate()
        } catch {
            throw bad("the module tree describes an invalid network (\(configuration)): \(error)")
        }
        return configuration
    }

    /// The smallest base width with floor(planes·baseWidth/64)·cardinality = width in every stage.
    private func inferBaseWidth(planes: [Int], widths: [Int], cardinality: Int) throws -> Int {
        var lower = 1, upper = Int.max
        for (p, w) in zip(planes, widths) {
            guard p > 0, w % cardinality == 0 else {
                throw bad("inner width \(w) is not a multiple of the cardinality \(cardinality)")
            }
            let d = w / cardinality
            lower = max(lower, (d * 64 + p - 1) / p)
            upper = min(upper, ((d + 1) * 64 + p - 1) / p - 1)
        }
        guard lower <= upper else {
            throw bad("inner widths \(widths) do not follow floor(planes·baseWidth/64)·\(cardinality) for planes \(planes)")
        }
        return lower
    }
}

// MARK: - Export

struct Torch7Exporter {
    let backend: any Backend
    let layers: [String: any Layer]
    let training: Bool
    let configuration: ModelConfiguration

    func module(_ className: String, version: Int = 1, _ fields: [(String, Torch7Value)]) -> Torch7Value {
        let common: [(String, Torch7Value)] = [("output", .tensor(.empty())), ("gradInput", .tensor(.empty())),
                                               ("_type", .string("torch.FloatTensor")), ("train", .boolean(training))]
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

    private func layer<T>(_ name: String, as type: T.Type) throws -> T {
        guard let layer = layers[name] as? T else {
            throw ResNeXtError.invalidArgument("exportTorch7: the model has no \(T.self) named \(name)")
        }
        return layer
    }

    private var relu: Torch7Value {
        module("cudnn.ReLU", [("inplace", .boolean(true)), ("mode", .string("CUDNN_ACTIVATION_RELU"))])
    }

    private func averagePool(kernel: Int, stride: Int) -> Torch7Value {
        module("cudnn.SpatialAveragePooling", [
            ("kW", number(kernel)), ("kH", number(kernel)), ("dW", number(stride)), ("dH", number(stride)),
            ("padW", number(0)), ("padH", number(0)), ("ceil_mode", .boolean(false)), ("count_include_pad", .boolean(true)),
            ("mode", .string("CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING")),
        ])
    }

    /// The final feature map size at the native resolution (7 for ImageNet, 8 for CIFAR).
    private var finalMapSize: Int {
        var h = configuration.nativeResolution
        if configuration.stem == .imagenet { h = (h - 1) / 2 + 1; h = (h - 1) / 2 + 1 }
        for _ in 1..<max(configuration.stagePlanes.count, 1) { h = (h - 1) / 2 + 1 }
        return max(h, 1)
    }

    /// The module(s) for `spec` named `name` (a parallel set of paths becomes ConcatTable + JoinTable).
    func export(_ spec: LayerSpec, name: String) throws -> [Torch7Value] {
        switch spec {
        case let .convolution(i, o, k, s, p, g, _):
            let conv = try layer(name, as: Conv2d.self)
            var fields: [(String, Torch7Value)] = [
                ("nInputPlane", number(i)), ("nOutputPlane", number(o)), ("kW", number(k)), ("kH", number(k)),
                ("dW", number(s)), ("dH", number(s)), ("padW", number(p)), ("padH", number(p)), ("groups", number(g)),
                ("weight", try tensor(conv.weight)), ("gradWeight", zeros(like: conv.weight)),
            ]
            if let bias = conv.bias { fields += [("bias", try tensor(bias)), ("gradBias", zeros(like: bias))] }
            return [module("cudnn.SpatialConvolution", fields)]
        case .batchNorm:
            let bn = try layer(name, as: BatchNorm2d.self)
            return [module("nn.SpatialBatchNormalization", version: 2, [
                ("eps", .number(decimal(bn.epsilon))), ("momentum", .number(decimal(bn.momentum))), ("affine", .boolean(true)),
                ("running_mean", try tensor(bn.runningMean)), ("running_var", try tensor(bn.runningVariance)),
                ("weight", try tensor(bn.weight)), ("bias", try tensor(bn.bias)),
                ("gradWeight", zeros(like: bn.weight)), ("gradBias", zeros(like: bn.bias)),
            ])]
        case .relu:
            return [relu]
        case let .maxPool(k, s, p):
            return [module("nn.SpatialMaxPooling", [
                ("kW", number(k)), ("kH", number(k)), ("dW", number(s)), ("dH", number(s)), ("padW", number(p)), ("padH", number(p)),
                ("ceil_mode", .boolean(false)), ("indices", .tensor(.empty("torch.LongTensor"))),
            ])]
        case .globalAveragePool:
            return [averagePool(kernel: finalMapSize, stride: 1)]
        case .flatten:
            let features = configuration.featureChannels
            return [module("nn.View", [("size", .storage(Torch7Storage(int64s: [Int64(features)]))),
                                       ("numElements", number(features)), ("numInputDims", number(3))])]
        case .linear:
            let fc = try layer(name, as: Linear.self)
            var fields: [(String, Torch7Value)] = [("weight", try tensor(fc.weight)), ("gradWeight", zeros(like: fc.weight))]
            if let bias = fc.bias { fields += [("bias", try tensor(bias)), ("gradBias", zeros(like: bias))] }
            return [module("nn.Linear", fields)]
        case .sequential(let children):
            return [sequential(try children.flatMap { try export($0.spec, name: Torch7Target.join(name, $0.name)) })]
        case let .residual(before, branch, shortcut, after):
            let body = sequential(try branch.flatMap { try export($0.spec, name: Torch7Target.join(name, $0.name)) })
            let skipName = Torch7Target.join(name, "downsample")
            let skip: [Torch7Value]
            switch shortcut {
            case nil:
                skip = [module("nn.Identity", [])]
            case .sequential(let only)? where only.count == 1:
                // A bare projection convolution, as in fb.resnet.torch's released ResNet-18/34/50.
                skip = try export(only[0].spec, name: Torch7Target.join(skipName, only[0].name))
            case let spec?:
                skip = try export(spec, name: skipName)
            }
            let concat = module("nn.ConcatTable", [("modules", .table(Torch7Table(array: [body] + skip)))])
            func modules(_ list: [(name: String, spec: LayerSpec)]) throws -> [Torch7Value] {
                try list.flatMap { try export($0.spec, name: Torch7Target.join(name, $0.name)) }
            }
            return [sequential(try modules(before) + [concat, module("nn.CAddTable", [("inplace", .boolean(true))])] + (try modules(after)))]
        case .parallel(let paths):
            let branches = try paths.enumerated().flatMap { try export($0.element, name: Torch7Target.join(name, String($0.offset))) }
            return [module("nn.ConcatTable", [("modules", .table(Torch7Table(array: branches)))]),
                    module("nn.JoinTable", [("dimension", number(2)), ("nInputDims", number(3)),
                                            ("size", .storage(Torch7Storage(int64s: [])))])]
        case .zeroPadShortcut(let s, _):
            let pad = module("nn.Concat", [
                ("dimension", number(2)), ("outputSize", .storage(Torch7Storage(int64s: []))),
                ("modules", .table(Torch7Table(array: [module("nn.Identity", []),
                                                       module("nn.MulConstant", [("constant_scalar", number(0)), ("inplace", .boolean(false))])]))),
            ])
            return [sequential([averagePool(kernel: 1, stride: s), pad])]
        }
    }
}
