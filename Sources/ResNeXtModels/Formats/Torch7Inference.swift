import ResNeXtCore
import ResNeXtIO

// The architecture of an original model, inferred from the layers and residual blocks that Torch7Import.swift's
// module walk found (``ResNeXtModel/torch7Configuration(_:source:)``).

extension Torch7ModuleWalk {
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
        let stemFits =
            stem.first?.kind == .convolution
            && ((stem.count == 2 && stem.last?.kind == .batchNorm) || (stem.count == 1 && preActivation))
        guard stemFits else {
            throw bad("expected one convolution and one batch norm before the first residual block, found \(list(stem))")
        }
        let stemConv = try stem[stem.startIndex].convolutionInfo(source: source)
        let stemType: Stem
        switch stemConv.kernel {
        case 7: stemType = .imagenet
        case 3: stemType = .cifar
        default:
            throw bad(
                "\(stem[stem.startIndex].label) has a \(stemConv.kernel)×\(stemConv.kernel) kernel; only 7×7 (ImageNet) and 3×3 (CIFAR) "
                    + "stems are known"
            )
        }
        var next = first.before.lowerBound
        for block in blocks {
            guard block.before.lowerBound == next else {
                throw bad(
                    "layers with weights outside residual blocks before \(block.path): \(list(modules[next..<block.before.lowerBound]))")
            }
            guard modules[block.before].allSatisfy({ $0.kind == .batchNorm }), block.before.count <= 1 else {
                throw bad(
                    "the residual block at \(block.path) has \(list(modules[block.before])) before its split; only a batch norm "
                        + "(pre-activation) is known"
                )
            }
            next = block.afterAdd.upperBound
        }
        let head = modules[next...]
        let expectedHead = preActivation ? "one batch norm and one nn.Linear" : "one nn.Linear"
        guard head.count == (preActivation ? 2 : 1), let fc = head.last, fc.kind == .linear,
            !preActivation || head.first?.kind == .batchNorm
        else {
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
                throw bad(
                    "the residual block at \(block.path) has \(convs.count) convolutions in its branch; expected 2 (basic), 3 "
                        + "(bottleneck) or 2·C+1 (ResNeXt form B)"
                )
            }
            let last = convs[convs.count - 1]
            let planes: Int, width: Int, groups: Int, stride: Int
            switch family {
            case .basic:
                (planes, width, groups, stride) = (last.outChannels, last.outChannels, 1, convs[0].stride)
            case .bottleneck:
                guard last.outChannels % 4 == 0 else {
                    throw bad("the bottleneck at \(block.path) outputs \(last.outChannels) channels, not a multiple of 4")
                }
                (planes, width, groups, stride) = (last.outChannels / 4, convs[0].outChannels, convs[1].groups, convs[1].stride)
            case .pathsB(let c):
                guard last.outChannels % 4 == 0 else {
                    throw bad("the bottleneck at \(block.path) outputs \(last.outChannels) channels, not a multiple of 4")
                }
                (planes, width, groups, stride) = (last.outChannels / 4, convs[0].outChannels * c, c, convs[1].stride)
            }
            let projection = modules[block.shortcut].contains { $0.kind == .convolution }
            guard block.afterAdd.count <= 1 else {
                throw bad(
                    "the residual block at \(block.path) has \(block.afterAdd.count) batch norms after its addition; at most one is known")
            }
            infos.append(
                BlockInfo(
                    family: family, planes: planes, width: width, groups: groups, stride: stride, projection: projection,
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
                    throw bad(
                        "the residual block at \(block.path) has \(info.planes) planes and width \(info.width), unlike the first block of "
                            + "its stage"
                    )
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
