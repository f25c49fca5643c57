import Foundation
import ResNeXtCPU
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtNN
import XCTest

private let releasedBackend: CPUBackend = try! CPUBackend()

/// Builds an nn module tree and, from the same random numbers, the equivalent network out of plain
/// layers, so that an imported file can be checked against an independent composition.
private struct TwinBuilder {
    let backend: any Backend
    /// Whether convolutions get random biases (as the released files' trained ones).
    var convolutionBias = false
    var rng = RandomGenerator(seed: 2024)

    private func module(_ className: String, version: Int = 1, _ fields: [(String, Torch7Value)]) -> Torch7Value {
        .object(className: className, version: version, payload: .table(Torch7Table(fields: fields)))
    }

    private mutating func random(_ count: Int, _ low: Double, _ high: Double) -> [Float] {
        (0..<count).map { _ in Float(rng.uniform(low, high)) }
    }

    func sequential(_ modules: [Torch7Value]) -> Torch7Value {
        module("nn.Sequential", [("modules", .table(Torch7Table(array: modules)))])
    }

    var relu: (Torch7Value, any Layer) { (module("cudnn.ReLU", [("inplace", .boolean(true))]), ReLU(backend)) }

    mutating func conv(_ i: Int, _ o: Int, _ k: Int, stride s: Int = 1) throws -> (Torch7Value, any Layer) {
        let weights = random(o * i * k * k, -0.5, 0.5)
        var unused = RandomGenerator(seed: 0)
        let layer = try Conv2d(
            backend, inChannels: i, outChannels: o, kernelSize: k, stride: s, padding: k / 2, bias: convolutionBias, rng: &unused)
        layer.weight.value = try backend.upload(weights, shape: [o, i, k, k])
        let bias = convolutionBias ? random(o, -0.2, 0.2) : []
        if convolutionBias { layer.bias!.value = try backend.upload(bias, shape: [o]) }
        let biasFields: [(String, Torch7Value)] = convolutionBias ? [("bias", .tensor(Torch7Tensor(shape: [o], floats: bias)))] : []
        let value = module(
            "cudnn.SpatialConvolution",
            biasFields + [
                ("nInputPlane", .number(Double(i))), ("nOutputPlane", .number(Double(o))), ("kW", .number(Double(k))),
                ("kH", .number(Double(k))),
                ("dW", .number(Double(s))), ("dH", .number(Double(s))), ("padW", .number(Double(k / 2))), ("padH", .number(Double(k / 2))),
                ("weight", .tensor(Torch7Tensor(shape: [o, i, k, k], floats: weights))),
                ("gradWeight", .tensor(Torch7Tensor(shape: [o, i, k, k], floats: [Float](repeating: 0, count: weights.count))))
            ])
        return (value, layer)
    }

    mutating func batchNorm(_ c: Int) throws -> (Torch7Value, any Layer) {
        let gamma = random(c, 0.5, 1.5), beta = random(c, -0.3, 0.3), mean = random(c, -0.3, 0.3), variance = random(c, 0.5, 2)
        let layer = try BatchNorm2d(backend, channels: c)
        layer.weight.value = try backend.upload(gamma, shape: [c])
        layer.bias.value = try backend.upload(beta, shape: [c])
        layer.runningMean.value = try backend.upload(mean, shape: [c])
        layer.runningVariance.value = try backend.upload(variance, shape: [c])
        let value = module(
            "nn.SpatialBatchNormalization", version: 2,
            [
                ("eps", .number(1e-5)), ("momentum", .number(0.1)), ("affine", .boolean(true)),
                ("running_mean", .tensor(Torch7Tensor(shape: [c], floats: mean))),
                ("running_var", .tensor(Torch7Tensor(shape: [c], floats: variance))),
                ("weight", .tensor(Torch7Tensor(shape: [c], floats: gamma))), ("bias", .tensor(Torch7Tensor(shape: [c], floats: beta)))
            ])
        return (value, layer)
    }

    mutating func linear(_ i: Int, _ o: Int) throws -> (Torch7Value, any Layer) {
        let weights = random(o * i, -0.5, 0.5), bias = random(o, -0.5, 0.5)
        var unused = RandomGenerator(seed: 0)
        let layer = try Linear(backend, inFeatures: i, outFeatures: o, rng: &unused)
        layer.weight.value = try backend.upload(weights, shape: [o, i])
        layer.bias!.value = try backend.upload(bias, shape: [o])
        let value = module(
            "nn.Linear",
            [
                ("weight", .tensor(Torch7Tensor(shape: [o, i], floats: weights))),
                ("bias", .tensor(Torch7Tensor(shape: [o], floats: bias)))
            ])
        return (value, layer)
    }

