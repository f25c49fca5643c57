import ResNeXtCore

extension ModelConfiguration {
    /// The network as a spec, with torchvision's names: `conv1 bn1 relu [maxpool] layer1… avgpool flatten fc`;
    /// blocks `conv1 bn1 conv2 bn2 [conv3 bn3] downsample.{0,1}`; type-B blocks `paths.<i>.{conv1,bn1,conv2,bn2}`
    /// then `conv3 bn3`. Pre-activation networks (fb.resnet.torch's preresnet.lua): blocks `bn0 relu0` (the
    /// pre-activation of the input), `conv1 bn1 … conv3` (no last batch norm, no ReLU after the addition),
    /// `downsample.0`; the CIFAR stem is `conv1` alone; `bn_final relu_final` before the pooling.
    public func spec() throws -> LayerSpec {
        try validate()
        var layers: [(name: String, spec: LayerSpec)] = []
        switch stem {
        case .imagenet:
            layers += [("conv1", conv(inputChannels, stemWidth, 7, stride: 2)), ("bn1", .batchNorm(channels: stemWidth)), ("relu", .relu),
                       ("maxpool", .maxPool(kernel: 3, stride: 2, padding: 1))]
        case .cifar:
            layers += [("conv1", conv(inputChannels, stemWidth, 3))]
            if !preActivation { layers += [("bn1", .batchNorm(channels: stemWidth)), ("relu", .relu)] }
        }
        var channels = stemWidth
        for (stage, (planes, count)) in zip(stagePlanes, blocksPerStage).enumerated() {
            var blocks: [(name: String, spec: LayerSpec)] = []
            for index in 0..<count {
                let stride = index == 0 && stage > 0 ? 2 : 1
                let position: BlockPosition = index > 0 ? .later : (stage == 0 && stem == .imagenet ? .afterActivatedStem : .stageStart)
                blocks.append((String(index), block(inChannels: channels, planes: planes, stride: stride, position: position)))
                channels = planes * blockType.expansion
            }
            layers.append(("layer\(stage + 1)", .sequential(blocks)))
        }
        if preActivation { layers += [("bn_final", .batchNorm(channels: channels)), ("relu_final", .relu)] }
        layers += [("avgpool", .globalAveragePool), ("flatten", .flatten), ("fc", .linear(inFeatures: channels, outFeatures: classes))]
        return .sequential(layers)
    }

    /// Where a block sits, which decides its pre-activation (preresnet.lua's 'no_preact', 'both_preact', 'preact').
    private enum BlockPosition { case afterActivatedStem, stageStart, later }

    private func conv(_ i: Int, _ o: Int, _ k: Int, stride: Int = 1, groups: Int = 1) -> LayerSpec {
        .convolution(inChannels: i, outChannels: o, kernel: k, stride: stride, padding: k / 2, groups: groups, bias: convolutionBias)
    }

    private func block(inChannels: Int, planes: Int, stride: Int, position: BlockPosition) -> LayerSpec {
        let out = planes * blockType.expansion
        let width = innerWidth(planes: planes)
        let branch: [(name: String, spec: LayerSpec)]
        switch blockType {
        case .basic:
            branch = [("conv1", conv(inChannels, planes, 3, stride: stride)), ("bn1", .batchNorm(channels: planes)), ("relu", .relu),
                      ("conv2", conv(planes, planes, 3)), ("bn2", .batchNorm(channels: planes))]
        case .resnet, .resnextC:
            let groups = blockType == .resnet ? 1 : cardinality
            branch = [("conv1", conv(inChannels, width, 1)), ("bn1", .batchNorm(channels: width)), ("relu1", .relu),
                      ("conv2", conv(width, width, 3, stride: stride, groups: groups)), ("bn2", .batchNorm(channels: width)), ("relu2", .relu),
                      ("conv3", conv(width, out, 1)), ("bn3", .batchNorm(channels: out))]
        case .resnextB:
            let d = width / cardinality
            let path = LayerSpec.sequential([("conv1", conv(inChannels, d, 1)), ("bn1", .batchNorm(channels: d)), ("relu1", .relu),
                                             ("conv2", conv(d, d, 3, stride: stride)), ("bn2", .batchNorm(channels: d)), ("relu2", .relu)])
            branch = [("paths", .parallel(Array(repeating: path, count: cardinality))),
                      ("conv3", conv(width, out, 1)), ("bn3", .batchNorm(channels: out))]
        }
        let shortcut: LayerSpec?
        let changes = stride != 1 || inChannels != out
        switch shortcutType {
        case .A where changes:
            shortcut = .zeroPadShortcut(stride: stride, outChannels: out)
        case .B where changes, .C:
            let projection = conv(inChannels, out, 1, stride: stride)
            shortcut = .sequential(shortcutBatchNorm ? [("0", projection), ("1", .batchNorm(channels: out))] : [("0", projection)])
        default:
            shortcut = nil
        }
        let relu: (name: String, spec: LayerSpec) = ("relu_out", .relu)
        if preActivation {
            // The branch ends with its last convolution; the input's batch norm and ReLU come first — shared with the
            // shortcut at a stage's start, inside the branch later, absent right after the ImageNet stem's ReLU.
            let core = Array(branch.dropLast())
            let activation: [(name: String, spec: LayerSpec)] = [("bn0", .batchNorm(channels: inChannels)), ("relu0", .relu)]
            switch position {
            case .afterActivatedStem: return .residual(before: [], branch: core, shortcut: shortcut, after: [])
            case .stageStart: return .residual(before: activation, branch: core, shortcut: shortcut, after: [])
            case .later: return .residual(before: [], branch: activation + core, shortcut: shortcut, after: [])
            }
        }
        guard batchNormAfterAddition, let last = branch.last, case .batchNorm = last.spec else {
            return .residual(before: [], branch: branch, shortcut: shortcut, after: [relu])
        }
        return .residual(before: [], branch: Array(branch.dropLast()), shortcut: shortcut,
                         after: [(Self.batchNormAfterAdditionName, last.spec), relu])
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
