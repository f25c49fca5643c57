import ResNeXtCore

/// The residual block of each stage.
public enum BlockType: String, Sendable, Hashable, Codable, CaseIterable {
    /// Plain bottleneck 1×1 → 3×3 → 1×1 (ResNet-50/101/152); ignores base width and cardinality.
    case resnet
    /// ResNeXt with C parallel paths (1×1 → 3×3 each) concatenated, then 1×1 (paper Fig. 3b).
    case resnextB = "resnext_B"
    /// ResNeXt with one grouped 3×3 convolution (paper Fig. 3c; the default).
    case resnextC = "resnext_C"
    /// Two 3×3 convolutions (fb.resnet.torch's ResNet-18/34 and CIFAR ResNet-20/32/44/56/110).
    case basic

    /// Output channels of a block per unit of `planes`.
    public var expansion: Int { self == .basic ? 1 : 4 }
}

/// How a block's input reaches its output when their shapes differ (the original's -shortcutType).
public enum ShortcutType: String, Sendable, Hashable, Codable, CaseIterable {
    /// Stride-subsample and append zero channels (only doubles channels).
    case A
    /// 1×1 convolution + batch norm where the shape changes, identity elsewhere (the default).
    case B
    /// 1×1 convolution + batch norm in every block.
    case C
}

/// The first layers of the network.
public enum Stem: String, Sendable, Hashable, Codable {
    /// 7×7/2 convolution, batch norm, ReLU, 3×3/2 max pooling (224×224 → 56×56).
    case imagenet
    /// 3×3/1 convolution, batch norm, ReLU (CIFAR's 32×32 stays 32×32).
    case cifar
}

/// Everything that determines a ResNeXt/ResNet: stem, stages, block, group width and classes.
/// ``ModelConfiguration/original(dataset:depth:baseWidth:cardinality:blockType:shortcutType:classes:)``
/// applies the original's rules; the fields allow any other variant (e.g. tiny test networks).
public struct ModelConfiguration: Sendable, Hashable, Codable, CustomStringConvertible {
    public var stem: Stem
    public var inputChannels: Int
    public var stemWidth: Int
    /// "planes" n of each stage; a bottleneck block outputs `expansion · n` channels.
    public var stagePlanes: [Int]
    public var blocksPerStage: [Int]
    public var blockType: BlockType
    /// Per-group width at 64 planes ("d" of C×d): group width D = floor(planes · baseWidth / 64).
    public var baseWidth: Int
    /// Number of groups (paths) C.
    public var cardinality: Int
    public var shortcutType: ShortcutType
    public var classes: Int
    /// Whether a projection shortcut's 1×1 convolution is followed by batch norm (true in the code;
    /// fb.resnet.torch's released ResNet-18/34/50 have a bare convolution, its issues #49 and #191).
    public var shortcutBatchNorm: Bool
    /// Whether the block's last batch norm follows the addition instead of the branch's last convolution,
    /// `relu(bn(branch(x) + shortcut(x)))` (fb.resnet.torch's released ResNet-50, its issue #117).
    public var batchNormAfterAddition: Bool
    /// Pre-activation blocks (fb.resnet.torch's preresnet.lua, its released ResNet-200): batch norm and ReLU
    /// before each block's convolutions, none after the addition, and a final batch norm and ReLU before the
    /// pooling. Projection shortcuts are bare convolutions there (`shortcutBatchNorm` false).
    public var preActivation: Bool
    /// Whether every convolution has a bias. fb.resnet.torch's code drops them (with cuDNN ≥ 4) but kept and
    /// trained them otherwise, and its released ResNets carry them (Cadene's port of ResNet-152 has a bias on
    /// every convolution). Off in the code and torchvision.
    public var convolutionBias: Bool

    public init(
        stem: Stem, inputChannels: Int = 3, stemWidth: Int, stagePlanes: [Int], blocksPerStage: [Int], blockType: BlockType,
        baseWidth: Int, cardinality: Int, shortcutType: ShortcutType, classes: Int,
        shortcutBatchNorm: Bool = true, batchNormAfterAddition: Bool = false, preActivation: Bool = false,
        convolutionBias: Bool = false
    ) {
        self.stem = stem
        self.inputChannels = inputChannels
        self.stemWidth = stemWidth
        self.stagePlanes = stagePlanes
        self.blocksPerStage = blocksPerStage
        self.blockType = blockType
        self.baseWidth = baseWidth
        self.cardinality = cardinality
        self.shortcutType = shortcutType
        self.classes = classes
        self.shortcutBatchNorm = shortcutBatchNorm
        self.batchNormAfterAddition = batchNormAfterAddition
        self.preActivation = preActivation
        self.convolutionBias = convolutionBias
    }

    /// Inner (grouped) width of a bottleneck with `planes`: floor(planes · baseWidth / 64) · cardinality.
    public func innerWidth(planes: Int) -> Int {
        switch blockType {
        case .resnet, .basic: planes
        case .resnextB, .resnextC: (planes * baseWidth / 64) * cardinality
        }
    }

    /// Channels of the features before the classifier.
    public var featureChannels: Int { (stagePlanes.last ?? stemWidth) * blockType.expansion }

    /// Total number of layers with weights (convolutions on the main path plus the classifier).
    public var depth: Int {
        blocksPerStage.reduce(0, +) * (blockType == .basic ? 2 : 3) + 2
    }

