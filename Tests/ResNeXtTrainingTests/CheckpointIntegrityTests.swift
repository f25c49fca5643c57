import Foundation
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtTraining
import XCTest

/// Checkpoint hashes, fallback to an intact pair, commit order, stale temporary files and the -save lock.
final class CheckpointIntegrityTests: ScratchDirectoryTestCase {
    /// A tiny CIFAR data set and a -save directory with `epochs` epochs of checkpoints.
    func trained(epochs: Int) throws -> (data: String, save: String) {
        let data = try directory("ck-data"), save = try directory("ck-save")
        try writeTinyCIFAR10(data)
        var options = tinyCIFAROptions(data: data, save: save)
        options.nEpochs = epochs
        _ = try Trainer(options: options, backend: cpu, log: LineCollector().log(metrics: nil)).run()
        return (data, save)
    }

    /// A copy of the regular files of `source` in a new directory.
    func copy(_ source: String) throws -> String {
        let target = try directory("ck-copy")
        for entry in try FileIO.listDirectory(source) where entry.kind == .regularFile {
            try FileIO.writeAtomically(try FileIO.readAll(source + "/" + entry.name), to: target + "/" + entry.name)
        }
        return target
    }

    func flipLastByte(_ path: String) throws {
        var bytes = try FileIO.readAll(path)
        bytes[bytes.count - 1] ^= 0x40
        try FileIO.writeAtomically(bytes, to: path)
    }

    func latestJSON(_ save: String) throws -> JSONValue {
        try JSONValue.parse(try FileIO.readAll(save + "/latest.json"), source: "latest.json")
    }

    func writeLatest(_ save: String, _ fields: [(key: String, value: JSONValue)]) throws {
        try FileIO.writeAtomically(Array(JSONValue.object(fields).serialized().utf8), to: save + "/latest.json")
    }

    func old(_ epoch: Int, model: Int? = nil) -> [(key: String, value: JSONValue)] {
        [
            ("epoch", .number(Double(epoch))), ("modelFile", .string("model_\(model ?? epoch).safetensors")),
            ("optimFile", .string("optimState_\(epoch).safetensors"))
        ]
    }

    func testCheckpointsRecordHashesAndEpochs() throws {
        let (_, save) = try trained(epochs: 2)
        let latest = try latestJSON(save)
        XCTAssertEqual(latest["epoch"]?.int, 2)
        XCTAssertEqual(latest["modelEpoch"]?.int, 2)
        XCTAssertEqual(latest["optimEpoch"]?.int, 2)
        XCTAssertEqual(latest["modelSHA256"]?.string, Checkpoint.sha256(try FileIO.readAll(save + "/model_2.safetensors")))
        XCTAssertEqual(latest["optimSHA256"]?.string, Checkpoint.sha256(try FileIO.readAll(save + "/optimState_2.safetensors")))
        for name in ["model_2", "optimState_2", "model_best"] {
            let file = try SafetensorsFile.read(save + "/\(name).safetensors")
            let recorded = file.metadata.first { $0.key == "dataSHA256" }?.value
            XCTAssertEqual(recorded?.count, 64, name)
            XCTAssertEqual(recorded, Checkpoint.dataSHA256(file.tensors), name)
        }
        let loaded = try Checkpoint.loadLatest(directory: save)
        XCTAssertEqual(loaded.state.epoch, 2)
        XCTAssertNil(loaded.notice)

        // Older checkpoints (no hashes anywhere) still load.
        for name in ["model_2", "optimState_2"] {
            var file = try SafetensorsFile.read(save + "/\(name).safetensors")
            file.metadata.removeAll { $0.key == "dataSHA256" }
            try file.write(to: save + "/\(name).safetensors")
        }
        try writeLatest(save, old(2))
        let older = try Checkpoint.loadLatest(directory: save)
        XCTAssertEqual(older.state.epoch, 2)
        XCTAssertNil(older.notice)
    }

