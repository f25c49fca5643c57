import ResNeXtCore

extension ModelConfiguration {
    /// The plain block, resnext.lua's `resnext_bottleneck_C`: 1×1 conv → BN → ReLU → grouped 3×3 conv (stride)
    /// → BN → ReLU → 1×1 conv → BN, plus the shortcut, the addition and a ReLU. A ResNet bottleneck is the same
    /// with one group; type B splits conv1 … relu2 into C paths; a basic block is 3×3 (stride) → BN → ReLU → 3×3 → BN.
    private func plainBlock(inChannels: Int, planes: Int, stride: Int) -> LayerSpec {
        let out = planes * blockType.expansion, width = innerWidth(planes: planes)
        let branch: [NamedSpec]
        switch blockType {
        case .resnextC, .resnet:
            branch = [
                ("conv1", conv(inChannels, width, 1)), ("bn1", .batchNorm(channels: width)), ("relu1", .relu),
                ("conv2", conv(width, width, 3, stride: stride, groups: blockType == .resnet ? 1 : cardinality)),
                ("bn2", .batchNorm(channels: width)), ("relu2", .relu),
                ("conv3", conv(width, out, 1)), ("bn3", .batchNorm(channels: out))
            ]
        case .resnextB:
            let d = width / cardinality
            let path = LayerSpec.sequential([
                ("conv1", conv(inChannels, d, 1)), ("bn1", .batchNorm(channels: d)), ("relu1", .relu),
                ("conv2", conv(d, d, 3, stride: stride)), ("bn2", .batchNorm(channels: d)), ("relu2", .relu)
            ])
            branch = [
                ("paths", .parallel(Array(repeating: path, count: cardinality))),
                ("conv3", conv(width, out, 1)), ("bn3", .batchNorm(channels: out))
            ]
        case .basic:
            branch = [
                ("conv1", conv(inChannels, planes, 3, stride: stride)), ("bn1", .batchNorm(channels: planes)), ("relu", .relu),
                ("conv2", conv(planes, planes, 3)), ("bn2", .batchNorm(channels: planes))
            ]
        }
        return .residual(
            before: [], branch: branch, shortcut: shortcut(from: inChannels, to: out, stride: stride),
            after: [("relu_out", .relu)])
    }

    /// The original's -shortcutType: A zero-pads where the shape changes, B projects (1×1 conv → BN) there,
    /// C projects in every block; elsewhere the identity (nil).
    private func shortcut(from inChannels: Int, to out: Int, stride: Int) -> LayerSpec? {
        let changes = stride != 1 || inChannels != out
        switch shortcutType {
        case .A where changes: return .zeroPadShortcut(stride: stride, outChannels: out)
        case .B where changes, .C: return .sequential([("0", conv(inChannels, out, 1, stride: stride)), ("1", .batchNorm(channels: out))])
        default: return nil
        }
    }

    private func conv(_ i: Int, _ o: Int, _ k: Int, stride: Int = 1, groups: Int = 1) -> LayerSpec {
        .convolution(inChannels: i, outChannels: o, kernel: k, stride: stride, padding: k / 2, groups: groups, bias: false)
    }

    /// The network as a spec, with torchvision's names: `conv1 bn1 relu [maxpool] layer1… avgpool flatten fc`;
    /// blocks `conv1 bn1 conv2 bn2 [conv3 bn3] downsample.{0,1}`; type-B blocks `paths.<i>.{conv1,bn1,conv2,bn2}`
    /// then `conv3 bn3`. Built from plain blocks (`plainBlock`) with the configuration's fb.resnet.torch
    /// variants applied as rewrites (`variant(of:)`); convolution biases last, on the whole network. Pre-activation
    /// networks (fb.resnet.torch's preresnet.lua): blocks `bn0 relu0` (the pre-activation of the input),
    /// `conv1 bn1 … conv3` (no last batch norm, no ReLU after the addition), `downsample.0`; the CIFAR stem is
    /// `conv1` alone; `bn_final relu_final` before the pooling.
    public func spec() throws -> LayerSpec {
        try validate()
        var layers: [NamedSpec] = [
            ("conv1", conv(inputChannels, stemWidth, stem == .imagenet ? 7 : 3, stride: stem == .imagenet ? 2 : 1)),
            ("bn1", .batchNorm(channels: stemWidth)), ("relu", .relu)
        ]
        if stem == .imagenet { layers.append(("maxpool", .maxPool(kernel: 3, stride: 2, padding: 1))) }
        if preActivation && stem == .cifar { layers.removeLast(2) }  // the first block activates the input
        var channels = stemWidth
        for (stage, (planes, count)) in zip(stagePlanes, blocksPerStage).enumerated() {
            var blocks: [NamedSpec] = []
            for index in 0..<count {
                let stride = index == 0 && stage > 0 ? 2 : 1
                let position: BlockPosition = index > 0 ? .later : (stage == 0 && stem == .imagenet ? .afterActivatedStem : .stageStart)
                let plain = plainBlock(inChannels: channels, planes: planes, stride: stride)
                blocks.append((String(index), variant(of: plain, inChannels: channels, position: position)))
                channels = planes * blockType.expansion
            }
            layers.append(("layer\(stage + 1)", .sequential(blocks)))
        }
        if preActivation { layers += [("bn_final", .batchNorm(channels: channels)), ("relu_final", .relu)] }
        layers += [("avgpool", .globalAveragePool), ("flatten", .flatten), ("fc", .linear(inFeatures: channels, outFeatures: classes))]
        let network = LayerSpec.sequential(layers)
        return convolutionBias ? network.withConvolutionBiases() : network
    }