    /// fb.resnet.torch's released ResNet-50 block: the branch ends with its last convolution, the
    /// projection is a bare convolution, and batch norm follows the addition.
    mutating func releasedBottleneck(_ inChannels: Int, planes: Int, stride: Int) throws -> (Torch7Value, [any Layer]) {
        let parts = [
            try conv(inChannels, planes, 1), try batchNorm(planes), relu, try conv(planes, planes, 3, stride: stride),
            try batchNorm(planes), relu, try conv(planes, planes * 4, 1)
        ]
        let projection = stride != 1 || inChannels != planes * 4 ? try conv(inChannels, planes * 4, 1, stride: stride) : nil
        let after = try batchNorm(planes * 4)
        let concat = module(
            "nn.ConcatTable",
            [
                (
                    "modules",
                    .table(
                        Torch7Table(array: [
                            sequential(parts.map(\.0)), projection?.0 ?? module("nn.Identity", [])
                        ]))
                )
            ])
        let value = sequential([concat, module("nn.CAddTable", [("inplace", .boolean(true))]), after.0, relu.0])
        let residual = Residual(backend, branch: Sequential(parts.map(\.1)), shortcut: projection?.1)
        return (value, [residual, after.1, ReLU(backend)])
    }
}

extension TwinBuilder {
    /// Where a preresnet.lua block sits: 'no_preact' after the ImageNet stem, 'both_preact' at a stage's start
    /// (batch norm and ReLU before the split, so the shortcut sees them), 'preact' later (inside the branch).
    enum PreActivation { case none, both, branch }

    /// preresnet.lua's bottleneck: no last batch norm, no ReLU after the addition, bare projection.
    mutating func preActivationBottleneck(_ inChannels: Int, planes: Int, stride: Int, _ kind: PreActivation) throws -> (
        Torch7Value, [any Layer]
    ) {
        let activation = kind == .none ? [] : [try batchNorm(inChannels), relu]
        let core = [
            try conv(inChannels, planes, 1), try batchNorm(planes), relu, try conv(planes, planes, 3, stride: stride),
            try batchNorm(planes), relu, try conv(planes, planes * 4, 1)
        ]
        let projection = stride != 1 || inChannels != planes * 4 ? try conv(inChannels, planes * 4, 1, stride: stride) : nil
        let branch = kind == .branch ? activation + core : core
        let concat = Torch7Value.object(
            className: "nn.ConcatTable", version: 1,
            payload: .table(
                Torch7Table(fields: [
                    (
                        "modules",
                        .table(
                            Torch7Table(array: [
                                sequential(branch.map(\.0)),
                                projection?.0 ?? .object(className: "nn.Identity", version: 1, payload: .table(Torch7Table()))
                            ]))
                    )
                ])))
        let add = Torch7Value.object(
            className: "nn.CAddTable", version: 1, payload: .table(Torch7Table(fields: [("inplace", .boolean(true))])))
        let before = kind == .both ? activation : []
        let value = sequential(before.map(\.0) + [concat, add])
        let residual = Residual(backend, branch: Sequential(branch.map(\.1)), shortcut: projection?.1)
        return (value, before.map(\.1) + [residual])
    }
}

final class Torch7ReleasedResNetTests: XCTestCase {
    private let backend = releasedBackend

    private func logits(_ model: ResNeXtModel) throws -> [Float] {
        model.setTraining(false)
        return try backend.download(try model.forward(try input([2, model.configuration.inputChannels, 32, 32])))
    }

    private func input(_ shape: Shape) throws -> Tensor {
        var rng = RandomGenerator(seed: 17)
        return try backend.upload((0..<shape.elementCount).map { _ in Float(rng.normal()) }, shape: shape)
    }

    /// A file laid out as fb.resnet.torch's resnet-50.t7 loads into the variant configuration and gives the
    /// logits of the same network composed from plain layers.
    func testReleasedResNet50LayoutMatchesAnIndependentComposition() throws {
        try checkReleasedResNet50Layout(convolutionBias: false)
        try checkReleasedResNet50Layout(convolutionBias: true)  // trained biases, as the released files have
    }

