import Foundation
import ResNeXtCPU
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import XCTest

/// The `resnext` executable SwiftPM built next to the test runner.
let resnextExecutable: URL = {
    let candidates = [Bundle.main.executableURL, Bundle(for: CLITests.self).executableURL, Bundle(for: CLITests.self).bundleURL]
        .compactMap { $0?.deletingLastPathComponent() }
    let dirs = candidates + candidates.map { $0.deletingLastPathComponent() }
    let found = dirs.map { $0.appendingPathComponent("resnext") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    return found ?? URL(fileURLWithPath: "resnext-executable-not-found")
}()

/// Runs the `resnext` executable built next to this test bundle.
func runResNeXt(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    try runProgram(resnextExecutable, arguments, environment: environment)
}

/// Runs `executable` with `arguments` and the test's environment plus `environment`; stdout and stderr together.
func runProgram(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

let modelFixtures = String(#filePath.dropLast("ResNeXtCLITests/CLITests.swift".count)) + "ResNeXtModelsTests/Fixtures/"

final class CLITests: XCTestCase {
    func testInfoWithTheOriginalFlagsAndLongAliases() throws {
        let original = try runResNeXt(["info", "-dataset", "cifar10", "-depth", "29", "-baseWidth", "64", "-cardinality", "16"])
        XCTAssertEqual(original.status, 0, original.output)
        XCTAssertTrue(original.output.contains("parameters: 68,155,210"), original.output)
        XCTAssertTrue(original.output.contains("multiply-adds: 10.69 G"), original.output)
        let long = try runResNeXt(["info", "--dataset", "cifar10", "--depth", "29", "--base-width", "64", "--cardinality", "16"])
        XCTAssertTrue(long.output.contains("parameters: 68,155,210"), long.output)
        let preset = try runResNeXt(["info", "--arch", "resnext101_64x4d"])
        XCTAssertTrue(preset.output.contains("parameters: 83,455,272"), preset.output)
    }

    func testComplexityTable() throws {
        let r = try runResNeXt(["info", "-complexityTable"])
        XCTAssertEqual(r.status, 0)
        let row = r.output.split(separator: "\n").first { $0.hasPrefix("50") && $0.contains("32x4d") }
        XCTAssertNotNil(row)
        XCTAssertTrue(row?.contains("25,028,904") ?? false, r.output)
        XCTAssertEqual(r.output.split(separator: "\n").count, 11)
    }

    func testBadFlagsGiveClearErrors() throws {
        let depth = try runResNeXt(["info", "-depth", "34", "-cardinality", "32"])
        XCTAssertNotEqual(depth.status, 0)
        XCTAssertTrue(depth.output.contains("invalid -depth 34 for imagenet"), depth.output)
        let unknown = try runResNeXt(["info", "-depth", "50", "-bogus", "1"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.output.contains("-bogus"), unknown.output)
        for (flags, message) in [
            (["-depth", "900000002"], "more than 10000 blocks"), (["-depth", "29", "-baseWidth", "100000000"], "above the limit of 65536")
        ] {
            let huge = try runResNeXt(["info", "-dataset", "cifar10"] + flags)
            XCTAssertNotEqual(huge.status, 0, huge.output)
            XCTAssertTrue(huge.output.contains(message), huge.output)
        }
        let dataset = try runResNeXt(["info", "-dataset", "svhn", "-depth", "29"])
        XCTAssertTrue(dataset.output.contains("unknown -dataset 'svhn'"), dataset.output)
        let missingWeights = try runResNeXt([
            "forward", "--arch", "resnet18", "--weights", "/nonexistent/w.safetensors",
            "--input", "/nonexistent/x.safetensors", "--output", "/tmp/out.safetensors"
        ])
        XCTAssertNotEqual(missingWeights.status, 0)
        XCTAssertTrue(missingWeights.output.contains("/nonexistent/w.safetensors: No such file or directory"), missingWeights.output)
    }

    /// Misspelled single-dash options holding an `h` used to print the help and exit 0 (read as `-b -a -t -c -h …`).
    func testMisspelledOptionsWithAnHAreErrorsNotHelp() throws {
        for (misspelled, meant) in [
            ("-batchsize", "-batchSize"), ("-nthreads", "-nThreads"), ("-nEpoch", nil), ("-weightdecay", "-weightDecay")
        ] {
            let r = try runResNeXt(["-dataset", "cifar10", "-depth", "29", misspelled, "4"])
            XCTAssertNotEqual(r.status, 0, "\(misspelled): \(r.output)")
            XCTAssertTrue(r.output.contains("unknown option '\(misspelled)'"), r.output)
            if let meant { XCTAssertTrue(r.output.contains("did you mean \(meant)?"), r.output) }
            XCTAssertFalse(r.output.contains("OVERVIEW"), "\(misspelled) printed the help:\n\(r.output)")
        }
        let info = try runResNeXt(["info", "-depth", "50", "-cardinalitty", "32"])
        XCTAssertNotEqual(info.status, 0)
        XCTAssertTrue(info.output.contains("-cardinalitty"), info.output)
        XCTAssertEqual(try runResNeXt(["info", "-h"]).status, 0, "-h still asks for help")
    }

    /// `resnext forward` refuses weights of another architecture, naming the file and the keys.
    func testForwardRejectsWeightsOfAnotherModel() throws {
        let out = NSTemporaryDirectory() + "resnext-forward-\(getpid()).safetensors"
        let weights = modelFixtures + "tiny_resnext_weights.safetensors"
        let r = try runResNeXt([
            "forward", "--arch", "resnet20", "--weights", weights,
            "--input", modelFixtures + "tiny_resnext_io.safetensors", "--output", out
        ])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("\(weights) does not match the model"), r.output)
        XCTAssertTrue(r.output.contains("layer1.0.conv1.weight is [4, 8, 1, 1]") || r.output.contains("unexpected keys"), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// `resnext forward --arch resnet20` reproduces the library's eval-mode logits from saved weights.
    func testForwardWritesTheModelsLogits() throws {
        let cpu = try CPUBackend()
        let dir = NSTemporaryDirectory() + "resnext-forward-\(getpid())"
        try FileIO.makeDirectories(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try ResNeXtModel(try .preset("resnet20"), on: cpu, seed: 3)
        try model.saveSafetensors(dir + "/w.safetensors", on: cpu)
        var rng = RandomGenerator(seed: 4)
        let x = (0..<(2 * 3 * 32 * 32)).map { _ in Float(rng.normal()) }
        try SafetensorsFile(tensors: [("input", StoredTensor(shape: [2, 3, 32, 32], floats: x))]).write(to: dir + "/x.safetensors")
        model.setTraining(false)
        let expected = try cpu.download(try model.forward(try cpu.upload(x, shape: [2, 3, 32, 32])))
        let r = try runResNeXt([
            "forward", "--arch", "resnet20", "--weights", dir + "/w.safetensors", "--input", dir + "/x.safetensors",
            "--output", dir + "/y.safetensors"
        ])
        XCTAssertEqual(r.status, 0, r.output)
        let got = try XCTUnwrap(try SafetensorsFile.read(dir + "/y.safetensors")["logits"])
        XCTAssertEqual(got.shape, [2, 10])
        XCTAssertEqual(got.floats(), expected)
    }

    func testDemoTrainsAndLossFalls() throws {
        let r = try runResNeXt(["demo", "--epochs", "3"])
        XCTAssertEqual(r.status, 0, r.output)
        let losses = r.output.split(separator: "\n").compactMap { line -> Double? in
            guard let range = line.range(of: "train loss ") else { return nil }
            return Double(line[range.upperBound...].prefix { $0 != "," })
        }
        XCTAssertEqual(losses.count, 3, r.output)
        XCTAssertLessThan(losses[2], losses[0], r.output)
    }

    /// The whole-network benchmark runs a preset through the training step and reports one JSON object.
    func testWholeNetworkBenchmark() throws {
        for mode in ["train", "infer"] {
            let r = try runResNeXt(["bench", "--arch", "resnet20", "--batch", "4", "--mode", mode, "--steps", "2", "--warmup", "1"])
            XCTAssertEqual(r.status, 0, r.output)
            let line = try XCTUnwrap(r.output.split(separator: "\n").last.map(String.init))
            for field in [
                "\"arch\": \"resnet20\"", "\"mode\": \"\(mode)\"", "\"batch\": 4", "\"size\": 32", "\"images_per_second\": ",
                "\"peak_rss_mib\": ", "\"peak_device_bytes\": ", "\"peak_reserved_bytes\": "
            ] {
                XCTAssertTrue(line.contains(field), "\(field) missing: \(line)")
            }
            let rate = line.range(of: "\"images_per_second\": ").map { Double(line[$0.upperBound...].prefix { $0 != "," }) ?? 0 } ?? 0
            XCTAssertGreaterThan(rate, 0, line)
            // ResNet-20's 272,474 parameters alone are 1,089,896 bytes: the peak includes the model.
            let peak = line.range(of: "\"peak_device_bytes\": ").map { Int(line[$0.upperBound...].prefix { $0.isNumber }) ?? 0 } ?? 0
            XCTAssertGreaterThan(peak, 1_089_896, line)
        }
        let bad = try runResNeXt(["bench", "--arch", "resnet20", "--mode", "fast"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("--mode must be train or infer"), bad.output)
    }
}

final class ClassifyCLITests: XCTestCase {
    /// classify and extract-features run end to end on a real photo with our own model file (a
    /// ResNeXt-50 32×4d with random weights: no pretrained weights can be downloaded here).
    func testClassifyAndExtractFeaturesOnARealPhoto() throws {
        let cpu = try CPUBackend()
        let dir = NSTemporaryDirectory() + "resnext-classify-\(getpid())"
        try FileIO.makeDirectories(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try ResNeXtModel(try .preset("resnext50_32x4d"), on: cpu, seed: 5)
        try model.saveSafetensors(dir + "/model.safetensors", on: cpu, metadata: [("configuration", model.configuration.json.serialized())])
        let photo = modelFixtures + "chelsea.jpg"
        let r = try runResNeXt(["classify", dir + "/model.safetensors", photo, photo])
        XCTAssertEqual(r.status, 0, r.output)
        let lines = r.output.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.hasSuffix("chelsea.jpg:") }.count, 2, r.output)
        let probabilities = lines.compactMap { line -> Double? in
            let parts = line.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && line.hasPrefix("  ") ? Double(parts[0]) : nil
        }
        XCTAssertEqual(probabilities.count, 10, r.output)
        XCTAssertEqual(probabilities.prefix(5).sorted(by: >), Array(probabilities.prefix(5)))
        XCTAssertTrue(probabilities.allSatisfy { $0 > 0 && $0 < 1 })
        // Names come from the ImageNet list (index 0 "tench, Tinca tinca").
        XCTAssertTrue(lines.contains { $0.contains(",") && $0.hasPrefix("  0.") }, r.output)

        let f = try runResNeXt([
            "extract-features", dir + "/model.safetensors", photo, "--output", dir + "/f.safetensors", "--npy", dir + "/f.npy"
        ])
        XCTAssertEqual(f.status, 0, f.output)
        let file = try SafetensorsFile.read(dir + "/f.safetensors")
        XCTAssertEqual(file["features"]?.shape, [1, 2048])
        XCTAssertTrue(file.metadata.contains { $0.key == "image_list" && $0.value.contains("chelsea.jpg") })
        let npy = try FileIO.readAll(dir + "/f.npy")
        XCTAssertEqual(Array(npy.prefix(6)), [0x93] + Array("NUMPY".utf8))
        XCTAssertEqual(npy.count, 128 + 2048 * 4)
        XCTAssertEqual(Array(npy.suffix(2048 * 4)), file["features"]!.bytes)

        let missing = try runResNeXt(["classify", dir + "/nope.safetensors", photo])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("nope.safetensors: No such file or directory"), missing.output)
        // Every image unreadable: an error (exit 64), as extract-features, not a silent success.
        try FileIO.writeAtomically(Array("not a picture".utf8), to: dir + "/bad.jpg")
        for command in ["classify", "extract-features"] {
            let unreadable = try runResNeXt([command, dir + "/model.safetensors", dir + "/bad.jpg", dir + "/absent.jpg"])
            XCTAssertEqual(unreadable.status, 64, "\(command): \(unreadable.output)")
            XCTAssertTrue(unreadable.output.contains("no readable images"), unreadable.output)
            XCTAssertTrue(unreadable.output.contains("skipping \(dir)/bad.jpg"), unreadable.output)
        }
    }
}

final class ConvertCLITests: XCTestCase {
    /// A model in the original's .t7 structure converts to safetensors (architecture inferred from the
    /// module tree) and back, with identical weights; the .t7 file also loads directly.
    func testConvertBetweenTorch7AndSafetensors() throws {
        let cpu = try CPUBackend()
        let dir = NSTemporaryDirectory() + "resnext-convert-\(getpid())"
        try FileIO.makeDirectories(dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let original = try ResNeXtModel(try .original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 2), on: cpu, seed: 9)
        try original.saveTorch7(dir + "/model.t7", on: cpu)
        let r = try runResNeXt(["convert", dir + "/model.t7", dir + "/model.safetensors"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("resnext_C, 2x4d"), r.output)
        let back = try runResNeXt(["convert", dir + "/model.safetensors", dir + "/again.t7"])
        XCTAssertEqual(back.status, 0, back.output)
        let converted = try ResNeXtModel.load(dir + "/model.safetensors", configuration: nil, on: cpu)
        let again = try ResNeXtModel.load(dir + "/again.t7", configuration: nil, on: cpu)
        for ((name, a), ((_, b), (_, c))) in zip(original.namedTensors(), zip(converted.namedTensors(), again.namedTensors())) {
            let expected = try cpu.download(a.value)
            XCTAssertEqual(try cpu.download(b.value), expected, name)
            XCTAssertEqual(try cpu.download(c.value), expected, name)
        }
        let bad = try runResNeXt(["convert", dir + "/model.t7", dir + "/model.onnx"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.output.contains("must end in .safetensors or .t7"), bad.output)
    }
}
