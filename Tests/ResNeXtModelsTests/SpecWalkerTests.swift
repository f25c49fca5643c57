import ResNeXtCPU
import ResNeXtCore
import ResNeXtModels
import ResNeXtNN
import XCTest

final class SpecWalkerTests: XCTestCase {
    /// Every configuration variant: the walker's tensor names and shapes are the built model's `namedTensors()`,
    /// in the same order, and its parameter count is the model's.
    func testWalkerNamesAreTheBuiltModelsTensors() throws {
        var checked = 0
        for stem in [Stem.imagenet, .cifar] {
            for block in BlockType.allCases {
                for shortcut in ShortcutType.allCases {
                    for variant in 0..<16 {
                        let config = ModelConfiguration(
                            stem: stem, stemWidth: 8, stagePlanes: [4, 8], blocksPerStage: [2, 1], blockType: block, baseWidth: 32,
                            cardinality: block == .basic ? 1 : 2, shortcutType: shortcut, classes: 3,
                            shortcutBatchNorm: variant & 1 == 0, batchNormAfterAddition: variant & 2 != 0,
                            preActivation: variant & 4 != 0, convolutionBias: variant & 8 != 0)
                        guard (try? config.validate()) != nil else { continue }
                        let spec = try config.spec()
                        let model = try ResNeXtModel(config, on: cpu)
                        let built = model.namedTensors()
                        let walked = spec.tensors()
                        XCTAssertEqual(walked.map(\.name), built.map(\.name), "\(config)")
                        XCTAssertEqual(walked.map(\.shape), built.map(\.parameter.value.shape.dims), "\(config)")
                        XCTAssertEqual(walked.map(\.isTrainable), built.map(\.parameter.isTrainable), "\(config)")
                        XCTAssertEqual(spec.parameterCount, model.parameterCount, "\(config)")
                        checked += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
    }

    func testWalkerNamesNodesLikeTorchvision() throws {
        let spec = try ModelConfiguration(
            stem: .cifar, stemWidth: 8, stagePlanes: [8, 16], blocksPerStage: [1, 1], blockType: .resnextB,
            baseWidth: 16, cardinality: 4, shortcutType: .B, classes: 5
        ).spec()
        var names: [String] = []
        spec.walk { name, _ in names.append(name) }
        XCTAssertEqual(names.first, "")
        for name in [
            "layer1", "layer1.0", "layer1.0.paths", "layer1.0.paths.3", "layer1.0.paths.3.bn1", "layer1.0.downsample",
            "layer1.0.downsample.1", "layer1.0.relu_out", "fc"
        ] {
            XCTAssertTrue(names.contains(name), "missing \(name)")
        }
        XCTAssertTrue(spec.tensors().map(\.name).contains("layer1.0.paths.3.bn1.running_mean"))
        XCTAssertEqual(spec.layersWithTensors().first?.name, "conv1")
        XCTAssertEqual(spec.layersWithTensors().last?.name, "fc")
        guard
            case let .residual(before, branch, shortcut, after) = spec.children(named: "")[3].spec.children(named: "layer1")[0].spec
                .named("layer1.0")
        else { return XCTFail("layer1.0 is not a residual block") }
        XCTAssertEqual(before.map(\.name), [])
        XCTAssertEqual(branch.map(\.name), ["layer1.0.paths", "layer1.0.conv3", "layer1.0.bn3"])
        XCTAssertEqual(shortcut?.name, "layer1.0.downsample")
        XCTAssertEqual(after.map(\.name), ["layer1.0.relu_out"])
    }
}
