import Foundation
import ResNeXtCUDA
import ResNeXtCore
import XCTest

/// `resnext selftest` as built next to this test bundle (SwiftPM builds every product for `swift test`).
final class SelftestCommandTests: XCTestCase {
    static let executable: URL? = {
        let bundle = Bundle(for: SelftestCommandTests.self)
        let candidates = [Bundle.main.executableURL, bundle.executableURL, bundle.bundleURL].compactMap { $0?.deletingLastPathComponent() }
        let dirs = candidates + candidates.map { $0.deletingLastPathComponent() }
        return dirs.map { $0.appendingPathComponent("resnext") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        guard let executable = Self.executable else { throw XCTSkip("the resnext executable was not built next to the tests") }
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

    /// Skips until `SelftestCommand` is among the CLI's subcommands.
    func requireSelftest() throws {
        let help = try run(["help", "selftest"])
        try XCTSkipUnless(help.status == 0 && help.output.contains("selftest"), "resnext has no selftest subcommand yet")
    }

    func testWithoutAGPURuntimeItPrintsTheLoaderMessageAndExitsWith2() throws {
        try requireSelftest()
        try XCTSkipIf(CUDALibraries.unavailableReason() == nil, "a GPU runtime is installed here")
        let r = try run(["selftest", "--device", "cuda"])
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("no GPU runtime found: could not load libcuda.so.1"), r.output)
        XCTAssertTrue(r.output.contains("set RESNEXT_LIBCUDA to its path"), r.output)
        let overridden = try run(["selftest"], environment: ["RESNEXT_LIBCUDA": "/nonexistent/libcuda.so.1"])
        XCTAssertEqual(overridden.status, 2, overridden.output)
        XCTAssertTrue(overridden.output.contains("/nonexistent/libcuda.so.1 (given by RESNEXT_LIBCUDA)"), overridden.output)
    }

    func testBadOptionsAreRejected() throws {
        try requireSelftest()
        let device = try run(["selftest", "--device", "tpu"])
        XCTAssertNotEqual(device.status, 0)
        XCTAssertTrue(device.output.contains("unknown device 'tpu'"), device.output)
        let search = try run(["selftest", "--cudnn", "fastest-please"])
        XCTAssertNotEqual(search.status, 0)
        XCTAssertTrue(search.output.contains("fastest-please"), search.output)
    }

    func testPrintKernels() throws {
        try requireSelftest()
        let r = try run(["selftest", "--print-kernels"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("extern \"C\" __global__ void max_pool_backward("), r.output)
    }

    /// A cuDNN whose sub-library cannot load stops the selftest at the start: one message, exit status 2
    /// (what gpu_check.sh takes as "cannot start", retrying with another cuDNN).
    func testACuDNNSubLibraryThatDoesNotLoadExitsWith2() throws {
        try requireSelftest()
        let environment = try FakeCUDA.environment().merging(["FAKECUDA_FAIL": "cudnnOpsVersionCheck=1008"]) { $1 }
        let r = try run(["selftest", "--device", "cuda", "--steps", "0"], environment: environment)
        XCTAssertEqual(r.status, 2, r.output)
        XCTAssertTrue(r.output.contains("cannot load its sub-library libcudnn_ops.so.9 (batch normalization)"), r.output)
        XCTAssertFalse(r.output.contains("passed"), r.output)
    }

    /// The whole selftest through the CUDA backend on the fake CUDA libraries (``FakeCUDA``).
    func testSelftestOnTheFakeGPU() throws {
        try requireSelftest()
        let r = try run(
            ["selftest", "--device", "cuda", "--steps", "0", "--seed", "11"], environment: try FakeCUDA.environment())
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("Fake GPU (CPU emulation), sm_90), TF32 convolutions (not matmul)"), r.output)
        XCTAssertTrue(r.output.contains("tolerance 1e-05 on max |a − b| / max |b|, convolutions 0.005 (TF32)\n"), r.output)
        XCTAssertTrue(r.output.contains("\nkernels: sm_90 CUBIN\n"), r.output)
        XCTAssertFalse(r.output.contains("FAIL"), r.output)
        XCTAssertTrue(r.output.contains("PASS  liveAllocations"), r.output)
        XCTAssertTrue(r.output.split(separator: "\n").last?.hasSuffix(" passed, 0 failed") ?? false, r.output)
    }

    /// Standard output is line-buffered even into a pipe: the first line arrives alone while the run goes
    /// on (stdio's full buffering would hold it back until 4 KiB or exit), so a crash or a time limit loses
    /// nothing printed before it. The fake GPU's checks print slowly, so the first read is one line.
    func testOutputIsLineBufferedIntoAPipe() throws {
        try requireSelftest()
        guard let executable = Self.executable else { throw XCTSkip("the resnext executable was not built next to the tests") }
        let process = Process()
        process.executableURL = executable
        process.arguments = ["selftest", "--device", "cuda", "--steps", "0", "--seed", "5"]
        process.environment = ProcessInfo.processInfo.environment.merging(try FakeCUDA.environment()) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        let first = pipe.fileHandleForReading.availableData
        XCTAssertTrue(process.isRunning, "the first output came only at exit")
        XCTAssertLessThan(first.count, 4096, "stdout is block-buffered")
        XCTAssertTrue(String(decoding: first, as: UTF8.self).hasPrefix("selftest: cuDNN"), String(decoding: first, as: UTF8.self))
    }

    /// The CPU backend against itself: every check runs (and must pass exactly), without a GPU.
    func testSelftestItselfOnTheCPU() throws {
        try requireSelftest()
        let r = try run(["selftest", "--device", "cpu", "--steps", "0", "--seed", "7"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("seed 7"), r.output)
        for op in [
            "convolution backward weight", "batch norm backward", "max pooling backward", "average pooling backward",
            "linear backward data",
            "split channels", "softmax cross-entropy", "top-k correct", "sgd step"
        ] {
            XCTAssertTrue(r.output.contains("PASS  \(op)"), "\(op) missing:\n\(r.output)")
        }
        XCTAssertFalse(r.output.contains("FAIL"), r.output)
        let last = r.output.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.hasSuffix(" passed, 0 failed"), last)
    }
}
