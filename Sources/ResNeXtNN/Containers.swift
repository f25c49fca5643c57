import ResNeXtCore

/// Layers applied in order. Children are named "0", "1", … unless names are given (torchvision style).
public final class Sequential: Layer {
    public let layers: [(name: String, layer: any Layer)]
    public var isTraining = true

    public init(_ layers: [any Layer]) {
        self.layers = layers.enumerated().map { (String($0.offset), $0.element) }
    }

    public init(named layers: [(String, any Layer)]) {
        self.layers = layers.map { (name: $0.0, layer: $0.1) }
    }

    public var children: [(name: String, layer: any Layer)] { layers }

    public func forward(_ x: Tensor) throws -> Tensor {
        try layers.reduce(x) { try $1.layer.forward($0) }
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        try layers.reversed().reduce(dy) { try $1.layer.backward($0) }
    }
}

/// `afterAdd(branch(y) + shortcut(y))` with `y = before(x)`, the shortcut being the identity when absent and
/// `before`/`afterAdd` usually a list of none / a ReLU (the original's post-activation residual block).
///
/// With `branchName` nil the branch's children are named directly in this block's namespace, as in
/// torchvision's `Bottleneck` (`layer1.0.conv1.weight`, `layer1.0.downsample.0.weight`); `before` and
/// `afterAdd` layers are always named in the block's namespace (before the branch, after the shortcut).
public final class Residual: Layer {
    public let backend: any Backend
    public let branch: any Layer
    public let shortcut: (any Layer)?
    private let branchName: String?
    private let shortcutName: String
    /// Layers applied to the input before it splits into branch and shortcut (pre-activation blocks).
    public let before: [(name: String, layer: any Layer)]
    /// Layers applied to the sum: usually its ReLU, and before it fb.resnet.torch ResNet-50's batch norm.
    public let afterAdd: [(name: String, layer: any Layer)]
    public var isTraining = true

    public init(
        _ backend: any Backend, before: [(name: String, layer: any Layer)] = [], branch: any Layer, shortcut: (any Layer)? = nil,
        branchName: String? = "branch", shortcutName: String = "downsample",
        afterAdd: [(name: String, layer: any Layer)] = []
    ) {
        self.backend = backend
        self.before = before
        self.branch = branch
        self.shortcut = shortcut
        self.branchName = branchName
        self.shortcutName = shortcutName
        self.afterAdd = afterAdd
    }

    public var children: [(name: String, layer: any Layer)] {
        let main: [(name: String, layer: any Layer)] = branchName.map { [($0, branch)] } ?? branch.children
        return before + main + (shortcut.map { [(shortcutName, $0)] } ?? []) + afterAdd
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        let x = try before.reduce(input) { try $1.layer.forward($0) }
        let b = try branch.forward(x)
        let s = try shortcut?.forward(x) ?? x
        guard b.shape == s.shape else {
            throw ResNeXtError.shapeMismatch("residual branch output \(b.shape) and shortcut output \(s.shape) differ")
        }
        return try afterAdd.reduce(try backend.add(b, s)) { try $1.layer.forward($0) }
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let dSum = try afterAdd.reversed().reduce(dy) { try $1.layer.backward($0) }
        let db = try branch.backward(dSum)
        let ds = try shortcut?.backward(dSum) ?? dSum
        return try before.reversed().reduce(try backend.add(db, ds)) { try $1.layer.backward($0) }
    }
}

/// Runs parallel branches on the same input and concatenates their outputs along channels
/// (ResNeXt's type-B bottleneck).
public final class ConcatBranches: Layer {
    public let backend: any Backend
    public let branches: [any Layer]
    public var isTraining = true
    private var channels: [Int]?

    public init(_ backend: any Backend, branches: [any Layer]) throws {
        guard !branches.isEmpty else { throw ResNeXtError.invalidArgument("ConcatBranches needs at least one branch") }
        self.backend = backend
        self.branches = branches
    }

    public var children: [(name: String, layer: any Layer)] {
        branches.enumerated().map { (String($0.offset), $0.element) }
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        let outputs = try branches.map { try $0.forward(x) }
        channels = outputs.map { $0.shape[1] }
        return try backend.concatenateChannels(outputs)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let pieces = try backend.splitChannels(dy, sizes: try saved(channels, "ConcatBranches"))
        var total: Tensor?
        for (branch, piece) in zip(branches, pieces) {
            let dx = try branch.backward(piece)
            total = try total.map { try backend.add($0, dx) } ?? dx
        }
        return total!
    }
}