    public var description: String {
        var text =
            "\(stem) stem, blocks \(blocksPerStage), \(blockType.rawValue), \(cardinality)x\(baseWidth)d, shortcut "
            + "\(shortcutType.rawValue), \(classes) classes"
        if !shortcutBatchNorm { text += ", shortcut convolutions without batch norm" }
        if batchNormAfterAddition { text += ", batch norm after the addition" }
        if preActivation { text += ", pre-activation" }
        if convolutionBias { text += ", convolution biases" }
        return text
    }

    /// Throws a clear error for a configuration that cannot be built.
    public func validate() throws {
        func bad(_ m: String) -> ResNeXtError { .invalidArgument(m) }
        guard inputChannels > 0, stemWidth > 0 else { throw bad("input channels and stem width must be positive") }
        guard !stagePlanes.isEmpty, stagePlanes.count == blocksPerStage.count else {
            throw bad("need one block count per stage, got planes \(stagePlanes) and blocks \(blocksPerStage)")
        }
        guard stagePlanes.allSatisfy({ $0 > 0 }), blocksPerStage.allSatisfy({ $0 > 0 }) else {
            throw bad("stage widths and block counts must be positive, got \(stagePlanes) and \(blocksPerStage)")
        }
        guard cardinality > 0 else { throw bad("cardinality must be at least 1, got \(cardinality)") }
        guard baseWidth > 0 else { throw bad("baseWidth must be at least 1, got \(baseWidth)") }
        guard classes > 0 else { throw bad("the number of classes must be at least 1, got \(classes)") }
        try checkBounds()
        if blockType == .resnextB || blockType == .resnextC, let planes = stagePlanes.first, planes * baseWidth / 64 < 1 {
            throw bad("baseWidth \(baseWidth) gives a group width of 0 at \(planes) planes (floor(planes·baseWidth/64) must be ≥ 1)")
        }
        if preActivation && (blockType == .resnextB || batchNormAfterAddition) {
            throw bad("pre-activation blocks are built for basic, resnet and resnext_C blocks without a batch norm after the addition")
        }
        if blockType == .basic, cardinality != 1 {
            throw bad("basic (two 3×3) blocks have no groups; cardinality must be 1, got \(cardinality)")
        }
        if shortcutType == .A {
            var channels = stemWidth
            for planes in stagePlanes {
                let out = planes * blockType.expansion
                if out != channels && out != 2 * channels {
                    throw bad(
                        "shortcut type A (zero padding) can only keep or double channels, but a block goes from \(channels) to \(out); "
                            + "use -shortcutType B or C"
                    )
                }
                channels = out
            }
        }
    }
}

/// Bounds on what a configuration may describe, checked before anything is allocated: a flag such as
/// `-depth 900000002` or a crafted configuration in a file must give an error, not an allocation of
/// hundreds of gigabytes. They are far above every published ResNet/ResNeXt (ResNet-1202 has 600 blocks,
/// ResNeXt-101 64×4d 83.5 M parameters).
public enum ModelLimits {
    public static let stages = 16
    public static let blocks = 10_000
    public static let channels = 1 << 16
    public static let classes = 1_000_000
    public static let parameters = 2_000_000_000
}

extension ModelConfiguration {
    /// Every count and width within ``ModelLimits`` (each factor bounded before any product is formed).
    func checkBounds() throws {
        func bad(_ m: String) -> ResNeXtError { .invalidArgument(m) }
        let channelFields = [
            ("input channels", inputChannels), ("stem width", stemWidth), ("baseWidth", baseWidth), ("cardinality", cardinality)
        ]
        for (name, value) in channelFields where value > ModelLimits.channels {
            throw bad("\(name) \(value) is above the limit of \(ModelLimits.channels)")
        }
        guard stagePlanes.count <= ModelLimits.stages else { throw bad("\(stagePlanes.count) stages; at most \(ModelLimits.stages)") }
        if let planes = stagePlanes.first(where: { $0 > ModelLimits.channels }) {
            throw bad("a stage of \(planes) planes is above the limit of \(ModelLimits.channels)")
        }
        guard blocksPerStage.allSatisfy({ $0 <= ModelLimits.blocks }), blocksPerStage.reduce(0, +) <= ModelLimits.blocks else {
            throw bad("blocks per stage \(blocksPerStage): more than \(ModelLimits.blocks) blocks in all (check -depth)")
        }
        guard classes <= ModelLimits.classes else { throw bad("\(classes) classes; at most \(ModelLimits.classes)") }
        for planes in stagePlanes where innerWidth(planes: planes) > ModelLimits.channels {
            throw bad(
                "a block \(innerWidth(planes: planes)) channels wide (\(cardinality) groups × \(planes * baseWidth / 64)) is above "
                    + "the limit of \(ModelLimits.channels) (check -baseWidth and -cardinality)")
        }
    }

    /// Validates the configuration and throws when the network would have more than
    /// ``ModelLimits/parameters`` parameters.
    public func checkSize() throws { try Self.checkSize(of: try spec()) }

    /// Throws when `spec` has more than ``ModelLimits/parameters`` parameters.
    static func checkSize(of spec: LayerSpec) throws {
        let count = spec.parameterCount
        guard count <= ModelLimits.parameters else {
            throw ResNeXtError.invalidArgument(
                "the network would have \(NumberFormat.thousands(count)) parameters, more than the limit of "
                    + "\(NumberFormat.thousands(ModelLimits.parameters))")
        }
    }
}