    private func checkReleasedResNet50Layout(convolutionBias: Bool) throws {
        var twin = TwinBuilder(backend: backend, convolutionBias: convolutionBias)
        let stem = [try twin.conv(3, 4, 7, stride: 2), try twin.batchNorm(4), twin.relu]
        let block1 = try twin.releasedBottleneck(4, planes: 2, stride: 1)
        let block2 = try twin.releasedBottleneck(8, planes: 4, stride: 2)
        let block3 = try twin.releasedBottleneck(16, planes: 4, stride: 1)
        let fc = try twin.linear(16, 3)
        let pool = Torch7Value.object(
            className: "nn.SpatialMaxPooling", version: 1,
            payload: .table(
                Torch7Table(fields: [
                    ("kW", .number(3)), ("kH", .number(3)), ("dW", .number(2)), ("dH", .number(2)), ("padW", .number(1)),
                    ("padH", .number(1))
                ])))
        let tree = twin.sequential(
            stem.map(\.0) + [
                pool, twin.sequential([block1.0]), twin.sequential([block2.0, block3.0]),
                .object(className: "nn.View", version: 1, payload: .table(Torch7Table())), fc.0
            ])
        let file = try Torch7.parse(Torch7.serialize(tree), source: "resnet-50.t7")

        let expectedConfiguration = ModelConfiguration(
            stem: .imagenet, stemWidth: 4, stagePlanes: [2, 4], blocksPerStage: [1, 2], blockType: .resnet, baseWidth: 64,
            cardinality: 1, shortcutType: .B, classes: 3, shortcutBatchNorm: false, batchNormAfterAddition: true,
            convolutionBias: convolutionBias)
        XCTAssertEqual(try ResNeXtModel.torch7Configuration(file, source: "resnet-50.t7"), expectedConfiguration)
        let model = try ResNeXtModel.importTorch7(file, source: "resnet-50.t7", on: backend)
        let names = model.namedTensors().map(\.name)
        XCTAssertTrue(names.contains("layer1.0.downsample.0.weight"))
        XCTAssertFalse(names.contains { $0.hasPrefix("layer1.0.downsample.1") })
        XCTAssertFalse(names.contains { $0.hasPrefix("layer1.0.bn3") })
        XCTAssertTrue(names.contains("layer2.1.bn_after_add.running_var"))
        XCTAssertEqual(names.contains("layer2.1.conv3.bias"), convolutionBias)

        let composed = Sequential(
            stem.map(\.1) + [MaxPool2d(backend, kernelSize: 3, stride: 2, padding: 1)] + block1.1 + block2.1
                + block3.1 + [AvgPool2d(global: backend), Flatten(backend), fc.1])
        composed.setTraining(false)
        model.setTraining(false)
        let x = try input([2, 3, 32, 32])
        let expected = try backend.download(try composed.forward(x))
        let actual = try backend.download(try model.forward(x))
        XCTAssertEqual(actual.count, 6)
        let scale = expected.map(abs).max()!
        XCTAssertGreaterThan(scale, 0.1)
        for (a, e) in zip(actual, expected) { XCTAssertEqual(a, e, accuracy: 1e-5 * scale) }

        // Training through the post-addition batch norm: the same gradients as the composition.
        model.setTraining(true)
        composed.setTraining(true)
        _ = try model.forward(x)
        _ = try composed.forward(x)
        try assertSameGradients(model, composed, batchNorm: "layer2.1.bn_after_add", block3.1[1] as? BatchNorm2d)
    }

    /// After a training-mode forward of both: the input gradients, and the γ gradients of one batch norm.
    private func assertSameGradients(
        _ model: ResNeXtModel, _ composed: Sequential, batchNorm name: String, _ twin: BatchNorm2d?,
        line: UInt = #line
    ) throws {
        let dy = try input([2, 3])
        let dxModel = try backend.download(try model.backward(dy))
        let dxComposed = try backend.download(try composed.backward(dy))
        let dxScale = dxComposed.map(abs).max()!
        for (a, e) in zip(dxModel, dxComposed) { XCTAssertEqual(a, e, accuracy: 1e-4 * dxScale, line: line) }
        let gModel = try XCTUnwrap(model.namedTensors().first { $0.name == name + ".weight" }?.parameter.gradient, line: line)
        let gComposed = try XCTUnwrap(twin?.weight.gradient, line: line)
        let (gm, gc) = (try backend.download(gModel), try backend.download(gComposed))
        for (a, e) in zip(gm, gc) { XCTAssertEqual(a, e, accuracy: 1e-4 * max(1, gc.map(abs).max()!), line: line) }
    }