    func testDamagedLatestPairFallsBackToNewestIntactPair() throws {
        let (data, save) = try trained(epochs: 3)
        func expectFallback(
            to epoch: Int, naming file: String, because reason: String, line: UInt = #line, _ damage: (String) throws -> Void
        ) throws {
            let d = try copy(save)
            try damage(d)
            let loaded = try Checkpoint.loadLatest(directory: d)
            XCTAssertEqual(loaded.state.epoch, epoch, line: line)
            let notice = loaded.notice ?? ""
            XCTAssertTrue(notice.hasPrefix("note: \(d)/\(file): "), notice, line: line)
            XCTAssertTrue(notice.contains(reason), notice, line: line)
            XCTAssertTrue(notice.hasSuffix("; resuming from epoch \(epoch) instead"), notice, line: line)
        }
        // Flipped bytes: caught by latest.json's whole-file hash, and by the file's own data hash without it.
        try expectFallback(to: 2, naming: "model_3.safetensors", because: "SHA-256 does not match") {
            try flipLastByte($0 + "/model_3.safetensors")
        }
        try expectFallback(to: 2, naming: "optimState_3.safetensors", because: "tensor data does not match") {
            try flipLastByte($0 + "/optimState_3.safetensors")
            try writeLatest($0, old(3))
        }
        // Truncated and missing files.
        for withHashes in [true, false] {
            try expectFallback(
                to: 2, naming: "optimState_3.safetensors", because: withHashes ? "SHA-256 does not match" : "is beyond the data buffer"
            ) {
                let bytes = try FileIO.readAll($0 + "/optimState_3.safetensors")
                try FileIO.writeAtomically(Array(bytes.prefix(bytes.count / 2)), to: $0 + "/optimState_3.safetensors")
                if !withHashes { try writeLatest($0, old(3)) }
            }
        }
        try expectFallback(to: 2, naming: "model_3.safetensors", because: "No such file") {
            try FileManager.default.removeItem(atPath: $0 + "/model_3.safetensors")
        }
        // An unreadable or missing latest.json: the newest intact pair is epoch 3 itself.
        try expectFallback(to: 3, naming: "latest.json", because: "invalid JSON") {
            try FileIO.writeAtomically(Array("{\"epoch\": 3, \"modelF".utf8), to: $0 + "/latest.json")
        }
        try expectFallback(to: 3, naming: "latest.json", because: "missing") {
            try FileManager.default.removeItem(atPath: $0 + "/latest.json")
        }
        // Epochs that differ: latest.json naming model_1 with optimState_3 (hashes right for those files),
        // and an old-style latest.json whose model_3 is really epoch 1's.
        try expectFallback(to: 3, naming: "optimState_3.safetensors", because: "epochs disagree") {
            var fields = old(3, model: 1)
            fields.append(("modelSHA256", .string(Checkpoint.sha256(try FileIO.readAll($0 + "/model_1.safetensors")))))
            try writeLatest($0, fields)
        }
        try expectFallback(to: 2, naming: "optimState_3.safetensors", because: "model_3.safetensors records epoch 1") {
            try FileIO.writeAtomically(try FileIO.readAll($0 + "/model_1.safetensors"), to: $0 + "/model_3.safetensors")
            try writeLatest($0, old(3))
        }

        // The trainer says so and continues from there.
        let d = try copy(save)
        try flipLastByte(d + "/model_3.safetensors")
        var options = tinyCIFAROptions(data: data, save: d)
        options.resume = d
        options.nEpochs = 3
        let lines = LineCollector()
        let summary = try Trainer(options: options, backend: cpu, log: lines.log(metrics: nil)).run()
        XCTAssertEqual(summary.epochs.map(\.epoch), [3])
        XCTAssertTrue(
            lines.lines.contains { $0.hasPrefix("note: \(d)/model_3.safetensors: ") && $0.hasSuffix("resuming from epoch 2 instead") },
            lines.lines.joined(separator: "\n"))
        XCTAssertEqual(try Checkpoint.loadLatest(directory: d).state.epoch, 3)

        // Nothing intact: an error naming the directory.
        let broken = try copy(save)
        for k in 1...3 { try flipLastByte(broken + "/model_\(k).safetensors") }
        XCTAssertThrowsError(try Checkpoint.loadLatest(directory: broken)) { error in
            XCTAssertTrue("\(error)".contains("\(broken): no intact checkpoint to resume from"), "\(error)")
        }
    }

