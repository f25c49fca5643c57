import ArgumentParser
import ResNeXtCore
import ResNeXtModels

/// The original's model flags (single-dash camelCase, as `th main.lua`), with `--long` aliases, or a preset.
struct ModelOptions: ParsableArguments {
    @Option(
        name: [.customLong("arch"), .customLong("model")],
        help: "A named preset (\(ModelConfiguration.presetNames.joined(separator: ", "))); overrides the flags below.")
    var arch: String?

    @Option(name: [.customLong("dataset", withSingleDash: true), .customLong("dataset")], help: "imagenet | cifar10 | cifar100 | mnist")
    var dataset: String = "imagenet"

    @Option(
        name: [.customLong("depth", withSingleDash: true), .customLong("depth")],
        help: "Network depth (ImageNet 50/101/152 or 18/34; CIFAR 9k+2, or 6n+2 with basic blocks).")
    var depth: Int?

    @Option(
        name: [.customLong("baseWidth", withSingleDash: true), .customLong("base-width")], help: "Per-group width d at the first stage.")
    var baseWidth: Int = 64

    @Option(name: [.customLong("cardinality", withSingleDash: true), .customLong("cardinality")], help: "Number of groups C.")
    var cardinality: Int = 1

    @Option(
        name: [.customLong("bottleneckType", withSingleDash: true), .customLong("bottleneck-type")],
        help: "resnext_C | resnext_B | resnet | basic")
    var bottleneckType: String = "resnext_C"

    @Option(
        name: [.customLong("shortcutType", withSingleDash: true), .customLong("shortcut-type")],
        help: "A | B | C (default: the dataset's: B; A for CIFAR basic-block ResNets)")
    var shortcutType: String = ""

    @Option(name: [.customLong("nClasses", withSingleDash: true), .customLong("classes")], help: "Number of classes (0: the dataset's).")
    var nClasses: Int = 0

    /// The data set the flags name.
    func datasetKind() throws -> DatasetKind {
        guard let kind = DatasetKind(rawValue: dataset) else {
            throw ValidationError("unknown -dataset '\(dataset)' (expected imagenet, cifar10, cifar100 or mnist)")
        }
        return kind
    }

    /// The network the flags choose: the preset, or the original's flags with -depth (`defaultDepth` when
    /// -depth is absent; without one either, nil).
    func choice(defaultDepth: Int? = nil) throws -> ModelChoice? {
        if let arch { return .preset(arch) }
        guard let block = BlockType(rawValue: bottleneckType) else {
            throw ValidationError("unknown -bottleneckType '\(bottleneckType)' (expected resnext_C, resnext_B, resnet or basic)")
        }
        var shortcut: ShortcutType?
        if !shortcutType.isEmpty {
            guard let s = ShortcutType(rawValue: shortcutType) else {
                throw ValidationError("unknown -shortcutType '\(shortcutType)' (expected A, B or C)")
            }
            shortcut = s
        }
        guard let depth = depth ?? defaultDepth else { return nil }
        return .original(
            OriginalModelFlags(
                depth: depth, baseWidth: baseWidth, cardinality: cardinality, bottleneckType: block,
                shortcutType: shortcut))
    }

    /// The configuration these flags describe, or a clear error naming the flag at fault.
    func configuration() throws -> ModelConfiguration {
        if nClasses < 0 { throw ValidationError("-nClasses must be positive, got \(nClasses)") }
        guard let choice = try choice() else { throw Self.missingDepth }
        return try choice.configuration(dataset: try datasetKind(), classes: nClasses > 0 ? nClasses : nil)
    }

    static var missingDepth: ValidationError { ValidationError("give -depth (e.g. -depth 29 for CIFAR, 50 for ImageNet) or --arch NAME") }
}
