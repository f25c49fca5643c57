import Foundation
import XCTest

/// scripts/gpu_check.sh, the one call made on the GPU machine, run here as far as a machine without a GPU
/// allows: its syntax, its plan (--dry-run), the PyTorch rows it takes from the baseline, and a whole run
/// of its selftest steps on the fake CUDA libraries, including the stop when the backend cannot start.
final class GPUCheckScriptTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var script: String { Self.root.appendingPathComponent("scripts/gpu_check.sh").path }

    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
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

    func testSyntaxAndPlan() throws {
        XCTAssertEqual(try run("/bin/bash", ["-n", script]).status, 0)
        let plan = try run(script, ["--dry-run"])
        XCTAssertEqual(plan.status, 0, plan.output)
        for line in [
            "[selftest, 100 s] $pkg/resnext selftest --device cuda >> $OUT/selftest.txt",
            "once more with RESNEXT_LIBCUDNN=<PyTorch's cuDNN>, then stop",
            "[selftest-fp32, 100 s] $pkg/resnext selftest --device cuda --tf32 false",
            "resnext bench --arch resnext50_32x4d --batch 256 --mode train --device cuda",
            "resnext bench --arch resnext50_32x4d --batch 256 --mode infer --device cuda",
            "resnext bench --arch resnext29_8x64d --batch 128 --mode train --device cuda",
            "scripts/gpu_pytorch_rows.py $pkg/pytorch_baseline.py >> $OUT/pytorch.jsonl"
        ] {
            XCTAssertTrue(plan.output.contains(line), "\(line) missing:\n\(plan.output)")
        }
        XCTAssertFalse(plan.output.contains("bench --json"), "no CPU benchmark on the GPU machine")
        let bad = try run(script, ["--dry-run", "cpu-bench"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.output.contains("unknown step 'cpu-bench'"), bad.output)
    }

    /// The wrapper finds the baseline's definitions and keeps exactly the three rows the benchmarks match.
    func testPyTorchRowsComeFromTheBaseline() throws {
        let baseline = Self.root.appendingPathComponent("../shared/device/pytorch_baseline.py").standardized.path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: baseline), "no pytorch_baseline.py beside the repository")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "no python3")
        let r = try run("/usr/bin/python3", [Self.root.appendingPathComponent("scripts/gpu_pytorch_rows.py").path, baseline, "--list"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(
            r.output,
            "('resnext50_32x4d', 256, 224, 1000, True, False, False)\n('resnext50_32x4d', 256, 224, 1000, False, False, False)\n"
                + "('resnext29_8x64d', 128, 32, 10, True, False, False)\n")
    }

    /// A package of this build's binary, and the script's selftest steps on the fake GPU; then a backend that
    /// cannot start (a cuDNN sub-library that does not load, no PyTorch cuDNN to retry with) stops the run.
    func testSelftestStepsOnTheFakeGPU() throws {
        guard let binary = SelftestCommandTests.executable else { throw XCTSkip("the resnext executable was not built next to the tests") }
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/xz"), "no xz")
        let dir = NSTemporaryDirectory() + "resnext-gpu-check-\(getpid())/"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "resnext-gpu/lib", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: binary.path, toPath: dir + "resnext-gpu/resnext")
        XCTAssertEqual(try run("/bin/tar", ["-C", dir, "-cf", dir + "package.tar", "resnext-gpu"]).status, 0)
        XCTAssertEqual(try run("/usr/bin/xz", ["-0", "-T2", dir + "package.tar"]).status, 0)
        let environment = try FakeCUDA.environment().merging([
            "GPU_CHECK_TARBALL": dir + "package.tar.xz", "OUT": dir + "out", "SELFTEST_ARGS": "--steps 0 --seed 3", "PYTHONPATH": dir
        ]) { $1 }

        let r = try run(script, ["selftest", "selftest-fp32"], environment: environment)
        XCTAssertEqual(r.status, 0, r.output)
        let summary = try String(contentsOfFile: dir + "out/summary.txt", encoding: .utf8)
        XCTAssertTrue(r.output.hasSuffix(summary), "the summary is printed last:\n\(r.output)")
        for line in [
            #"selftest\s+ok\s+\d+  \d+ passed, 0 failed\n"#, #"selftest-fp32\s+ok\s+\d+  \d+ passed, 0 failed\n"#,
            #"resnext50_32x4d\s+256 train\s+-\s+-"#
        ] {
            XCTAssertNotNil(summary.range(of: line, options: .regularExpression), "\(line):\n\(summary)")
        }
        let json =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "out/summary.json"))) as? [String: Any]
        XCTAssertEqual((json?["steps"] as? [[String: Any]])?.map { $0["status"] as? String }, ["ok", "ok"])

        let stop = try run(
            script, ["selftest", "bench", "pytorch"],
            environment: environment.merging(["FAKECUDA_FAIL": "cudnnCnnVersionCheck=1008", "OUT": dir + "stop"]) { $1 })
        XCTAssertEqual(stop.status, 1, stop.output)
        XCTAssertNotNil(stop.output.range(of: #"selftest\s+exit 2\s+\d+  cannot start: "#, options: .regularExpression), stop.output)
        XCTAssertNotNil(stop.output.range(of: #"bench\s+skipped\s+0  the CUDA backend cannot start"#, options: .regularExpression))
        XCTAssertTrue(stop.output.contains("cannot load its sub-library libcudnn_cnn.so.9"), stop.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "stop/bench.jsonl"), "nothing ran after the stop")
    }
}