    /// fb.resnet.torch's released ResNet-200 layout (preresnet.lua): loads into the pre-activation
    /// configuration and computes what the same network composed from plain layers computes.
    func testPreActivationLayoutMatchesAnIndependentComposition() throws {
        var twin = TwinBuilder(backend: backend, convolutionBias: true)
        let stem = [try twin.conv(3, 4, 7, stride: 2), try twin.batchNorm(4), twin.relu]
        let block1 = try twin.preActivationBottleneck(4, planes: 2, stride: 1, .none)
        let block2 = try twin.preActivationBottleneck(8, planes: 4, stride: 2, .both)
        let block3 = try twin.preActivationBottleneck(16, planes: 4, stride: 1, .branch)
        let final = [try twin.batchNorm(16), twin.relu]
        let fc = try twin.linear(16, 3)
        let pool = Torch7Value.object(
            className: "nn.SpatialMaxPooling", version: 1,
            payload: .table(
                Torch7Table(fields: [
                    ("kW", .number(3)), ("kH", .number(3)), ("dW", .number(2)), ("dH", .number(2)), ("padW", .number(1)),
                    ("padH", .number(1))
                ])))
        let tree = twin.sequential(
            stem.map(\.0) + [pool, twin.sequential([block1.0]), twin.sequential([block2.0, block3.0])]
                + final.map(\.0) + [.object(className: "nn.View", version: 1, payload: .table(Torch7Table())), fc.0])
        let file = try Torch7.parse(Torch7.serialize(tree), source: "resnet-200.t7")
        let expectedConfiguration = ModelConfiguration(
            stem: .imagenet, stemWidth: 4, stagePlanes: [2, 4], blocksPerStage: [1, 2], blockType: .resnet, baseWidth: 64,
            cardinality: 1, shortcutType: .B, classes: 3, shortcutBatchNorm: false, preActivation: true, convolutionBias: true)
        XCTAssertEqual(try ResNeXtModel.torch7Configuration(file, source: "resnet-200.t7"), expectedConfiguration)
        let model = try ResNeXtModel.importTorch7(file, source: "resnet-200.t7", on: backend)
        let names = Set(model.namedTensors().map(\.name))
        for name in ["layer2.0.bn0.weight", "layer2.1.bn0.running_var", "bn_final.weight", "layer2.0.downsample.0.weight"] {
            XCTAssertTrue(names.contains(name), name)
        }
        XCTAssertFalse(names.contains("layer1.0.bn0.weight"), "no pre-activation right after the stem's ReLU")
        XCTAssertFalse(names.contains("layer2.1.bn3.weight"))

        let composed = Sequential(
            stem.map(\.1) + [MaxPool2d(backend, kernelSize: 3, stride: 2, padding: 1)] + block1.1 + block2.1
                + block3.1 + final.map(\.1) + [AvgPool2d(global: backend), Flatten(backend), fc.1])
        let x = try input([2, 3, 32, 32])
        for training in [false, true] {
            composed.setTraining(training)
            model.setTraining(training)
            let expected = try backend.download(try composed.forward(x))
            let actual = try backend.download(try model.forward(x))
            let scale = expected.map(abs).max()!
            XCTAssertGreaterThan(scale, 0.1)
            for (a, e) in zip(actual, expected) { XCTAssertEqual(a, e, accuracy: 1e-5 * scale, "training \(training)") }
        }
        try assertSameGradients(model, composed, batchNorm: "layer2.0.bn0", block2.1[0] as? BatchNorm2d)
    }