    /// The plain block with this configuration's fb.resnet.torch variants applied in turn.
    private func variant(of block: LayerSpec, inChannels: Int, position: BlockPosition) -> LayerSpec {
        var block = block
        if !shortcutBatchNorm { block = block.withBareProjection() }
        if batchNormAfterAddition { block = block.withBatchNormAfterAddition() }
        if preActivation { block = block.preActivated(inChannels: inChannels, position: position) }
        return block
    }

    /// The name of the batch norm after the addition (``batchNormAfterAddition``); torchvision has none.
    public static let batchNormAfterAdditionName = "bn_after_add"

    /// The input size the original trains on: 224 for ImageNet, 32 for CIFAR (28 for 1-channel MNIST).
    public var nativeResolution: Int { stem == .imagenet ? 224 : (inputChannels == 1 ? 28 : 32) }

    /// Parameters, multiply-adds and per-stage rows for one image at `resolution` (default: native).
    public func analyze(resolution: Int? = nil) throws -> SpecAnalysis {
        let r = resolution ?? nativeResolution
        return try spec().analyze(input: [1, inputChannels, r, r])
    }
}

/// Where a block sits, which decides its pre-activation (preresnet.lua's 'no_preact', 'both_preact', 'preact').
private enum BlockPosition { case afterActivatedStem, stageStart, later }

// MARK: - fb.resnet.torch's variants, as rewrites of the plain block

extension LayerSpec {
    /// fb.resnet.torch's released ResNet-18/34/50 (its issues #49, #191): a projection shortcut is the bare
    /// 1×1 convolution `downsample.0`, without its batch norm.
    fileprivate func withBareProjection() -> LayerSpec {
        guard case let .residual(before, branch, .sequential(projection)?, after) = self else { return self }
        return .residual(before: before, branch: branch, shortcut: .sequential(projection.filter { $0.name == "0" }), after: after)
    }

    /// fb.resnet.torch's released ResNet-50 (its issue #117): the branch's last batch norm moves after the
    /// addition, `relu(bn(branch(x) + shortcut(x)))`, named `bn_after_add`.
    fileprivate func withBatchNormAfterAddition() -> LayerSpec {
        guard case let .residual(before, branch, shortcut, after) = self, let last = branch.last, case .batchNorm = last.spec else {
            return self
        }
        return .residual(
            before: before, branch: Array(branch.dropLast()), shortcut: shortcut,
            after: [(ModelConfiguration.batchNormAfterAdditionName, last.spec)] + after)
    }

    /// preresnet.lua: the branch ends with its last convolution and nothing follows the addition; the input's
    /// batch norm and ReLU `bn0 relu0` come first — shared with the shortcut at a stage's start, inside the branch
    /// later, absent right after the ImageNet stem's ReLU.
    fileprivate func preActivated(inChannels: Int, position: BlockPosition) -> LayerSpec {
        guard case let .residual(before, branch, shortcut, _) = self, let last = branch.last, case .batchNorm = last.spec else {
            return self
        }
        let core = Array(branch.dropLast())
        let activation: [NamedSpec] = [("bn0", .batchNorm(channels: inChannels)), ("relu0", .relu)]
        switch position {
        case .afterActivatedStem: return .residual(before: before, branch: core, shortcut: shortcut, after: [])
        case .stageStart: return .residual(before: before + activation, branch: core, shortcut: shortcut, after: [])
        case .later: return .residual(before: before, branch: activation + core, shortcut: shortcut, after: [])
        }
    }

    /// fb.resnet.torch's code without cuDNN ≥ 4 and its released ResNets: a bias on every convolution.
    func withConvolutionBiases() -> LayerSpec {
        mapLeaves { leaf in
            guard case let .convolution(i, o, k, s, p, g, _) = leaf else { return leaf }
            return .convolution(inChannels: i, outChannels: o, kernel: k, stride: s, padding: p, groups: g, bias: true)
        }
    }
}
