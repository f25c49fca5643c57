import ResNeXtCore

/// The original's builder flags (`-depth -baseWidth -cardinality -bottleneckType -shortcutType`), with
/// opts.lua's defaults.
public struct OriginalModelFlags: Sendable, Hashable, Codable {
    public var depth = 34
    public var baseWidth = 64
    public var cardinality = 1
    public var bottleneckType = BlockType.resnextC
    /// nil: the data set's default (B; A for CIFAR basic-block ResNets).
    public var shortcutType: ShortcutType?

    public init(
        depth: Int = 34, baseWidth: Int = 64, cardinality: Int = 1, bottleneckType: BlockType = .resnextC,
        shortcutType: ShortcutType? = nil
    ) {
        self.depth = depth
        self.baseWidth = baseWidth
        self.cardinality = cardinality
        self.bottleneckType = bottleneckType
        self.shortcutType = shortcutType
    }
}

/// Which network a command builds: a named preset (`--arch resnext50_32x4d`) or the original's flags.
public enum ModelChoice: Sendable, Hashable, Codable {
    case preset(String)
    case original(OriginalModelFlags)

    /// The configuration for `dataset` with `classes` outputs (nil: the data set's, or the preset's, count).
    /// Presets take the data set's input channels (1 for MNIST).
    public func configuration(dataset: DatasetKind, classes: Int?) throws -> ModelConfiguration {
        switch self {
        case .preset(let name):
            var preset = try ModelConfiguration.preset(name, classes: classes)
            preset.inputChannels = dataset.inputChannels
            return preset
        case .original(let f):
            return try ModelConfiguration.original(
                dataset: dataset, depth: f.depth, baseWidth: f.baseWidth, cardinality: f.cardinality,
                blockType: f.bottleneckType, shortcutType: f.shortcutType, classes: classes)
        }
    }
}
