import Foundation
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtTraining
import XCTest

/// `-checkpointEvery`: mid-epoch checkpoints, exact resume from the middle of an epoch, their retention and
/// fallback; and the divergence limit on finite losses.
final class MidEpochCheckpointTests: ScratchDirectoryTestCase {
    /// Stands for a kill right after a checkpoint was committed.
    struct Interrupted: Error {}

    /// 20 training images in batches of 4: five iterations per epoch, two epochs.
    func options(data: String, save: String, every: Int) -> TrainingOptions {
        var o = tinyCIFAROptions(data: data, save: save)
        o.batchSize = 4
        o.checkpointEvery = every
        return o
    }

    func names(_ directory: String) throws -> Set<String> {
        Set(try FileIO.listDirectory(directory).map(\.name).filter { $0.hasSuffix(".safetensors") })
    }

    /// Trains until the checkpoint at (`epoch` done, `iteration`) is committed, then stops as a kill would.
    func trainUntil(epoch: Int, iteration: Int, _ options: TrainingOptions) throws {
        let trainer = try Trainer(options: options, backend: cpu, log: LineCollector().log(metrics: nil))
        trainer.afterCheckpoint = { state in
            if state.epoch == epoch && state.iteration == iteration { throw Interrupted() }
        }
        XCTAssertThrowsError(try trainer.run()) { XCTAssertTrue($0 is Interrupted, "\($0)") }
    }

    /// Two epochs straight through (no mid-epoch checkpoints) and the same run stopped after iteration 4 of
    /// epoch 2, then resumed, end with bit-identical weights, momentum and epoch metrics; the superseded
    /// mid-epoch pairs are removed and only the newest older one is kept.
    func testResumeFromTheMiddleOfAnEpochIsExact() throws {
        let data = try directory("mid-data"), straight = try directory("mid-straight"), cut = try directory("mid-cut")
        try writeTinyCIFAR10(data)
        let full = try Trainer(options: options(data: data, save: straight, every: 0), backend: cpu, log: LineCollector().log(metrics: nil))
            .run()

        try trainUntil(epoch: 1, iteration: 4, options(data: data, save: cut, every: 2))
        XCTAssertEqual(
            try names(cut),
            [
                "model_1.safetensors", "optimState_1.safetensors", "model_best.safetensors", "model_2_iter2.safetensors",
                "optimState_2_iter2.safetensors", "model_2_iter4.safetensors", "optimState_2_iter4.safetensors"
            ])
        let latest = try JSONValue.parse(try FileIO.readAll(cut + "/latest.json"), source: "latest.json")
        XCTAssertEqual(latest["modelFile"]?.string, "model_2_iter4.safetensors")
        XCTAssertEqual(latest["epoch"]?.int, 1)
        XCTAssertEqual(latest["iteration"]?.int, 4)

        var resume = options(data: data, save: cut, every: 2)
        resume.resume = cut
        let lines = LineCollector()
        let rest = try Trainer(options: resume, backend: cpu, log: lines.log(metrics: nil)).run()
        XCTAssertTrue(lines.lines.contains { $0.contains("continuing at epoch 2, iteration 5") }, lines.lines.joined(separator: "\n"))
        XCTAssertEqual(rest.epochs.map(\.epoch), [2])
        for file in ["model_2.safetensors", "optimState_2.safetensors"] {
            XCTAssertEqual(try FileIO.readAll(straight + "/" + file), try FileIO.readAll(cut + "/" + file), file)
        }
        let (s, r) = (full.epochs[1], rest.epochs[0])
        XCTAssertEqual(s.train.loss, r.train.loss)
        XCTAssertEqual(s.train.top1Error, r.train.top1Error)
        XCTAssertEqual(s.train.images, r.train.images)
        XCTAssertEqual(s.validation.loss, r.validation.loss)
        let left = try names(cut)
        XCTAssertFalse(left.contains { $0.contains("_iter") }, "\(left)")
    }

    /// A damaged newest mid-epoch pair falls back to the one before it, and the run still ends exactly as an
    /// uninterrupted one; resuming a mid-epoch checkpoint with another batch size is refused.
    func testDamagedMidEpochPairFallsBackToThePreviousOne() throws {
        let data = try directory("mid-data"), straight = try directory("mid-straight"), cut = try directory("mid-cut")
        try writeTinyCIFAR10(data)
        var plain = options(data: data, save: straight, every: 0)
        plain.nEpochs = 1
        _ = try Trainer(options: plain, backend: cpu, log: LineCollector().log(metrics: nil)).run()

        var o = options(data: data, save: cut, every: 1)
        o.nEpochs = 1
        try trainUntil(epoch: 0, iteration: 3, o)
        var bytes = try FileIO.readAll(cut + "/optimState_1_iter3.safetensors")
        bytes[bytes.count - 1] ^= 1
        try FileIO.writeAtomically(bytes, to: cut + "/optimState_1_iter3.safetensors")

        var changed = o
        changed.resume = cut
        changed.batchSize = 5
        XCTAssertThrowsError(try Trainer(options: changed, backend: cpu, log: LineCollector().log(metrics: nil))) { error in
            XCTAssertTrue("\(error)".contains("is a mid-epoch checkpoint of a run with -batchSize 4"), "\(error)")
        }

        o.resume = cut
        let lines = LineCollector()
        _ = try Trainer(options: o, backend: cpu, log: lines.log(metrics: nil)).run()
        XCTAssertTrue(
            lines.lines.contains {
                $0.contains("optimState_1_iter3.safetensors: SHA-256 does not match")
                    && $0.contains("resuming from epoch 1, iteration 2 instead")
            }, lines.lines.joined(separator: "\n"))
        XCTAssertEqual(try FileIO.readAll(straight + "/model_1.safetensors"), try FileIO.readAll(cut + "/model_1.safetensors"))
    }

    /// A finite loss above the divergence limit stops training at that step and names the limit; the default
    /// limit is 100 × ln(classes).
    func testExplodingLossStopsTraining() throws {
        let data = try directory("mid-data"), save = try directory("mid-explode")
        try writeTinyCIFAR10(data)
        var o = options(data: data, save: save, every: 2)
        XCTAssertEqual(o.divergenceLimit(classes: 10), 100 * log(10.0), accuracy: 1e-12)
        o.divergenceLoss = 0.5  // below the first loss (about ln 10)
        XCTAssertThrowsError(try Trainer(options: o, backend: cpu, log: LineCollector().log(metrics: nil)).run()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("training diverged at epoch 1, iteration 1: loss is 2."), text)
            XCTAssertTrue(text.contains("above the divergence limit of 0.5 (-divergenceLoss); no checkpoint was written"), text)
        }
        XCTAssertFalse(FileIO.fileExists(save + "/latest.json"))
        o.divergenceLoss = -1
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".contains("-divergenceLoss must be positive"), "\($0)") }
        o.divergenceLoss = 0
        o.checkpointEvery = -3
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".contains("-checkpointEvery must not be negative"), "\($0)") }
    }
}
