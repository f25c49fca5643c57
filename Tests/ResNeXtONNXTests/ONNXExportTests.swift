import Foundation
import ResNeXtCPU
import ResNeXtCore
import ResNeXtModels
import ResNeXtONNX
import XCTest

private let cpu: CPUBackend = try! CPUBackend()

final class ONNXExportTests: XCTestCase {
    /// Exports `model` and parses the bytes back with the generated `ModelProto`.
    private func roundTrip(_ model: ResNeXtModel, opset: Int = 17) throws -> Onnx_ModelProto {
        let bytes = try ONNXExport.export(model, on: cpu, opset: opset)
        return try Onnx_ModelProto(serializedBytes: bytes)
    }

    private func counts(_ graph: Onnx_GraphProto) -> [String: Int] {
        graph.node.reduce(into: [:]) { $0[$1.opType, default: 0] += 1 }
    }

    private func node(_ graph: Onnx_GraphProto, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> Onnx_NodeProto
    {
        try XCTUnwrap(graph.node.first { $0.name == name }, "no node \(name)", file: file, line: line)
    }

    private func attribute(_ node: Onnx_NodeProto, _ name: String) -> Onnx_AttributeProto? {
        node.attribute.first { $0.name == name }
    }

    /// Every initializer's data is the model's tensor, bit for bit, and every model tensor is an initializer.
    private func checkInitializers(_ proto: Onnx_ModelProto, _ model: ResNeXtModel, file: StaticString = #filePath, line: UInt = #line)
        throws
    {
        let byName = Dictionary(uniqueKeysWithValues: proto.graph.initializer.map { ($0.name, $0) })
        for (name, parameter) in model.namedTensors() {
            let t = try XCTUnwrap(byName[name], "no initializer \(name)", file: file, line: line)
            XCTAssertEqual(t.dataType, Int32(Onnx_TensorProto.DataType.float.rawValue), name, file: file, line: line)
            XCTAssertEqual(t.dims.map(Int.init), parameter.value.shape.dims, name, file: file, line: line)
            let floats = stride(from: 0, to: t.rawData.count, by: 4).map { i -> Float in
                let b = t.rawData.index(t.rawData.startIndex, offsetBy: i)
                let bits =
                    UInt32(t.rawData[b]) | UInt32(t.rawData[b + 1]) << 8 | UInt32(t.rawData[b + 2]) << 16 | UInt32(t.rawData[b + 3]) << 24
                return Float(bitPattern: bits)
            }
            XCTAssertEqual(floats, try cpu.download(parameter.value), name, file: file, line: line)
        }
    }

    /// Nodes are in topological order: every input is the graph input, an initializer or an earlier output,
    /// every value is produced once, and the last node produces `logits`.
    private func checkTopology(_ graph: Onnx_GraphProto, file: StaticString = #filePath, line: UInt = #line) {
        var known = Set(["input"] + graph.initializer.map(\.name))
        for node in graph.node {
            for input in node.input {
                XCTAssertTrue(known.contains(input), "\(node.name) reads \(input) before it exists", file: file, line: line)
            }
            for output in node.output {
                XCTAssertTrue(known.insert(output).inserted, "\(output) produced twice", file: file, line: line)
            }
        }
        XCTAssertEqual(graph.node.last?.output, ["logits"], file: file, line: line)
        XCTAssertEqual(graph.node.last?.opType, "Gemm", file: file, line: line)
    }

    func testResNeXtCGraphParsesBackWithHeaderNodesAndWeights() throws {
        let config = try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 2)
        let model = try ResNeXtModel(config, on: cpu, seed: 3)
        let proto = try roundTrip(model)
        XCTAssertEqual(proto.irVersion, 8)
        XCTAssertEqual(proto.producerName, "resnext-swift")
        XCTAssertEqual(proto.opsetImport.count, 1)
        XCTAssertEqual(proto.opsetImport.first?.domain, "")
        XCTAssertEqual(proto.opsetImport.first?.version, 17)

        let graph = proto.graph
        XCTAssertEqual(graph.input.map(\.name), ["input"])
        let inputDims = graph.input[0].type.tensorType.shape.dim
        XCTAssertEqual(inputDims.map(\.dimParam), ["batch", "", "height", "width"])
        XCTAssertEqual(inputDims[1].dimValue, 3)
        XCTAssertEqual(graph.input[0].type.tensorType.elemType, Int32(Onnx_TensorProto.DataType.float.rawValue))
        XCTAssertEqual(graph.output.map(\.name), ["logits"])
        XCTAssertEqual(graph.output[0].type.tensorType.shape.dim.map(\.dimParam), ["batch", ""])
        XCTAssertEqual(graph.output[0].type.tensorType.shape.dim[1].dimValue, 10)

        // Stem conv + 3 blocks × 3 convs + 3 projection shortcuts; a BN after each; stem ReLU + 2 per block
        // + 1 after each add.
        XCTAssertEqual(
            counts(graph),
            [
                "Conv": 13, "BatchNormalization": 13, "Relu": 10, "Add": 3, "GlobalAveragePool": 1,
                "Flatten": 1, "Gemm": 1
            ])
        checkTopology(graph)

        let grouped = try node(graph, "layer2.0.conv2")
        XCTAssertEqual(grouped.opType, "Conv")
        XCTAssertEqual(grouped.input, ["layer2.0.relu1", "layer2.0.conv2.weight"])
        XCTAssertEqual(attribute(grouped, "group")?.i, 2)
        XCTAssertEqual(attribute(grouped, "group")?.type, .int)
        XCTAssertEqual(attribute(grouped, "strides")?.ints, [2, 2])
        XCTAssertEqual(attribute(grouped, "pads")?.ints, [1, 1, 1, 1])
        XCTAssertEqual(attribute(grouped, "kernel_shape")?.ints, [3, 3])
        XCTAssertEqual(attribute(grouped, "kernel_shape")?.type, .ints)
        let projection = try node(graph, "layer2.0.downsample.0")
        XCTAssertEqual(attribute(projection, "strides")?.ints, [2, 2])
        XCTAssertEqual(attribute(projection, "pads")?.ints, [0, 0, 0, 0])
        XCTAssertEqual(attribute(projection, "group")?.i, 1)
        let bn = try node(graph, "layer1.0.bn3")
        XCTAssertEqual(bn.opType, "BatchNormalization")
        XCTAssertEqual(
            bn.input,
            [
                "layer1.0.conv3", "layer1.0.bn3.weight", "layer1.0.bn3.bias", "layer1.0.bn3.running_mean",
                "layer1.0.bn3.running_var"
            ])
        XCTAssertEqual(attribute(bn, "epsilon")?.f, 1e-5)
        let add = try node(graph, "layer1.0.add")
        XCTAssertEqual(add.input, ["layer1.0.bn3", "layer1.0.downsample.1"])
        let fc = try node(graph, "fc")
        XCTAssertEqual(fc.input, ["flatten", "fc.weight", "fc.bias"])
        XCTAssertEqual(attribute(fc, "transB")?.i, 1)
        XCTAssertEqual(attribute(try node(graph, "flatten"), "axis")?.i, 1)

        XCTAssertEqual(graph.initializer.count, model.namedTensors().count)
        try checkInitializers(proto, model)
    }

    func testTypeBPathsConcatenate() throws {
        let config = ModelConfiguration(
            stem: .cifar, stemWidth: 8, stagePlanes: [8, 16], blocksPerStage: [1, 1], blockType: .resnextB,
            baseWidth: 16, cardinality: 2, shortcutType: .B, classes: 5)
        let model = try ResNeXtModel(config, on: cpu, seed: 4)
        let proto = try roundTrip(model)
        let graph = proto.graph
        // Per block: 2 paths × 2 convs + conv3 + projection shortcut.
        XCTAssertEqual(
            counts(graph),
            [
                "Conv": 13, "BatchNormalization": 13, "Relu": 1 + 2 * (4 + 1), "Concat": 2, "Add": 2,
                "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1
            ])
        let concat = try node(graph, "layer2.0.paths")
        XCTAssertEqual(concat.opType, "Concat")
        XCTAssertEqual(concat.input, ["layer2.0.paths.0.relu2", "layer2.0.paths.1.relu2"])
        XCTAssertEqual(attribute(concat, "axis")?.i, 1)
        XCTAssertEqual(try node(graph, "layer2.0.conv3").input, ["layer2.0.paths", "layer2.0.conv3.weight"])
        XCTAssertEqual(attribute(try node(graph, "layer2.0.paths.1.conv2"), "strides")?.ints, [2, 2])
        checkTopology(graph)
        try checkInitializers(proto, model)
    }

    func testTypeAShortcutsSubsampleAndZeroPad() throws {
        let config = try ModelConfiguration.original(dataset: .cifar10, depth: 8, blockType: .basic)
        XCTAssertEqual(config.shortcutType, .A)
        let model = try ResNeXtModel(config, on: cpu, seed: 5)
        let proto = try roundTrip(model)
        let graph = proto.graph
        // Basic blocks: 2 convs each, no projection; type-A shortcuts in stages 2 and 3.
        XCTAssertEqual(
            counts(graph),
            [
                "Conv": 7, "BatchNormalization": 7, "Relu": 1 + 3 * 2, "Add": 3, "AveragePool": 2, "Pad": 2,
                "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1
            ])
        let pool = try node(graph, "layer2.0.downsample.subsample")
        XCTAssertEqual(pool.input, ["layer1.0.relu_out"])
        XCTAssertEqual(attribute(pool, "kernel_shape")?.ints, [1, 1])
        XCTAssertEqual(attribute(pool, "strides")?.ints, [2, 2])
        let pad = try node(graph, "layer2.0.downsample.zero_pad")
        XCTAssertEqual(pad.input.first, "layer2.0.downsample.subsample")
        XCTAssertEqual(attribute(pad, "mode")?.s, Data("constant".utf8))
        let pads = try XCTUnwrap(graph.initializer.first { $0.name == pad.input[1] })
        XCTAssertEqual(pads.dataType, Int32(Onnx_TensorProto.DataType.int64.rawValue))
        XCTAssertEqual(pads.int64Data, [0, 0, 0, 0, 0, 16, 0, 0])
        XCTAssertEqual(try node(graph, "layer2.0.add").input, ["layer2.0.bn2", "layer2.0.downsample.zero_pad"])
        // Block 1 of stage 1 keeps its channels: identity shortcut.
        XCTAssertEqual(try node(graph, "layer1.0.add").input, ["layer1.0.bn2", "relu"])
        checkTopology(graph)
        try checkInitializers(proto, model)
    }

    func testImageNetStemMaxPoolAndOpsets() throws {
        let config = ModelConfiguration(
            stem: .imagenet, stemWidth: 8, stagePlanes: [2, 4, 8, 16], blocksPerStage: [1, 1, 1, 1],
            blockType: .resnextC, baseWidth: 32, cardinality: 4, shortcutType: .B, classes: 5)
        let model = try ResNeXtModel(config, on: cpu, seed: 6)
        let proto = try roundTrip(model, opset: 13)
        XCTAssertEqual(proto.irVersion, 7)
        XCTAssertEqual(proto.opsetImport.first?.version, 13)
        let conv1 = try node(proto.graph, "conv1")
        XCTAssertEqual(conv1.input, ["input", "conv1.weight"])
        XCTAssertEqual(attribute(conv1, "kernel_shape")?.ints, [7, 7])
        XCTAssertEqual(attribute(conv1, "strides")?.ints, [2, 2])
        XCTAssertEqual(attribute(conv1, "pads")?.ints, [3, 3, 3, 3])
        let pool = try node(proto.graph, "maxpool")
        XCTAssertEqual(pool.opType, "MaxPool")
        XCTAssertEqual(attribute(pool, "kernel_shape")?.ints, [3, 3])
        XCTAssertEqual(attribute(pool, "strides")?.ints, [2, 2])
        XCTAssertEqual(attribute(pool, "pads")?.ints, [1, 1, 1, 1])
        XCTAssertEqual(attribute(try node(proto.graph, "layer3.0.conv2"), "group")?.i, 4)
        checkTopology(proto.graph)
        try checkInitializers(proto, model)

        XCTAssertEqual(try roundTrip(model, opset: 21).irVersion, 10)
        XCTAssertThrowsError(try ONNXExport.export(model, on: cpu, opset: 9)) { error in
            XCTAssertTrue("\(error)".contains("opset 9"), "\(error)")
        }
    }

    /// fb.resnet.torch's released ResNet-50 layout: bare projection convolutions, batch norm after the add.
    func testBatchNormAfterAdditionAndBareProjection() throws {
        let config = ModelConfiguration(
            stem: .cifar, stemWidth: 8, stagePlanes: [4, 8], blocksPerStage: [1, 1], blockType: .resnet,
            baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 3,
            shortcutBatchNorm: false, batchNormAfterAddition: true)
        let model = try ResNeXtModel(config, on: cpu, seed: 5)
        let proto = try roundTrip(model)
        checkTopology(proto.graph)
        try checkInitializers(proto, model)
        let add = try node(proto.graph, "layer1.0.add")
        XCTAssertEqual(add.input, ["layer1.0.conv3", "layer1.0.downsample.0"])
        let bn = try node(proto.graph, "layer1.0.bn_after_add")
        XCTAssertEqual(bn.opType, "BatchNormalization")
        XCTAssertEqual(bn.input.first, "layer1.0.add")
        XCTAssertEqual(try node(proto.graph, "layer1.0.relu_out").input, ["layer1.0.bn_after_add"])
        XCTAssertEqual(counts(proto.graph)["BatchNormalization"], 1 + 2 * 2 + 2)
    }

    /// Pre-activation (fb.resnet.torch's preresnet.lua): batch norm + ReLU before the split at a stage's start,
    /// inside the branch later, no ReLU after the addition, a final batch norm + ReLU before the pooling.
    func testPreActivationGraph() throws {
        let config = ModelConfiguration(
            stem: .cifar, stemWidth: 8, stagePlanes: [8, 16], blocksPerStage: [2, 2], blockType: .basic,
            baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 3,
            shortcutBatchNorm: false, preActivation: true, convolutionBias: true)
        let model = try ResNeXtModel(config, on: cpu, seed: 6)
        let proto = try roundTrip(model)
        checkTopology(proto.graph)
        try checkInitializers(proto, model)
        XCTAssertEqual(try node(proto.graph, "layer2.0.conv1").input, ["layer2.0.relu0", "layer2.0.conv1.weight", "layer2.0.conv1.bias"])
        XCTAssertEqual(try node(proto.graph, "layer2.0.bn0").input.first, "layer1.1.add")
        XCTAssertEqual(try node(proto.graph, "layer2.0.conv1").input.first, "layer2.0.relu0")
        XCTAssertEqual(
            try node(proto.graph, "layer2.0.downsample.0").input.first, "layer2.0.relu0", "the shortcut takes the activated input")
        XCTAssertEqual(try node(proto.graph, "layer2.1.bn0").input.first, "layer2.0.add")
        XCTAssertEqual(
            try node(proto.graph, "layer2.1.add").input, ["layer2.1.conv2", "layer2.0.add"], "identity shortcut of the raw input")
        XCTAssertEqual(try node(proto.graph, "bn_final").input.first, "layer2.1.add")
        XCTAssertEqual(try node(proto.graph, "avgpool").input, ["relu_final"])
        XCTAssertFalse(proto.graph.node.contains { $0.name.hasSuffix("relu_out") })
    }

    func testWriteIsTheExportedBytesAndTheClassifierFollowsReset() throws {
        let config = try ModelConfiguration.original(dataset: .cifar10, depth: 8, blockType: .basic)
        let model = try ResNeXtModel(config, on: cpu, seed: 7)
        try model.resetClassifier(classes: 3, seed: 8)
        let path = NSTemporaryDirectory() + "resnext-onnx-\(getpid()).onnx"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ONNXExport.write(model, on: cpu, to: path)
        let written = try XCTUnwrap(FileManager.default.contents(atPath: path))
        XCTAssertEqual([UInt8](written), try ONNXExport.export(model, on: cpu))
        let proto = try Onnx_ModelProto(serializedBytes: [UInt8](written))
        XCTAssertEqual(proto.graph.output[0].type.tensorType.shape.dim[1].dimValue, 3)
        XCTAssertEqual(proto.graph.initializer.first { $0.name == "fc.weight" }?.dims, [3, 64])
        try checkInitializers(proto, model)
    }
}

/// Writes exported models, an input and our eval-mode logits for `scripts/check_onnx.py` to run in
/// onnxruntime; runs only when `RESNEXT_ONNX_DUMP` names a directory.
final class ONNXDumpForOnnxruntime: XCTestCase {
    func testDumpModelsInputsAndLogits() throws {
        guard let directory = ProcessInfo.processInfo.environment["RESNEXT_ONNX_DUMP"] else {
            throw XCTSkip("set RESNEXT_ONNX_DUMP to a directory to write models for scripts/check_onnx.py")
        }
        let cases: [(String, ModelConfiguration)] = [
            ("cifar_resnext_c_d11_2x4d", try .original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 2)),
            (
                "cifar_resnext_b_tiny",
                ModelConfiguration(
                    stem: .cifar, stemWidth: 8, stagePlanes: [8, 16], blocksPerStage: [1, 1],
                    blockType: .resnextB, baseWidth: 16, cardinality: 2, shortcutType: .B, classes: 5)
            ),
            ("cifar_resnet8_type_a", try .original(dataset: .cifar10, depth: 8, blockType: .basic)),
            (
                "imagenet_stem_tiny",
                ModelConfiguration(
                    stem: .imagenet, stemWidth: 8, stagePlanes: [2, 4, 8, 16], blocksPerStage: [1, 1, 1, 1],
                    blockType: .resnextC, baseWidth: 32, cardinality: 4, shortcutType: .B, classes: 5)
            ),
            (
                "fb_resnet50_layout_tiny",
                ModelConfiguration(
                    stem: .imagenet, stemWidth: 8, stagePlanes: [2, 4], blocksPerStage: [1, 2],
                    blockType: .resnet, baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 4,
                    shortcutBatchNorm: false, batchNormAfterAddition: true)
            ),
            (
                "fb_resnet200_layout_tiny",
                ModelConfiguration(
                    stem: .imagenet, stemWidth: 8, stagePlanes: [2, 4], blocksPerStage: [2, 2],
                    blockType: .resnet, baseWidth: 64, cardinality: 1, shortcutType: .B, classes: 4,
                    shortcutBatchNorm: false, preActivation: true, convolutionBias: true)
            )
        ]
        var rng = RandomGenerator(seed: 42)
        for (index, (name, config)) in cases.enumerated() {
            let model = try ResNeXtModel(config, on: cpu, seed: UInt64(index))
            // Non-trivial batch-norm statistics and affine parameters, so the export of each matters.
            for (tensorName, parameter) in model.namedTensors() {
                let n = parameter.value.elementCount
                let values: [Float]
                switch tensorName.split(separator: ".").last {
                case "running_var": values = (0..<n).map { _ in Float(0.5 + rng.uniform() * 1.5) }
                case "running_mean", "bias": values = (0..<n).map { _ in Float(rng.normal() * 0.1) }
                case "weight" where parameter.value.shape.rank == 1: values = (0..<n).map { _ in Float(0.5 + rng.uniform()) }
                default: continue
                }
                parameter.value = try cpu.upload(values, shape: parameter.value.shape)
            }
            let size = config.nativeResolution + 8 * index  // a size other than the native one for all but the first
            let shape: Shape = [2, config.inputChannels, size, size + 4]
            let input = (0..<shape.elementCount).map { _ in Float(rng.normal()) }
            model.setTraining(false)
            let logits = try cpu.download(try model.forward(try cpu.upload(input, shape: shape)))
            try ONNXExport.write(model, on: cpu, to: "\(directory)/\(name).onnx")
            func raw(_ values: [Float]) -> Data { values.withUnsafeBufferPointer { Data(buffer: $0) } }
            try raw(input).write(to: URL(fileURLWithPath: "\(directory)/\(name).input.f32"))
            try raw(logits).write(to: URL(fileURLWithPath: "\(directory)/\(name).logits.f32"))
            let meta = ["input_shape": shape.dims, "logits_shape": [2, config.classes]]
            try JSONSerialization.data(withJSONObject: meta).write(to: URL(fileURLWithPath: "\(directory)/\(name).json"))
        }
    }
}