    /// Export writes the variants as the released files have them, and they come back identical.
    func testVariantsRoundTripThroughTorch7AndSafetensorsMetadata() throws {
        let configurations = [
            // ResNet-18/34 as released: bare projection convolutions.
            ModelConfiguration(
                stem: .imagenet, stemWidth: 4, stagePlanes: [8, 16], blocksPerStage: [2, 1], blockType: .basic,
                baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 5, shortcutBatchNorm: false),
            // ResNet-50 as released.
            ModelConfiguration(
                stem: .imagenet, stemWidth: 4, stagePlanes: [2, 4], blocksPerStage: [1, 2], blockType: .resnet,
                baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 3, shortcutBatchNorm: false,
                batchNormAfterAddition: true),
            // Pre-activation (ResNet-200 as released), CIFAR basic-block pre-activation, and a pre-activation ResNeXt.
            ModelConfiguration(
                stem: .imagenet, stemWidth: 4, stagePlanes: [2, 4], blocksPerStage: [2, 2], blockType: .resnet,
                baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 3, shortcutBatchNorm: false, preActivation: true),
            ModelConfiguration(
                stem: .cifar, stemWidth: 8, stagePlanes: [16, 32], blocksPerStage: [2, 2], blockType: .basic,
                baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 10, shortcutBatchNorm: false, preActivation: true),
            ModelConfiguration(
                stem: .cifar, stemWidth: 8, stagePlanes: [4, 8], blocksPerStage: [1, 2], blockType: .resnextC,
                baseWidth: 32, cardinality: 2, shortcutType: .B, classes: 4, preActivation: true),
            // Convolution biases (randomized below, so that they matter).
            ModelConfiguration(
                stem: .imagenet, stemWidth: 4, stagePlanes: [2, 4], blocksPerStage: [1, 1], blockType: .resnet,
                baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 3, convolutionBias: true),
            // Each variant alone, on a ResNeXt.
            ModelConfiguration(
                stem: .cifar, stemWidth: 8, stagePlanes: [4, 8], blocksPerStage: [2, 1], blockType: .resnextC,
                baseWidth: 32, cardinality: 2, shortcutType: .C, classes: 4, batchNormAfterAddition: true)
        ]
        for configuration in configurations {
            let original = try ResNeXtModel(configuration, on: backend, seed: 9)
            var rng = RandomGenerator(seed: 10)
            for (name, p) in original.namedTensors() where name.contains("conv") && name.hasSuffix(".bias") {
                p.value = try backend.upload((0..<p.value.elementCount).map { _ in Float(rng.normal(std: 0.1)) }, shape: p.value.shape)
            }
            let tree = try ResNeXtModel.exportTorch7(original, on: backend)
            let firstStage = configuration.stem == .imagenet ? 5 : (configuration.preActivation ? 2 : 4)
            let block = try XCTUnwrap(tree["modules"]?.table?[firstStage]?["modules"]?.table?[1])
            let blockModules = try XCTUnwrap(block["modules"]?.table?.arrayValues?.compactMap(\.className))
            let preActivatedStart = configuration.preActivation && configuration.stem == .cifar
            XCTAssertEqual(
                blockModules,
                configuration.preActivation
                    ? (preActivatedStart ? ["nn.SpatialBatchNormalization", "cudnn.ReLU"] : []) + ["nn.ConcatTable", "nn.CAddTable"]
                    : configuration.batchNormAfterAddition
                        ? ["nn.ConcatTable", "nn.CAddTable", "nn.SpatialBatchNormalization", "cudnn.ReLU"]
                        : ["nn.ConcatTable", "nn.CAddTable", "cudnn.ReLU"])
            let concat = try XCTUnwrap(block["modules"]?.table?[preActivatedStart ? 3 : 1])
            let shortcut = try XCTUnwrap(concat["modules"]?.table?[2])
            XCTAssertEqual(shortcut.className, configuration.shortcutBatchNorm ? "nn.Sequential" : "cudnn.SpatialConvolution")

            let parsed = try Torch7.parse(Torch7.serialize(tree), source: "v.t7")
            let imported = try ResNeXtModel.importTorch7(parsed, source: "v.t7", on: backend)
            XCTAssertEqual(imported.configuration, configuration)
            XCTAssertEqual(try logits(imported), try logits(original), "\(configuration)")
            let reread = try ModelConfiguration(json: configuration.json, source: "meta")
            XCTAssertEqual(reread, configuration)
            for ((name, a), (otherName, b)) in zip(original.namedTensors(), imported.namedTensors()) {
                XCTAssertEqual(name, otherName)
                XCTAssertEqual(try backend.download(a.value), try backend.download(b.value), name)
            }
        }
        // Metadata written before these fields existed still reads, with the code's defaults.
        let old = try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 2)
        guard case .object(let fields) = old.json else { return XCTFail("configuration JSON is not an object") }
        let legacy = JSONValue.object(
            fields.filter {
                !["shortcutBatchNorm", "batchNormAfterAddition", "preActivation", "convolutionBias"].contains($0.0)
            })
        XCTAssertEqual(try ModelConfiguration(json: legacy, source: "old"), old)
        let bad = fields.filter { $0.0 != "batchNormAfterAddition" } + [("batchNormAfterAddition", .string("yes"))]
        XCTAssertThrowsError(try ModelConfiguration(json: .object(bad), source: "m.json")) { error in
            XCTAssertEqual(error as? ResNeXtError, .io("m.json: 'batchNormAfterAddition' must be true or false"))
        }
    }

    /// The released ResNets' parameter counts: torchvision's minus the projection batch norms they lack.
    func testReleasedParameterCounts() throws {
        func released(_ depth: Int) throws -> ModelConfiguration {
            var c = try ModelConfiguration.original(
                dataset: .imagenet, depth: depth, baseWidth: 64, cardinality: 1,
                blockType: depth < 50 ? .basic : .resnet)
            c.shortcutBatchNorm = false
            c.batchNormAfterAddition = depth == 50
            return c
        }
        // 11,689,512 / 21,797,672 / 25,557,032 − 2·(128+256+512) or 2·(256+512+1024+2048).
        XCTAssertEqual(try released(18).analyze().parameters, 11_687_720)
        XCTAssertEqual(try released(34).analyze().parameters, 21_795_880)
        XCTAssertEqual(try released(50).analyze().parameters, 25_549_352)
        // ResNet-200 (pre-activation), against a count written out block by block.
        var resnet200 = try ModelConfiguration.original(dataset: .imagenet, depth: 152, blockType: .resnet)
        resnet200.blocksPerStage = [3, 24, 36, 3]
        resnet200.shortcutBatchNorm = false
        resnet200.preActivation = true
        var expected = 3 * 64 * 49 + 2 * 64  // stem
        var channels = 64
        for (stage, (planes, count)) in zip([64, 128, 256, 512], [3, 24, 36, 3]).enumerated() {
            for index in 0..<count {
                let preActivated = !(stage == 0 && index == 0)
                expected +=
                    (preActivated ? 2 * channels : 0) + channels * planes + 2 * planes + 9 * planes * planes + 2 * planes
                    + planes * 4 * planes + (index == 0 ? channels * 4 * planes : 0)
                channels = 4 * planes
            }
        }
        expected += 2 * 2048 + 2048 * 1000 + 1000
        XCTAssertEqual(try resnet200.analyze().parameters, expected)
        XCTAssertEqual(
            try released(50).description.hasSuffix("shortcut convolutions without batch norm, batch norm after the addition"), true)
    }

    func testInconsistentVariantsAreRejected() throws {
        let configuration = ModelConfiguration(
            stem: .cifar, stemWidth: 8, stagePlanes: [4, 8], blocksPerStage: [1, 1], blockType: .resnet,
            baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 3, batchNormAfterAddition: true)
        let tree = try ResNeXtModel.exportTorch7(try ResNeXtModel(configuration, on: backend), on: backend)
        // Drop the second block's post-addition batch norm: blocks disagree.
        let block2 = try XCTUnwrap(tree["modules"]?.table?[5]?["modules"]?.table?[1]?["modules"]?.table)
        let bn = block2[3]
        block2[3] = block2[4]
        block2[4] = nil
        XCTAssertThrowsError(try ResNeXtModel.torch7Configuration(tree, source: "m.t7")) { error in
            XCTAssertEqual(error as? ResNeXtError, .io("m.t7: some residual blocks have a batch norm after the addition and others do not"))
        }
        // Two batch norms after one addition.
        block2[4] = block2[3]
        block2[3] = bn
        let block1 = try XCTUnwrap(tree["modules"]?.table?[4]?["modules"]?.table?[1]?["modules"]?.table)
        block1[5] = block1[4]
        block1[4] = .object(className: "nn.SpatialBatchNormalization", version: 2, payload: .table(Torch7Table()))
        XCTAssertThrowsError(try ResNeXtModel.torch7Configuration(tree, source: "m.t7")) { error in
            XCTAssertTrue("\(error)".contains("has 2 batch norms after its addition; at most one is known"), "\(error)")
        }
    }
}
