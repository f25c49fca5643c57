import Foundation
import ResNeXtCPU
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtNN
import XCTest

private let torch7Backend: CPUBackend = try! CPUBackend()

/// The ImageNet-stem tiny network of PyTorchParityTests (7×7 stem, max pool, four stages).
private let tinyImageNetStem = ModelConfiguration(
    stem: .imagenet, stemWidth: 8, stagePlanes: [2, 4, 8, 16], blocksPerStage: [1, 1, 1, 1], blockType: .resnextC,
    baseWidth: 32, cardinality: 4, shortcutType: .B, classes: 5)

/// A module in an exported tree with the `modules` table and key that hold it.
private struct ModuleRef {
    let value: Torch7Value
    let parent: Torch7Table?
    let key: Int?
    var className: String { value.className ?? "" }
    var fields: Torch7Table { value.fields! }
}

/// Every module of the tree, depth-first along `modules` tables.
private func allModules(_ root: Torch7Value) -> [ModuleRef] {
    var result: [ModuleRef] = []
    func visit(_ value: Torch7Value, _ parent: Torch7Table?, _ key: Int?) {
        result.append(ModuleRef(value: value, parent: parent, key: key))
        guard let children = value["modules"]?.table else { return }
        for i in stride(from: 1, through: children.count, by: 1) { if let child = children[i] { visit(child, children, i) } }
    }
    visit(root, nil, nil)
    return result
}

private func sequential(_ modules: [Torch7Value]) -> Torch7Value {
    .object(
        className: "nn.Sequential", version: 1, payload: .table(Torch7Table(fields: [("modules", .table(Torch7Table(array: modules)))])))
}

final class Torch7ImportTests: XCTestCase {
    private let backend = torch7Backend

    /// A model whose every tensor (batch-norm statistics and biases included) is random, so a wrong
    /// mapping cannot go unnoticed.
    private func randomModel(_ configuration: ModelConfiguration, seed: UInt64) throws -> ResNeXtModel {
        let model = try ResNeXtModel(configuration, on: backend, seed: seed)
        var rng = RandomGenerator(seed: seed &+ 1000)
        for (name, p) in model.namedTensors() {
            // Convolution and classifier weights are random already.
            if name.contains("conv") || name.hasSuffix("downsample.0.weight") || name == "fc.weight" { continue }
            let count = p.value.elementCount
            let values: [Float]
            if name.hasSuffix("running_var") {
                values = (0..<count).map { _ in Float(rng.uniform(0.5, 2)) }
            } else if name.hasSuffix(".weight") {  // batch-norm γ
                values = (0..<count).map { _ in Float(rng.uniform(0.5, 1.5)) }
            } else {  // β, running means, the classifier's bias
                values = (0..<count).map { _ in Float(rng.normal(std: 0.2)) }
            }
            p.value = try backend.upload(values, shape: p.value.shape)
        }
        model.setTraining(false)
        return model
    }

    private func logits(_ model: ResNeXtModel, resolution: Int, seed: UInt64 = 7) throws -> [Float] {
        var rng = RandomGenerator(seed: seed)
        let shape: Shape = [2, model.configuration.inputChannels, resolution, resolution]
        let input = try backend.upload((0..<shape.elementCount).map { _ in Float(rng.normal()) }, shape: shape)
        model.setTraining(false)
        return try backend.download(try model.forward(input))
    }

    private func assertSameTensors(_ a: ResNeXtModel, _ b: ResNeXtModel, file: StaticString = #filePath, line: UInt = #line) throws {
        let ta = a.namedTensors(), tb = b.namedTensors()
        XCTAssertEqual(ta.map(\.name), tb.map(\.name), file: file, line: line)
        for ((name, pa), (_, pb)) in zip(ta, tb) {
            XCTAssertEqual(pa.value.shape, pb.value.shape, name, file: file, line: line)
            XCTAssertEqual(try backend.download(pa.value), try backend.download(pb.value), name, file: file, line: line)
        }
    }

    /// export → bytes → parse → import.
    private func reimport(_ value: Torch7Value, source: String = "model.t7") throws -> ResNeXtModel {
        try ResNeXtModel.importTorch7(Torch7.parse(Torch7.serialize(value), source: source), source: source, on: backend)
    }

