import Foundation
import ResNeXtCore
import ResNeXtIO
import XCTest

/// Data-parallel training with `mpirun -np 2` on this machine (two ranks oversubscribing its cores).
final class DataParallelCLITests: XCTestCase {
    var scratch = ""
    var mpirun = ""

    override func setUpWithError() throws {
        guard let found = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw XCTSkip("Open MPI's mpirun is not installed (scripts/setup.sh installs openmpi-bin)")
        }
        mpirun = found
        scratch = NSTemporaryDirectory() + "resnext-dp-cli-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileIO.makeDirectories(scratch)
        try writeTinyCIFARForCLI(scratch + "/cifar")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: scratch) }

    /// Tiny CIFAR run: 20 training images in global batches of 8 (slices of 4, 4 and 2 per rank), 2 epochs.
    func arguments(save: String) -> [String] {
        [
            "-dataset", "cifar10", "-data", scratch + "/cifar", "-depth", "11", "-baseWidth", "4", "-cardinality", "2",
            "-batchSize", "8", "-nEpochs", "2", "-LR", "0.05", "-manualSeed", "5", "-save", save
        ]
    }

    func launch(_ ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), resnextExecutable.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Two ranks hold bit-identical weights after every step; rank 0 alone writes checkpoints and the metrics
    /// log, with metrics over the whole batch; killing rank 1 (SIGKILL) ends the job with a message naming
    /// it, and resuming with two ranks ends bit-identical to the uninterrupted two-rank run.
    func testTwoRanksStayIdenticalAndResumeExactlyAfterARankIsKilled() throws {
        let straight = scratch + "/straight", killed = scratch + "/killed"
        let full = try launch(2, arguments(save: straight), environment: ["RESNEXT_TEST_CHECK_REPLICAS": "1"])
        XCTAssertEqual(full.status, 0, full.output)
        XCTAssertTrue(full.output.contains("data parallel: 2 ranks (Open MPI"), full.output)
        XCTAssertTrue(full.output.contains("replica check: weights bit-identical on all 2 ranks after each of 6 steps"), full.output)
        XCTAssertTrue(full.output.contains("(20 images"), full.output)  // the epoch's metrics cover both ranks' slices
        let log = String(decoding: try FileIO.readAll(straight + "/metrics.jsonl"), as: UTF8.self)
        XCTAssertEqual(log.split(separator: "\n").count, 2, log)  // one line per epoch: rank 0 alone writes it

        let interrupted = try launch(
            2, arguments(save: killed) + ["-checkpointEvery", "1"], environment: ["RESNEXT_TEST_KILL_RANK": "1:2:2"])
        XCTAssertNotEqual(interrupted.status, 0, interrupted.output)
        XCTAssertTrue(interrupted.output.contains("rank 1"), interrupted.output)
        XCTAssertTrue(FileIO.fileExists(killed + "/model_1.safetensors"), interrupted.output)
        XCTAssertFalse(FileIO.fileExists(killed + "/model_2.safetensors"), interrupted.output)

        let resumed = try launch(2, arguments(save: killed) + ["-checkpointEvery", "1", "-resume", killed])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("continuing at epoch 2, iteration"), resumed.output)
        for file in ["model_2.safetensors", "optimState_2.safetensors"] {
            XCTAssertEqual(try FileIO.readAll(straight + "/" + file), try FileIO.readAll(killed + "/" + file), file)
        }
    }

    /// A failure on one rank (rank 0 cannot use -save) stops the whole job at once with a message naming
    /// the rank, instead of leaving rank 1 waiting in a collective.
    func testAFailingRankStopsTheJob() throws {
        try FileIO.writeAtomically([1], to: scratch + "/a-file")
        let r = try launch(2, arguments(save: scratch + "/a-file/checkpoints"))
        XCTAssertNotEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("resnext: rank 0 of 2:") && r.output.contains("a-file"), r.output)
        XCTAssertTrue(r.output.contains("stopping the job"), r.output)
    }

    /// `-nGPU 2 --device cpu` starts the two ranks itself through mpirun.
    func testNGPUStartsTheRanksItself() throws {
        let r = try runResNeXt(arguments(save: scratch + "/self") + ["-nGPU", "2", "--device", "cpu", "-nEpochs", "1"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("starting 2 ranks: mpirun"), r.output)
        XCTAssertTrue(r.output.contains("data parallel: 2 ranks"), r.output)
        XCTAssertTrue(FileIO.fileExists(scratch + "/self/model_1.safetensors"))
    }
}
