import ResNeXtCore
import ResNeXtData
import ResNeXtIO
import ResNeXtModels
import ResNeXtTransforms
import XCTest

/// Fixtures made by scripts/make_tiny_resnext_fixture.py (PyTorch + torchvision; not needed to run tests).
let fixtures = String(#filePath.dropLast("PyTorchParityTests.swift".count)) + "Fixtures/"

/// The fixture's torchvision-style ResNeXt: ImageNet stem of 8 channels, planes 2/4/8/16, one block per
/// stage, 4 groups, base width 32, 5 classes.
let tinyTorchvisionConfiguration = ModelConfiguration(
    stem: .imagenet, stemWidth: 8, stagePlanes: [2, 4, 8, 16], blocksPerStage: [1, 1, 1, 1], blockType: .resnextC,
    baseWidth: 32, cardinality: 4, shortcutType: .B, classes: 5)

final class PyTorchParityTests: XCTestCase {
    func testLogitsEqualPyTorchOnTheSameWeights() throws {
        let model = try ResNeXtModel(tinyTorchvisionConfiguration, on: cpu)
        let report = try model.loadSafetensors(fixtures + "tiny_resnext_weights.safetensors", on: cpu)
        XCTAssertEqual(report, StateDictReport(missing: [], unexpected: []))
        let io = try SafetensorsFile.read(fixtures + "tiny_resnext_io.safetensors")
        let input = try XCTUnwrap(io["input"]), expected = try XCTUnwrap(io["logits"]).floats()
        model.setTraining(false)
        let logits = try cpu.download(try model.forward(try cpu.upload(input.floats(), shape: Shape(input.shape))))
        XCTAssertEqual(logits.count, 10)
        let scale = expected.map(abs).max()!
        let error = zip(logits, expected).map { abs($0 - $1) }.max()! / scale
        XCTAssertLessThan(error, 1e-4, "logits \(logits) vs PyTorch \(expected)")
    }

    func testStateDictRoundTripAndMismatchErrors() throws {
        let directory = "/tmp/resnext-statedict-\(getpid())"
        try FileIO.makeDirectories(directory)
        let a = try ResNeXtModel(tinyTorchvisionConfiguration, on: cpu, seed: 1)
        let b = try ResNeXtModel(tinyTorchvisionConfiguration, on: cpu, seed: 2)
        try a.saveSafetensors(directory + "/a.safetensors", on: cpu)
        try b.loadSafetensors(directory + "/a.safetensors", on: cpu)
        for ((name, pa), (_, pb)) in zip(a.namedTensors(), b.namedTensors()) {
            XCTAssertEqual(try cpu.download(pa.value), try cpu.download(pb.value), name)
        }
        // A model with another classifier: shape mismatch names the key and both shapes.
        let other = try ResNeXtModel(
            ModelConfiguration(
                stem: .imagenet, stemWidth: 8, stagePlanes: [2, 4, 8, 16], blocksPerStage: [1, 1, 1, 1],
                blockType: .resnextC, baseWidth: 32, cardinality: 4, shortcutType: .B, classes: 7), on: cpu)
        XCTAssertThrowsError(try other.loadSafetensors(directory + "/a.safetensors", on: cpu)) { error in
            XCTAssertTrue("\(error)".contains("fc.weight is [5, 64]"), "\(error)")
        }
        // A model of another depth: missing and unexpected keys are listed.
        let deeper = try ResNeXtModel(
            ModelConfiguration(
                stem: .imagenet, stemWidth: 8, stagePlanes: [2, 4, 8, 16], blocksPerStage: [1, 2, 1, 1],
                blockType: .resnextC, baseWidth: 32, cardinality: 4, shortcutType: .B, classes: 5), on: cpu)
        XCTAssertThrowsError(try deeper.loadSafetensors(directory + "/a.safetensors", on: cpu)) { error in
            XCTAssertTrue("\(error)".contains("missing keys: layer2.1.conv1.weight"), "\(error)")
        }
        let report = try deeper.loadSafetensors(directory + "/a.safetensors", on: cpu, strict: false)
        XCTAssertEqual(report.missing.count, 15)  // 3 convs + 3 batch norms × 4 tensors
        XCTAssertThrowsError(try a.loadSafetensors(directory + "/missing.safetensors", on: cpu)) { error in
            XCTAssertTrue("\(error)".contains("missing.safetensors"), "\(error)")
        }
    }
}

final class PyTorchTrainingParityTests: XCTestCase {
    /// One training-mode step equals PyTorch's: logits with batch statistics, the loss, every parameter's
    /// gradient, and the running statistics after the update.
    func testTrainingStepEqualsPyTorch() throws {
        let model = try ResNeXtModel(tinyTorchvisionConfiguration, on: cpu)
        try model.loadSafetensors(fixtures + "tiny_resnext_weights.safetensors", on: cpu)
        let io = try SafetensorsFile.read(fixtures + "tiny_resnext_io.safetensors")
        let reference = try SafetensorsFile.read(fixtures + "tiny_resnext_train.safetensors")
        let input = try XCTUnwrap(io["input"])
        let labels = try XCTUnwrap(reference["labels"]).floats().map { Int32($0) }
        model.setTraining(true)
        model.zeroGradients()
        let logits = try model.forward(try cpu.upload(input.floats(), shape: Shape(input.shape)))
        func close(_ got: [Float], _ want: [Float], _ what: String, tolerance: Float = 1e-4) {
            let scale = max(want.map(abs).max() ?? 0, 1e-6)
            let error = zip(got, want).map { abs($0 - $1) }.max() ?? 0
            XCTAssertEqual(got.count, want.count, what)
            XCTAssertLessThan(error / scale, tolerance, "\(what): relative error \(error / scale)")
        }
        close(try cpu.download(logits), try XCTUnwrap(reference["train_logits"]).floats(), "training-mode logits")
        let ce = try cpu.softmaxCrossEntropy(logits, labels: labels)
        XCTAssertEqual(ce.loss, try XCTUnwrap(reference["loss"]).floats()[0], accuracy: 1e-5)
        _ = try model.backward(ce.gradient)
        var checked = 0
        for (name, p) in model.namedTensors() {
            if let g = reference["grad." + name] {
                close(try cpu.download(try XCTUnwrap(p.gradient, name)), g.floats(), "gradient of \(name)", tolerance: 1e-3)
                checked += 1
            } else if let after = reference["after." + name] {
                close(try cpu.download(p.value), after.floats(), "\(name) after the step")
                checked += 1
            }
        }
        XCTAssertEqual(checked, model.namedTensors().count)
    }
}

final class PreprocessingParityTests: XCTestCase {
    /// Our evaluation preprocessing of a real photo (libjpeg-turbo decode, torch/image bicubic Scale(256),
    /// normalize, center crop 224) against torchvision's (PIL decode, PIL bicubic Resize(256) with
    /// anti-aliasing, center crop, normalize), sampled on a 16×16 grid. PIL anti-aliases when shrinking and
    /// torch/image does not (451×300 → 384×256 here), so pixels differ slightly (measured in normalized
    /// units: mean 0.016, max 0.116 over the 768 samples); channel means agree to 1e-2.
    func testEvaluationPreprocessingMatchesTorchvisionWithinTheBicubicDifference() throws {
        let image = Transforms.imagenetEval(try ImageDecoder.decodeFile(fixtures + "chelsea.jpg"))
        XCTAssertEqual([image.channels, image.height, image.width], [3, 224, 224])
        let reference = try SafetensorsFile.read(fixtures + "chelsea_torchvision.safetensors")
        let grid = try XCTUnwrap(reference["grid"]).floats(), means = try XCTUnwrap(reference["channel_mean"]).floats()
        var differences = [Float]()
        for c in 0..<3 {
            for (gy, y) in stride(from: 0, to: 224, by: 14).enumerated() {
                for (gx, x) in stride(from: 0, to: 224, by: 14).enumerated() {
                    differences.append(abs(image[c, y, x] - grid[(c * 16 + gy) * 16 + gx]))
                }
            }
            let mean = image.pixels[(c * 224 * 224)..<((c + 1) * 224 * 224)].reduce(0, +) / Float(224 * 224)
            XCTAssertEqual(mean, means[c], accuracy: 1e-2, "channel \(c) mean")
        }
        let meanDifference = differences.reduce(0, +) / Float(differences.count)
        XCTAssertLessThan(meanDifference, 0.03, "mean |ours − torchvision| on the grid")
        XCTAssertLessThan(differences.max()!, 0.2)
    }
}
