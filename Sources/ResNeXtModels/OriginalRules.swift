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
    public static func original(dataset: DatasetKind, depth: Int, baseWidth: Int = 64, cardinality: Int = 1,
                                blockType: BlockType = .resnextC, shortcutType: ShortcutType? = nil,
                                classes: Int? = nil) throws -> ModelConfiguration {
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
                throw ResNeXtError.invalidArgument("invalid -depth \(depth) for imagenet with -bottleneckType \(blockType.rawValue): use 50, 101 or 152 (or 18, 34 with resnet/basic)")
            }
            config = ModelConfiguration(stem: .imagenet, stemWidth: 64, stagePlanes: [64, 128, 256, 512], blocksPerStage: blocks,
                                        blockType: type, baseWidth: baseWidth, cardinality: type == .basic ? 1 : cardinality,
                                        shortcutType: shortcutType ?? .B, classes: classes)
        case .cifar10, .cifar100, .mnist:
            if blockType == .basic {
                guard depth >= 8, (depth - 2) % 6 == 0 else {
                    throw ResNeXtError.invalidArgument("invalid -depth \(depth) for CIFAR basic-block ResNets: depth must be 6n+2 (20, 32, 44, 56, 110, ...)")
                }
                let n = (depth - 2) / 6
                config = ModelConfiguration(stem: .cifar, inputChannels: dataset.inputChannels, stemWidth: 16, stagePlanes: [16, 32, 64],
                                            blocksPerStage: [n, n, n], blockType: .basic,
                                            baseWidth: baseWidth, cardinality: 1, shortcutType: shortcutType ?? .A, classes: classes)
            } else {
                guard depth >= 11, (depth - 2) % 9 == 0 else {
                    throw ResNeXtError.invalidArgument("invalid -depth \(depth) for \(dataset.rawValue): depth must be 9k+2 (29, 38, 47, 56, 101, ...)")
                }
                let k = (depth - 2) / 9
                config = ModelConfiguration(stem: .cifar, inputChannels: dataset.inputChannels, stemWidth: 64, stagePlanes: [64, 128, 256],
                                            blocksPerStage: [k, k, k],
                                            blockType: blockType, baseWidth: baseWidth, cardinality: cardinality,
                                            shortcutType: shortcutType ?? .B, classes: classes)
            }
        }
        try config.validate()
        return config
    }

    /// Named presets: torchvision/timm names for ImageNet, the paper's CIFAR models, fb.resnet.torch's ResNets.
    public static let presetNames: [String] = [
        "resnext29_8x64d", "resnext29_16x64d", "resnext50_32x4d", "resnext101_32x4d", "resnext101_64x4d", "resnext101_32x8d",
        "resnext152_32x4d", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
    ]

    /// The configuration of a named preset (`classes` overrides its default class count).
    public static func preset(_ name: String, classes: Int? = nil) throws -> ModelConfiguration {
        let lower = name.lowercased()
        if lower.hasPrefix("resnext") {
            // resnext<depth>_<C>x<d>d
            let body = lower.dropFirst("resnext".count)
            let parts = body.split(separator: "_")
            if parts.count == 2, let depth = Int(parts[0]), parts[1].hasSuffix("d") {
                let cd = parts[1].dropLast().split(separator: "x")
                if cd.count == 2, let c = Int(cd[0]), let d = Int(cd[1]), presetNames.contains(lower) {
                    let dataset: DatasetKind = depth == 29 ? .cifar10 : .imagenet
                    return try original(dataset: dataset, depth: depth, baseWidth: d, cardinality: c, blockType: .resnextC, classes: classes)
                }
            }
        } else if lower.hasPrefix("resnet"), let depth = Int(lower.dropFirst("resnet".count)), presetNames.contains(lower) {
            if [18, 34, 50, 101, 152].contains(depth) {
                return try original(dataset: .imagenet, depth: depth, blockType: depth < 50 ? .basic : .resnet, classes: classes)
            }
            return try original(dataset: .cifar10, depth: depth, blockType: .basic, classes: classes)
        }
        throw ResNeXtError.invalidArgument("unknown model '\(name)'; known: \(presetNames.joined(separator: ", "))")
    }
}
