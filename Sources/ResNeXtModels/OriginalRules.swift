import ResNeXtCore

/// The data sets the original knows, with what they fix about the network.
public enum DatasetKind: String, Sendable, Hashable, Codable, CaseIterable {
    case imagenet, cifar10, cifar100
    /// MNIST digits: CIFAR-style networks on 1-channel 28×28 images (not in the original).
    case mnist

    /// Classes when `-nClasses` is not given.
    public var defaultClasses: Int {
        switch self {
        case .imagenet: 1000
        case .cifar10, .mnist: 10
        case .cifar100: 100
        }
    }

    /// Image channels of the data set.
    public var inputChannels: Int { self == .mnist ? 1 : 3 }
}

extension ModelConfiguration {
    /// The network the original builds for these flags (models/resnext.lua, plus fb.resnet.torch's
    /// basic-block ResNets): ImageNet depth 50/101/152 with bottlenecks or 18/34 with basic blocks;
    /// CIFAR depth 9k+2 with bottlenecks (64/128/256 planes), or 6n+2 with basic blocks (16/32/64).
    /// `shortcutType` nil means the original's default (B; A for CIFAR basic-block ResNets).
    public static func original(
        dataset: DatasetKind, depth: Int, baseWidth: Int = 64, cardinality: Int = 1,
        blockType: BlockType = .resnextC, shortcutType: ShortcutType? = nil,
        classes: Int? = nil
    ) throws -> ModelConfiguration {
        let classes = classes ?? dataset.defaultClasses
        let config: ModelConfiguration
        switch dataset {
        case .imagenet:
            let bottleneck: [Int: [Int]] = [50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]]
            let basic: [Int: [Int]] = [18: [2, 2, 2, 2], 34: [3, 4, 6, 3]]
            let type: BlockType
            let blocks: [Int]
            if let b = bottleneck[depth], blockType != .basic {
                (type, blocks) = (blockType, b)
            } else if let b = basic[depth], blockType == .basic || blockType == .resnet {
                (type, blocks) = (.basic, b)
            } else {
                throw ResNeXtError.invalidArgument(
                    "invalid -depth \(depth) for imagenet with -bottleneckType \(blockType.rawValue): use 50, 101 or 152 (or 18, 34 with "
                        + "resnet/basic)"
                )
            }
            config = ModelConfiguration(
                stem: .imagenet, stemWidth: 64, stagePlanes: [64, 128, 256, 512], blocksPerStage: blocks,
                blockType: type, baseWidth: baseWidth, cardinality: type == .basic ? 1 : cardinality,
                shortcutType: shortcutType ?? .B, classes: classes)
        case .cifar10, .cifar100, .mnist:
            if blockType == .basic {
                guard depth >= 8, (depth - 2) % 6 == 0 else {
                    throw ResNeXtError.invalidArgument(
                        "invalid -depth \(depth) for CIFAR basic-block ResNets: depth must be 6n+2 (20, 32, 44, 56, 110, ...)")
                }
                let n = (depth - 2) / 6
                config = ModelConfiguration(
                    stem: .cifar, inputChannels: dataset.inputChannels, stemWidth: 16, stagePlanes: [16, 32, 64],
                    blocksPerStage: [n, n, n], blockType: .basic,
                    baseWidth: baseWidth, cardinality: 1, shortcutType: shortcutType ?? .A, classes: classes)
            } else {
                guard depth >= 11, (depth - 2) % 9 == 0 else {
                    throw ResNeXtError.invalidArgument(
                        "invalid -depth \(depth) for \(dataset.rawValue): depth must be 9k+2 (29, 38, 47, 56, 101, ...)")
                }
                let k = (depth - 2) / 9
                config = ModelConfiguration(
                    stem: .cifar, inputChannels: dataset.inputChannels, stemWidth: 64, stagePlanes: [64, 128, 256],
                    blocksPerStage: [k, k, k],
                    blockType: blockType, baseWidth: baseWidth, cardinality: cardinality,
                    shortcutType: shortcutType ?? .B, classes: classes)
            }
        }
        try config.validate()
        return config
    }

    /// One named preset: the original's flags that build it.
    private struct Preset {
        let name: String, dataset: DatasetKind, depth: Int, blockType: BlockType, cardinality: Int, baseWidth: Int
    }

    /// The presets: torchvision/timm names for ImageNet, the paper's CIFAR models, fb.resnet.torch's ResNets.
    private static let presets: [Preset] = [
        Preset(name: "resnext29_8x64d", dataset: .cifar10, depth: 29, blockType: .resnextC, cardinality: 8, baseWidth: 64),
        Preset(name: "resnext29_16x64d", dataset: .cifar10, depth: 29, blockType: .resnextC, cardinality: 16, baseWidth: 64),
        Preset(name: "resnext50_32x4d", dataset: .imagenet, depth: 50, blockType: .resnextC, cardinality: 32, baseWidth: 4),
        Preset(name: "resnext101_32x4d", dataset: .imagenet, depth: 101, blockType: .resnextC, cardinality: 32, baseWidth: 4),
        Preset(name: "resnext101_64x4d", dataset: .imagenet, depth: 101, blockType: .resnextC, cardinality: 64, baseWidth: 4),
        Preset(name: "resnext101_32x8d", dataset: .imagenet, depth: 101, blockType: .resnextC, cardinality: 32, baseWidth: 8),
        Preset(name: "resnext152_32x4d", dataset: .imagenet, depth: 152, blockType: .resnextC, cardinality: 32, baseWidth: 4),
        Preset(name: "resnet18", dataset: .imagenet, depth: 18, blockType: .basic, cardinality: 1, baseWidth: 64),
        Preset(name: "resnet34", dataset: .imagenet, depth: 34, blockType: .basic, cardinality: 1, baseWidth: 64),
        Preset(name: "resnet50", dataset: .imagenet, depth: 50, blockType: .resnet, cardinality: 1, baseWidth: 64),
        Preset(name: "resnet101", dataset: .imagenet, depth: 101, blockType: .resnet, cardinality: 1, baseWidth: 64),
        Preset(name: "resnet152", dataset: .imagenet, depth: 152, blockType: .resnet, cardinality: 1, baseWidth: 64),
        Preset(name: "resnet20", dataset: .cifar10, depth: 20, blockType: .basic, cardinality: 1, baseWidth: 64),
        Preset(name: "resnet32", dataset: .cifar10, depth: 32, blockType: .basic, cardinality: 1, baseWidth: 64),
        Preset(name: "resnet44", dataset: .cifar10, depth: 44, blockType: .basic, cardinality: 1, baseWidth: 64),
        Preset(name: "resnet56", dataset: .cifar10, depth: 56, blockType: .basic, cardinality: 1, baseWidth: 64),
        Preset(name: "resnet110", dataset: .cifar10, depth: 110, blockType: .basic, cardinality: 1, baseWidth: 64)
    ]

    /// Named presets: torchvision/timm names for ImageNet, the paper's CIFAR models, fb.resnet.torch's ResNets.
    public static let presetNames: [String] = presets.map(\.name)

    /// The configuration of a named preset (`classes` overrides its default class count; names are case-insensitive).
    public static func preset(_ name: String, classes: Int? = nil) throws -> ModelConfiguration {
        guard let p = presets.first(where: { $0.name == name.lowercased() }) else {
            throw ResNeXtError.invalidArgument("unknown model '\(name)'; known: \(presetNames.joined(separator: ", "))")
        }
        return try original(
            dataset: p.dataset, depth: p.depth, baseWidth: p.baseWidth, cardinality: p.cardinality,
            blockType: p.blockType, classes: classes)
    }
}
