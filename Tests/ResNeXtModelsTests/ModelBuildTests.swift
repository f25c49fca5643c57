import ResNeXtCPU
import ResNeXtCore
import ResNeXtModels
import ResNeXtNN
import XCTest

let cpu: CPUBackend = try! CPUBackend()

/// A small CIFAR-style ResNeXt for tests: 8-channel stem, two stages of one block.
func tinyConfiguration(_ blockType: BlockType, cardinality: Int = 4, shortcut: ShortcutType = .B, classes: Int = 5) -> ModelConfiguration {
    ModelConfiguration(
        stem: .cifar, stemWidth: 8, stagePlanes: [8, 16], blocksPerStage: [1, 1], blockType: blockType,
        baseWidth: 16, cardinality: cardinality, shortcutType: shortcut, classes: classes)
}

func randomInput(_ shape: Shape, seed: UInt64) throws -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return try cpu.upload((0..<shape.elementCount).map { _ in Float(rng.normal()) }, shape: shape)
}

final class ModelBuildTests: XCTestCase {
    func testBuiltModelMatchesItsSpecAndTorchvisionNames() throws {
        let config = try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 2)
        let model = try ResNeXtModel(config, on: cpu, seed: 1)
        XCTAssertEqual(model.parameterCount, try config.analyze().parameters)
        let names = model.namedTensors().map(\.name)
        XCTAssertEqual(Array(names.prefix(5)), ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"])
        for name in [
            "layer1.0.conv1.weight", "layer1.0.bn3.running_var", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.bias",
            "layer2.0.conv2.weight", "layer3.0.downsample.1.running_mean", "fc.weight", "fc.bias"
        ] {
            XCTAssertTrue(names.contains(name), "missing \(name)")
        }
        XCTAssertEqual(names.last, "fc.bias")
        let y = try model.forward(try randomInput([2, 3, 32, 32], seed: 2))
        XCTAssertEqual(y.shape, [2, 10])
    }

    /// Type-B (parallel paths, concatenated) and type-C (grouped convolution) blocks compute the same
    /// function when C's weights are B's paths stacked along the output channels.
    func testTypeBAndTypeCAreEquivalent() throws {
        let b = try ResNeXtModel(tinyConfiguration(.resnextB), on: cpu, seed: 3)
        let c = try ResNeXtModel(tinyConfiguration(.resnextC), on: cpu, seed: 4)
        XCTAssertEqual(b.parameterCount, c.parameterCount)
        let bTensors = Dictionary(uniqueKeysWithValues: b.namedTensors().map { ($0.name, $0.parameter) })
        // Randomize batch-norm statistics too, so that eval mode is a real check.
        var rng = RandomGenerator(seed: 5)
        for (name, p) in b.namedTensors() where name.hasSuffix("running_var") || name.hasSuffix("running_mean") || name.contains("bn") {
            let n = p.value.elementCount
            let values = (0..<n).map { _ in name.hasSuffix("running_var") ? Float(rng.uniform(0.5, 2)) : Float(rng.normal(std: 0.5)) }
            p.value = try cpu.upload(values, shape: p.value.shape)
        }
        for (name, p) in c.namedTensors() {
            if let same = bTensors[name] {
                p.value = try cpu.upload(try cpu.download(same.value), shape: same.value.shape)
                continue
            }
            // layerS.I.<conv1|bn1|conv2|bn2>.<field> ← concat of layerS.I.paths.<0..C-1>.<same>.<field>
            var parts = name.split(separator: ".").map(String.init)
            parts.insert("paths", at: 2)
            let pieces = try (0..<4).map { path -> [Float] in
                var key = parts
                key.insert(String(path), at: 3)
                guard let source = bTensors[key.joined(separator: ".")] else {
                    throw ResNeXtError.invalidArgument("no B tensor for \(name)")
                }
                return try cpu.download(source.value)
            }
            p.value = try cpu.upload(pieces.flatMap { $0 }, shape: p.value.shape)
        }
        let x = try randomInput([3, 3, 8, 8], seed: 6)
        for training in [false, true] {
            b.setTraining(training)
            c.setTraining(training)
            let yb = try cpu.download(try b.forward(x)), yc = try cpu.download(try c.forward(x))
            let scale = yb.map(abs).max()!
            XCTAssertGreaterThan(scale, 1e-3)
            XCTAssertLessThan(zip(yb, yc).map { abs($0 - $1) }.max()! / scale, 1e-4, "training \(training)")
        }
    }

    func testTypeAShortcutAndBasicBlocksRun() throws {
        // fb.resnet.torch CIFAR ResNet-20 with zero-padding shortcuts: forward and backward work.
        let model = try ResNeXtModel(try .preset("resnet20"), on: cpu, seed: 7)
        let x = try randomInput([2, 3, 32, 32], seed: 8)
        let ce = try cpu.softmaxCrossEntropy(try model.forward(x), labels: [1, 9])
        let dx = try model.backward(ce.gradient)
        XCTAssertEqual(dx.shape, x.shape)
        XCTAssertNotNil(model.namedParameters().first { $0.name == "layer3.2.conv2.weight" }?.parameter.gradient)
    }

    /// A small CIFAR ResNeXt trains: the loss on a fixed batch falls over a few SGD steps.
    func testSmallCIFARResNeXtTrains() throws {
        let config = try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 4)
        let model = try ResNeXtModel(config, on: cpu, seed: 9)
        let x = HostBatch(
            values: try cpu.download(try randomInput([8, 3, 32, 32], seed: 10)), shape: [8, 3, 32, 32],
            labels: [0, 1, 2, 3, 4, 5, 6, 7])
        let step = TrainingStep(
            model: model, optimizer: try SGD(cpu, parameters: model.namedParameters(), SGDHyperparameters(weightDecay: 5e-4)))
        let losses = try (0..<8).map { _ in try step(x, learningRate: 0.02).loss }
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "losses \(losses)")
    }

    /// Initialisation as the original: He normal (fan = k·k·out), BN γ = 1 and β = 0, linear bias 0.
    func testInitialisationFollowsTheOriginal() throws {
        let model = try ResNeXtModel(try .original(dataset: .cifar10, depth: 11, baseWidth: 64, cardinality: 4), on: cpu, seed: 11)
        let tensors = Dictionary(uniqueKeysWithValues: model.namedTensors().map { ($0.name, $0.parameter.value) })
        let w = try cpu.download(tensors["layer3.0.conv2.weight"]!)  // [1024, 256, 3, 3] grouped: fan = 9·1024
        let std = (w.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(w.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / 9216).squareRoot(), accuracy: 0.02 * (2.0 / 9216).squareRoot())
        XCTAssertEqual(Set(try cpu.download(tensors["layer2.0.bn2.weight"]!)), [1])
        XCTAssertEqual(Set(try cpu.download(tensors["layer2.0.bn2.bias"]!)), [0])
        XCTAssertEqual(Set(try cpu.download(tensors["fc.bias"]!)), [0])
        let fc = try cpu.download(tensors["fc.weight"]!)
        XCTAssertLessThanOrEqual(fc.map(abs).max()!, 1 / Float(1024).squareRoot())
    }
}