    /// model_N, optimState_N and latest.json are committed before model_best: failing to write the best
    /// copy leaves epoch N loadable, and resuming puts the best epoch's weights into model_best.
    func testFailedBestCopyKeepsTheEpoch() throws {
        let data = try directory("ck-data"), save = try directory("ck-save")
        try writeTinyCIFAR10(data)
        try FileIO.makeDirectories(save + "/model_best.safetensors/blocker")
        var options = tinyCIFAROptions(data: data, save: save)
        options.nEpochs = 1
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: LineCollector().log(metrics: nil)).run()) { error in
            XCTAssertTrue("\(error)".contains("model_best.safetensors"), "\(error)")
        }
        let loaded = try Checkpoint.loadLatest(directory: save)
        XCTAssertEqual(loaded.state.epoch, 1)
        XCTAssertNil(loaded.notice)

        try FileManager.default.removeItem(atPath: save + "/model_best.safetensors")
        options.resume = save
        let lines = LineCollector()
        _ = try Trainer(options: options, backend: cpu, log: lines.log(metrics: nil))
        XCTAssertTrue(
            lines.lines.contains("note: \(save)/model_best.safetensors was missing (1); copied model_1.safetensors there"),
            lines.lines.joined(separator: "\n"))
        XCTAssertEqual(try FileIO.readAll(save + "/model_best.safetensors"), try FileIO.readAll(save + "/model_1.safetensors"))
    }

    func testStaleTemporaryFilesAreRemovedAtStart() throws {
        let data = try directory("ck-data"), save = try directory("ck-save")
        try writeTinyCIFAR10(data)
        let dead = save + "/model_1.safetensors.tmp-999999999", dead2 = save + "/latest.json.tmp-999999998"
        let alive = save + "/latest.json.tmp-\(getpid())", other = save + "/notes.tmp-abc"
        for path in [dead, dead2, alive, other] { try FileIO.writeAtomically([1, 2, 3], to: path) }
        let lines = LineCollector()
        _ = try Trainer(options: tinyCIFAROptions(data: data, save: save), backend: cpu, log: lines.log(metrics: nil))
        XCTAssertTrue(lines.lines.contains("note: removed 2 stale temporary files from \(save)"), lines.lines.joined(separator: "\n"))
        XCTAssertFalse(FileIO.fileExists(dead))
        XCTAssertFalse(FileIO.fileExists(dead2))
        XCTAssertTrue(FileIO.fileExists(alive))
        XCTAssertTrue(FileIO.fileExists(other))
        XCTAssertEqual(try FileIO.removeStaleTemporaryFiles(in: save), 0)
    }

    func testSecondTrainerOnTheSameSaveDirectoryFails() throws {
        let data = try directory("ck-data"), save = try directory("ck-save")
        try writeTinyCIFAR10(data)
        var first: Trainer? = try Trainer(
            options: tinyCIFAROptions(data: data, save: save), backend: cpu, log: LineCollector().log(metrics: nil))
        XCTAssertNotNil(first)
        XCTAssertEqual(String(decoding: try FileIO.readAll(save + "/.lock"), as: UTF8.self), "\(getpid())\n")
        XCTAssertThrowsError(
            try Trainer(options: tinyCIFAROptions(data: data, save: save), backend: cpu, log: LineCollector().log(metrics: nil))
        ) {
            error in
            XCTAssertTrue("\(error)".contains("\(save): the directory is in use by pid \(getpid())"), "\(error)")
        }
        // -testOnly writes nothing and takes no lock.
        var testOnly = tinyCIFAROptions(data: data, save: save)
        testOnly.testOnly = true
        XCTAssertNoThrow(try Trainer(options: testOnly, backend: cpu, log: LineCollector().log(metrics: nil)))
        first = nil
        XCTAssertNoThrow(
            try Trainer(options: tinyCIFAROptions(data: data, save: save), backend: cpu, log: LineCollector().log(metrics: nil)))
    }
}