    func testRoundTripGivesIdenticalTensorsAndLogits() throws {
        let cifar = try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 2)
        for (configuration, resolution) in [(cifar, 32), (tinyImageNetStem, 64)] {
            let original = try randomModel(configuration, seed: 3)
            let value = try ResNeXtModel.exportTorch7(original, on: backend)
            let parsed = try Torch7.parse(Torch7.serialize(value), source: "model.t7")
            XCTAssertEqual(try ResNeXtModel.torch7Configuration(parsed, source: "model.t7"), configuration)
            XCTAssertEqual(
                try ResNeXtModel.torch7Tensors(parsed, configuration: configuration, source: "model.t7").map(\.name),
                original.namedTensors().map(\.name))
            let imported = try ResNeXtModel.importTorch7(parsed, source: "model.t7", on: backend)
            XCTAssertEqual(imported.configuration, configuration)
            try assertSameTensors(original, imported)
            XCTAssertEqual(try logits(imported, resolution: resolution), try logits(original, resolution: resolution))
        }
    }

    func testExportedTreeHasTheOriginalStructure() throws {
        let cifar = try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 2)
        let value = try ResNeXtModel.exportTorch7(try ResNeXtModel(cifar, on: backend), on: backend)
        XCTAssertEqual(value.className, "nn.Sequential")
        let top = try XCTUnwrap(value["modules"]?.table?.arrayValues)
        XCTAssertEqual(
            top.compactMap(\.className),
            [
                "cudnn.SpatialConvolution", "nn.SpatialBatchNormalization", "cudnn.ReLU", "nn.Sequential", "nn.Sequential", "nn.Sequential",
                "cudnn.SpatialAveragePooling", "nn.View", "nn.Linear"
            ])
        XCTAssertEqual(top[6]["kW"]?.int, 8)
        XCTAssertEqual(top[7]["size"]?.storage?.doubles(), [1024])
        XCTAssertEqual(top[7]["numInputDims"]?.int, 3)
        guard case .object(_, let bnVersion, _) = top[1] else { return XCTFail("no batch norm") }
        XCTAssertEqual(bnVersion, 2)
        XCTAssertEqual(top[1]["eps"]?.number, 1e-5)
        XCTAssertEqual(top[1]["momentum"]?.number, 0.1)
        XCTAssertEqual(top[2]["mode"]?.string, "CUDNN_ACTIVATION_RELU")
        XCTAssertNil(top[0]["bias"])
        XCTAssertEqual(top[0]["weight"]?.tensor?.sizes, [64, 3, 3, 3])
        XCTAssertEqual(top[0]["gradWeight"]?.tensor?.sizes, [64, 3, 3, 3])
        XCTAssertEqual(top[0]["_type"]?.string, "torch.FloatTensor")
        XCTAssertEqual(top[8]["weight"]?.tensor?.sizes, [10, 1024])

        let block = try XCTUnwrap(top[3]["modules"]?.table?[1])
        XCTAssertEqual(block["modules"]?.table?.arrayValues?.compactMap(\.className), ["nn.ConcatTable", "nn.CAddTable", "cudnn.ReLU"])
        let paths = try XCTUnwrap(block["modules"]?.table?[1]?["modules"]?.table?.arrayValues)
        XCTAssertEqual(
            paths[0]["modules"]?.table?.arrayValues?.compactMap(\.className),
            [
                "cudnn.SpatialConvolution", "nn.SpatialBatchNormalization", "cudnn.ReLU", "cudnn.SpatialConvolution",
                "nn.SpatialBatchNormalization", "cudnn.ReLU", "cudnn.SpatialConvolution", "nn.SpatialBatchNormalization"
            ])
        XCTAssertEqual(paths[0]["modules"]?.table?[4]?["groups"]?.int, 2)
        XCTAssertEqual(
            paths[1]["modules"]?.table?.arrayValues?.compactMap(\.className),
            ["cudnn.SpatialConvolution", "nn.SpatialBatchNormalization"])
        // The second stage's projection has stride 2.
        let stage2 = try XCTUnwrap(top[4]["modules"]?.table?[1]?["modules"]?.table?[1]?["modules"]?.table?[2])
        XCTAssertEqual(stage2["modules"]?.table?[1]?["dW"]?.int, 2)

        // Float tensors that share no storage.
        var storages = Set<ObjectIdentifier>(), tensors = 0
        for module in allModules(value) {
            for (_, field) in module.fields.entries {
                guard let tensor = field.tensor, let storage = tensor.storage else { continue }
                XCTAssertEqual(tensor.className, "torch.FloatTensor")
                tensors += 1
                storages.insert(ObjectIdentifier(storage))
            }
        }
        XCTAssertEqual(storages.count, tensors)
        XCTAssertGreaterThan(tensors, 40)
    }

    func testFileRoundTripAndLoadIntoExistingModel() throws {
        let path = "/tmp/resnext-torch7-\(getpid()).t7"
        defer { unlink(path) }
        let original = try randomModel(tinyImageNetStem, seed: 11)
        try original.saveTorch7(path, on: backend)
        let imported = try ResNeXtModel.importTorch7(path, on: backend)
        try assertSameTensors(original, imported)
        let other = try ResNeXtModel(tinyImageNetStem, on: backend, seed: 99)
        try other.loadTorch7(path, on: backend)
        try assertSameTensors(original, other)
        XCTAssertThrowsError(try ResNeXtModel.importTorch7(path + ".missing", on: backend)) { error in
            XCTAssertTrue("\(error)".contains(path + ".missing"), "\(error)")
        }
    }

    func testOtherBlockTypesAndShortcuts() throws {
        let configurations = [
            ModelConfiguration(
                stem: .cifar, stemWidth: 8, stagePlanes: [8, 16], blocksPerStage: [1, 2], blockType: .resnextB,
                baseWidth: 16, cardinality: 2, shortcutType: .B, classes: 4),
            ModelConfiguration(
                stem: .cifar, stemWidth: 8, stagePlanes: [8, 16], blocksPerStage: [2, 1], blockType: .resnet,
                baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 3),
            ModelConfiguration(
                stem: .cifar, stemWidth: 8, stagePlanes: [8, 16], blocksPerStage: [1, 1], blockType: .basic,
                baseWidth: 64, cardinality: 1, shortcutType: .A, classes: 6),
            ModelConfiguration(
                stem: .cifar, stemWidth: 8, stagePlanes: [8, 16], blocksPerStage: [2, 1], blockType: .resnextC,
                baseWidth: 16, cardinality: 4, shortcutType: .C, classes: 5),
            ModelConfiguration(
                stem: .imagenet, inputChannels: 1, stemWidth: 4, stagePlanes: [4, 8], blocksPerStage: [1, 1],
                blockType: .basic, baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 2)
        ]
        for configuration in configurations {
            let original = try randomModel(configuration, seed: 5)
            let value = try ResNeXtModel.exportTorch7(original, on: backend)
            XCTAssertEqual(try ResNeXtModel.torch7Configuration(value, source: "x.t7"), configuration, "\(configuration)")
            let imported = try reimport(value)
            try assertSameTensors(original, imported)
            XCTAssertEqual(try logits(imported, resolution: 16), try logits(original, resolution: 16), "\(configuration)")
        }
    }

    /// Files of version-1 batch norms store running_std = 1/sqrt(var + eps) instead of running_var.
    func testVersion1BatchNormRunningStd() throws {
        let original = try randomModel(tinyImageNetStem, seed: 21)
        let value = try ResNeXtModel.exportTorch7(original, on: backend)
        var converted = 0
        for module in allModules(value) where module.className == "nn.SpatialBatchNormalization" {
            let fields = module.fields
            let variance = try XCTUnwrap(fields["running_var"]?.tensor).floats()
            let eps = try XCTUnwrap(fields["eps"]?.number)
            fields["running_var"] = nil
            fields["running_std"] = .tensor(
                Torch7Tensor(
                    shape: [variance.count],
                    floats: variance.map { Float(1 / (Double($0) + eps).squareRoot()) }))
            module.parent![module.key!] = .object(className: module.className, version: 1, payload: .table(fields))
            converted += 1
        }
        XCTAssertEqual(converted, original.namedTensors().filter { $0.name.hasSuffix("running_var") }.count)
        let imported = try reimport(value)
        for ((name, a), (_, b)) in zip(original.namedTensors(), imported.namedTensors()) {
            let x = try backend.download(a.value), y = try backend.download(b.value)
            if name.hasSuffix("running_var") {
                for (u, v) in zip(x, y) { XCTAssertEqual(v, u, accuracy: 2e-6 * max(1, u), name) }
            } else {
                XCTAssertEqual(x, y, name)
            }
        }
        let expected = try logits(original, resolution: 64), actual = try logits(imported, resolution: 64)
        let scale = expected.map(abs).max()!
        XCTAssertLessThan(zip(expected, actual).map { abs($0 - $1) }.max()! / scale, 1e-4)

        // A file eps other than ours is folded into the variance: var + eps stays the same.
        let second = try ResNeXtModel.exportTorch7(original, on: backend)
        let stemBN = allModules(second)[2]
        XCTAssertEqual(stemBN.className, "nn.SpatialBatchNormalization")
        stemBN.fields["eps"] = .number(1e-3)
        let folded = try reimport(second)
        let before = try backend.download(original.namedTensors().first { $0.name == "bn1.running_var" }!.parameter.value)
        let after = try backend.download(folded.namedTensors().first { $0.name == "bn1.running_var" }!.parameter.value)
        for (u, v) in zip(before, after) { XCTAssertEqual(v, u + 1e-3 - 1e-5, accuracy: 1e-6) }
    }

    /// The released files wrap conv1 … relu2 of every branch in an extra nn.Sequential (docs/FORMATS.md).
    func testReleasedFileNesting() throws {
        let original = try randomModel(tinyImageNetStem, seed: 31)
        let value = try ResNeXtModel.exportTorch7(original, on: backend)
        var wrapped = 0
        for module in allModules(value) where module.className == "nn.ConcatTable" {
            let branch = try XCTUnwrap(module.fields["modules"]?.table?[1])
            let inner = try XCTUnwrap(branch["modules"]?.table?.arrayValues)
            XCTAssertEqual(inner.count, 8)
            branch.fields!["modules"] = .table(Torch7Table(array: [sequential(Array(inner[0..<6])), inner[6], inner[7]]))
            wrapped += 1
        }
        XCTAssertEqual(wrapped, 4)
        let parsed = try Torch7.parse(Torch7.serialize(value), source: "released.t7")
        XCTAssertEqual(try ResNeXtModel.torch7Configuration(parsed, source: "released.t7"), tinyImageNetStem)
        let imported = try ResNeXtModel.importTorch7(parsed, source: "released.t7", on: backend)
        try assertSameTensors(original, imported)
        XCTAssertEqual(try logits(imported, resolution: 64), try logits(original, resolution: 64))
    }

    func testConvolutionVariants() throws {
        let original = try randomModel(tinyImageNetStem, seed: 41)
        // nn.SpatialConvolutionMM keeps its weight as [out, in·kH·kW]; a zero bias is accepted.
        let value = try ResNeXtModel.exportTorch7(original, on: backend)
        let stem = allModules(value)[1]
        let weight = try XCTUnwrap(stem.fields["weight"]?.tensor)
        stem.fields["weight"] = .tensor(Torch7Tensor(shape: [8, 3 * 7 * 7], floats: try weight.floats()))
        stem.fields["groups"] = nil
        stem.fields["bias"] = .tensor(Torch7Tensor(shape: [8], floats: [Float](repeating: 0, count: 8)))
        stem.parent![stem.key!] = .object(className: "nn.SpatialConvolutionMM", version: 1, payload: .table(stem.fields))
        try assertSameTensors(original, try reimport(value))

        // A non-zero bias makes the imported model one with convolution biases (zero where the file has none) …
        stem.fields["bias"] = .tensor(Torch7Tensor(shape: [8], floats: [0, 0, 0.5, 0, 0, 0, 0, 0]))
        let biased = try reimport(value)
        XCTAssertTrue(biased.configuration.convolutionBias)
        let biases = biased.namedTensors().filter { $0.name.hasSuffix("bias") && $0.name.contains("conv") }
        XCTAssertEqual(biases.first?.name, "conv1.bias")
        XCTAssertEqual(try backend.download(biases[0].parameter.value), [0, 0, 0.5, 0, 0, 0, 0, 0])
        XCTAssertEqual(
            try backend.download(biases[1].parameter.value), [Float](repeating: 0, count: biases[1].parameter.value.elementCount))
        // … and cannot go into a model without them.
        XCTAssertThrowsError(try ResNeXtModel(tinyImageNetStem, on: backend).loadTorch7(value, source: "model.t7", on: backend)) { error in
            XCTAssertEqual(
                error as? ResNeXtError,
                .io(
                    "model.t7: module #1 nn.SpatialConvolutionMM (model.modules[1]) has a non-zero bias (element 3 is 0.5); the model's "
                        + "convolution conv1 has no bias"
                ))
        }
    }

    func testMismatchesNameTheModule() throws {
        let cifar = try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 2)
        let original = try randomModel(cifar, seed: 51)
        let value = try ResNeXtModel.exportTorch7(original, on: backend)

        func expectMismatch(_ configuration: ModelConfiguration, _ phrases: [String], line: UInt = #line) {
            XCTAssertThrowsError(try ResNeXtModel.torch7Tensors(value, configuration: configuration, source: "x.t7")) { error in
                guard case .shapeMismatch(let message)? = error as? ResNeXtError else { return XCTFail("\(error)", line: line) }
                for phrase in phrases { XCTAssertTrue(message.contains(phrase), "'\(message)' lacks '\(phrase)'", line: line) }
            }
        }
        // Another cardinality: layer1.0.conv1 is 8 wide in the file, 16 in the model.
        expectMismatch(
            try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 4),
            [
                "x.t7: module #3 cudnn.SpatialConvolution (model.modules[4].modules[1].modules[1].modules[1].modules[1])",
                "weight is [8, 64, 1, 1] in the file but layer1.0.conv1.weight is [16, 64, 1, 1] in the model"
            ])
        // Another class count.
        expectMismatch(
            try ModelConfiguration.original(dataset: .cifar100, depth: 11, baseWidth: 4, cardinality: 2),
            ["module #27 nn.Linear (model.modules[9])", "weight is [10, 1024] in the file but fc.weight is [100, 1024]"])
        // More blocks in the model than in the file: the file's layer2.0.conv1 meets the model's layer1.1.conv1.
        expectMismatch(
            try ModelConfiguration.original(dataset: .cifar10, depth: 20, baseWidth: 4, cardinality: 2),
            ["module #11 cudnn.SpatialConvolution", "weight is [16, 256, 1, 1] in the file but layer1.1.conv1.weight is [8, 256, 1, 1]"])

        // A batch norm whose statistics have the wrong length.
        let bn2 = allModules(value).filter { $0.className == "nn.SpatialBatchNormalization" }[2]
        bn2.fields["running_mean"] = .tensor(Torch7Tensor(shape: [3], floats: [0, 0, 0]))
        XCTAssertThrowsError(try reimport(value)) { error in
            XCTAssertEqual(
                error as? ResNeXtError,
                .shapeMismatch(
                    "model.t7: module #6 nn.SpatialBatchNormalization (model.modules[4].modules[1].modules[1].modules[1].modules[5]): "
                        + "running_mean is [3] in the file but layer1.0.bn2.running_mean is [8] in the model"
                ))
        }
        bn2.fields["running_mean"] = .tensor(Torch7Tensor(shape: [8], floats: [Float](repeating: 0, count: 8)))
        XCTAssertNoThrow(try reimport(value))

        // A stride the model does not have.
        let conv = allModules(value).filter { $0.className == "cudnn.SpatialConvolution" }[6]  // layer2.0.conv2
        conv.fields["dW"] = .number(1)
        XCTAssertThrowsError(try reimport(value)) { error in
            XCTAssertTrue("\(error)".contains("module #13 cudnn.SpatialConvolution"), "\(error)")
            XCTAssertTrue("\(error)".contains("dW is 1 in the file but 2 for layer2.0.conv2 in the model"), "\(error)")
        }
        conv.fields["dW"] = .number(2)

        // One module fewer: the Linear is missing.
        let top = try XCTUnwrap(value["modules"]?.table)
        let linear = try XCTUnwrap(top[9])
        top[9] = nil
        XCTAssertThrowsError(try ResNeXtModel.torch7Tensors(value, configuration: cifar, source: "x.t7")) { error in
            XCTAssertEqual(
                error as? ResNeXtError,
                .shapeMismatch(
                    "x.t7: the file has 26 convolution, batch-norm and linear modules but the model has 27; nothing in the file for fc "
                        + "(linear) and after"
                ))
        }
        assertThrowsIO(
            try ResNeXtModel.importTorch7(value, source: "x.t7", on: backend),
            "x.t7: expected one nn.Linear after the last residual block, found nothing")
        // One module more.
        top[9] = linear
        top[10] = linear
        assertThrowsIO(
            try ResNeXtModel.torch7Tensors(value, configuration: cifar, source: "x.t7"),
            "x.t7: model.modules[10] (nn.Linear) appears twice in the module tree")
        top[10] = .object(
            className: "nn.Linear", version: 1,
            payload: .table(
                Torch7Table(fields: [
                    ("weight", .tensor(Torch7Tensor(shape: [1, 1], floats: [1])))
                ])))
        XCTAssertThrowsError(try ResNeXtModel.torch7Tensors(value, configuration: cifar, source: "x.t7")) { error in
            XCTAssertEqual(
                error as? ResNeXtError,
                .shapeMismatch(
                    "x.t7: the file has 28 convolution, batch-norm and linear modules but the model has 27; the first extra one is module "
                        + "#28 nn.Linear (model.modules[10])"
                ))
        }
        // A batch norm where the model has its classifier.
        top[10] = linear
        top[9] = .object(className: "nn.SpatialBatchNormalization", version: 2, payload: .table(Torch7Table()))
        XCTAssertThrowsError(try ResNeXtModel.torch7Tensors(value, configuration: cifar, source: "x.t7")) { error in
            XCTAssertTrue(
                "\(error)".contains(
                    "x.t7: module #27 nn.SpatialBatchNormalization (model.modules[9]) is a batch norm but the model's layer 27, fc, is a "
                        + "linear"
                ), "\(error)")
        }
        // Layers with weights that are neither convolutions, batch norms nor linear layers.
        top[10] = .object(
            className: "nn.PReLU", version: 1,
            payload: .table(
                Torch7Table(fields: [
                    ("weight", .tensor(Torch7Tensor(shape: [1], floats: [0.25])))
                ])))
        assertThrowsIO(
            try ResNeXtModel.torch7Tensors(value, configuration: cifar, source: "x.t7"),
            "x.t7: model.modules[10] (nn.PReLU) has weights but is not a supported layer")
    }

    func testNotAModel() throws {
        assertThrowsIO(
            try ResNeXtModel.importTorch7(.table(Torch7Table(fields: [("hello", .number(123))])), source: "h.t7", on: backend),
            "h.t7: model is {…}, not an nn module")
        assertThrowsIO(
            try ResNeXtModel.importTorch7(sequential([]), source: "e.t7", on: backend),
            "e.t7: no residual blocks (nn.ConcatTable followed by nn.CAddTable) in the module tree")
        // A module that contains itself.
        let fields = Torch7Table()
        let loop = Torch7Value.object(className: "nn.Sequential", version: 1, payload: .table(fields))
        fields["modules"] = .table(Torch7Table(array: [loop]))
        assertThrowsIO(
            try ResNeXtModel.importTorch7(loop, source: "loop.t7", on: backend),
            "loop.t7: model.modules[1] (nn.Sequential) appears twice in the module tree")
        // A 5×5 stem is not one of the original's.
        let model = try ResNeXtModel.exportTorch7(try ResNeXtModel(tinyImageNetStem, on: backend), on: backend)
        allModules(model)[1].fields["kW"] = .number(5)
        assertThrowsIO(
            try ResNeXtModel.torch7Configuration(model, source: "s.t7"),
            "s.t7: module #1 cudnn.SpatialConvolution (model.modules[1]) has a 5×5 kernel")
    }

    private func assertThrowsIO<T>(_ body: @autoclosure () throws -> T, _ phrase: String, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            guard case .io(let message)? = error as? ResNeXtError else { return XCTFail("not an I/O error: \(error)", line: line) }
            XCTAssertTrue(message.contains(phrase), "'\(message)' lacks '\(phrase)'", line: line)
        }
    }
}
