import Foundation
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtTraining
import XCTest

final class TrainerTests: XCTestCase {
    /// Two epochs straight through, and one epoch + resume for the second, end with bit-identical
    /// weights, momentum buffers and metrics.
    func testResumeIsExact() throws {
        let data = try temporaryDirectory("cifar")
        try writeTinyCIFAR10(data)
        let straight = try temporaryDirectory("straight"), interrupted = try temporaryDirectory("interrupted")
        defer { for d in [data, straight, interrupted] { try? FileManager.default.removeItem(atPath: d) } }

        let a = LineCollector()
        let full = try Trainer(
            options: tinyCIFAROptions(data: data, save: straight), backend: cpu, log: a.log(metrics: straight + "/metrics.jsonl")
        ).run()
        XCTAssertEqual(full.epochs.map(\.epoch), [1, 2])

        let b = LineCollector()
        let first = try Trainer(options: tinyCIFAROptions(data: data, save: interrupted), backend: cpu, log: b.log(metrics: nil)).run(
            stopAfter: 1)
        XCTAssertEqual(first.epochs.map(\.epoch), [1])
        var resume = tinyCIFAROptions(data: data, save: interrupted)
        resume.resume = interrupted
        let rest = try Trainer(options: resume, backend: cpu, log: b.log(metrics: nil)).run()
        XCTAssertEqual(rest.epochs.map(\.epoch), [2])
        XCTAssertTrue(b.lines.contains { $0.contains("resuming from \(interrupted): epoch 1 done") }, b.lines.joined(separator: "\n"))

        // Resuming with another batch size is allowed but said out loud.
        var changed = resume
        changed.batchSize = 4
        let c = LineCollector()
        _ = try Trainer(options: changed, backend: cpu, log: c.log(metrics: nil))
        XCTAssertTrue(
            c.lines.contains { $0.contains("note: -batchSize was 8 when the checkpoint was written and is 4 now") },
            c.lines.joined(separator: "\n"))

        XCTAssertEqual(try FileIO.readAll(straight + "/model_2.safetensors"), try FileIO.readAll(interrupted + "/model_2.safetensors"))
        XCTAssertEqual(
            try FileIO.readAll(straight + "/optimState_2.safetensors"), try FileIO.readAll(interrupted + "/optimState_2.safetensors"))
        let (s, r) = (full.epochs[1], rest.epochs[0])
        XCTAssertEqual(s.train.loss, r.train.loss)
        XCTAssertEqual(s.train.top1Error, r.train.top1Error)
        XCTAssertEqual(s.validation.loss, r.validation.loss)
        XCTAssertEqual(s.validation.topKError, r.validation.topKError)
        // The weights really changed in epoch 2 (so equality above is not trivial).
        XCTAssertNotEqual(try FileIO.readAll(straight + "/model_1.safetensors"), try FileIO.readAll(straight + "/model_2.safetensors"))

        // The metrics log has one JSON line per epoch with train and validation results.
        let log = String(decoding: try FileIO.readAll(straight + "/metrics.jsonl"), as: UTF8.self).split(separator: "\n")
        XCTAssertEqual(log.count, 2)
        let line = try JSONValue.parse(Array(log[1].utf8), source: "metrics")
        XCTAssertEqual(line["epoch"]?.int, 2)
        XCTAssertNotNil(line["train"]?["top1Error"]?.double)
        XCTAssertNotNil(line["validation"]?["top5Error"]?.double)
        // Peak memory of the epoch: the backend's allocation high-water mark (at least the weights and
        // momentum, 2 × 4 bytes per parameter) and the process's peak resident set.
        let parameters = Double(
            try Trainer(options: tinyCIFAROptions(data: data, save: data + "/x"), backend: cpu, log: LineCollector().log(metrics: nil))
                .model.parameterCount)
        XCTAssertGreaterThan(line["train"]?["peakAllocatedMiB"]?.double ?? 0, 8 * parameters / 1_048_576)
        XCTAssertGreaterThan(line["train"]?["peakResidentMiB"]?.double ?? 0, 10)
        XCTAssertEqual(line["learningRate"]?.double ?? 0, 0.0005, accuracy: 1e-9)  // epoch 2 of 2: past 0.74 → LR/100
    }

    /// A diverged epoch is never committed: a validation loss that is NaN stops the run, and latest.json and
    /// model_best stay on the last good epoch. Here a running mean of -3e38 in the last block (training uses
    /// batch statistics, so its loss stays finite) makes evaluation's activations overflow to infinite logits.
    /// (NaN inside the network would not do: ReLU maps NaN to 0.)
    func testDivergedEpochIsNotCommitted() throws {
        let data = try temporaryDirectory("cifar"), save = try temporaryDirectory("diverged")
        defer { for d in [data, save] { try? FileManager.default.removeItem(atPath: d) } }
        try writeTinyCIFAR10(data)
        let lines = LineCollector()
        let trainer = try Trainer(options: tinyCIFAROptions(data: data, save: save), backend: cpu, log: lines.log(metrics: nil))
        _ = try trainer.run(stopAfter: 1)
        let best = try FileIO.readAll(save + "/model_best.safetensors")
        let mean = try XCTUnwrap(trainer.model.namedTensors().first { $0.name == "layer3.0.bn3.running_mean" }?.parameter)
        mean.value = try cpu.full(mean.value.shape, value: -3e38)
        XCTAssertThrowsError(try trainer.run(stopAfter: 2)) { error in
            XCTAssertTrue("\(error)".contains("training diverged at epoch 2: validation loss is") && "\(error)".contains("nan"), "\(error)")
            XCTAssertTrue("\(error)".contains("latest.json and model_best stay on epoch 1"), "\(error)")
        }
        let latest = try JSONValue.parse(try FileIO.readAll(save + "/latest.json"), source: "latest.json")
        XCTAssertEqual(latest["epoch"]?.int, 1)
        XCTAssertFalse(FileIO.fileExists(save + "/model_2.safetensors"))
        XCTAssertEqual(try FileIO.readAll(save + "/model_best.safetensors"), best)
    }

    func testMissingCheckpointAndUnwritableSaveDirectoryAreErrors() throws {
        let data = try temporaryDirectory("cifar-errors")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try writeTinyCIFAR10(data)
        var options = tinyCIFAROptions(data: data, save: data + "/ck")
        options.resume = data + "/nothing-here"
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: LineCollector().log(metrics: nil))) { error in
            XCTAssertTrue("\(error)".contains("nothing-here/latest.json: no checkpoint to resume from"), "\(error)")
        }
        try FileIO.writeAtomically([1], to: data + "/a-file")
        options = tinyCIFAROptions(data: data, save: data + "/a-file/checkpoints")
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: LineCollector().log(metrics: nil))) { error in
            XCTAssertTrue("\(error)".contains("a-file"), "\(error)")
        }
        // A model with fewer classes than the data set.
        options = tinyCIFAROptions(data: data, save: data + "/ck")
        options.nClasses = 4
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: LineCollector().log(metrics: nil))) { error in
            XCTAssertTrue("\(error)".contains("the model has 4 classes but the data set has 10"), "\(error)")
        }
        options = tinyCIFAROptions(data: data, save: data + "/ck")
        options.resetClassifier = true
        XCTAssertThrowsError(try Trainer(options: options, backend: cpu, log: LineCollector().log(metrics: nil))) { error in
            XCTAssertTrue("\(error)".contains("-resetClassifier true needs -nClasses"), "\(error)")
        }
    }

    /// The original's schedules, at their boundaries.
    func testLearningRateSchedules() {
        var cifar = TrainingOptions()
        cifar.dataset = .cifar10
        cifar.LR = 0.1
        XCTAssertEqual(cifar.effectiveEpochs, 300)
        for (epoch, lr) in [(1, 0.1), (147, 0.1), (148, 0.01), (222, 0.01), (223, 0.001), (300, 0.001)] {
            XCTAssertEqual(Double(LearningRateSchedule.rate(epoch: epoch, options: cifar)), lr, accuracy: lr * 1e-6, "CIFAR epoch \(epoch)")
        }
        var imagenet = TrainingOptions()
        imagenet.dataset = .imagenet
        XCTAssertEqual(imagenet.effectiveEpochs, 100)
        for (epoch, lr) in [(1, 0.1), (30, 0.1), (31, 0.01), (61, 0.001), (91, 0.0001), (100, 0.0001)] {
            XCTAssertEqual(
                Double(LearningRateSchedule.rate(epoch: epoch, options: imagenet)), lr, accuracy: lr * 1e-6, "ImageNet epoch \(epoch)")
        }
        // By default every iteration of an epoch has the epoch's rate.
        XCTAssertEqual(LearningRateSchedule.rate(epoch: 31, iteration: 7, of: 10, options: imagenet), 0.01)
        // Linear scaling (batch 1024: ×4) with 5 epochs of warm-up from the unscaled rate (Goyal et al.).
        imagenet.batchSize = 1024
        imagenet.scaleLR = true
        imagenet.warmupEpochs = 5
        for (epoch, iteration, lr) in [
            (1, 0, 0.1), (3, 5, 0.1 + 0.3 * 25.0 / 50), (5, 9, 0.1 + 0.3 * 49.0 / 50), (6, 0, 0.4), (31, 0, 0.04)
        ] {
            XCTAssertEqual(
                Double(LearningRateSchedule.rate(epoch: epoch, iteration: iteration, of: 10, options: imagenet)), lr, accuracy: lr * 1e-6,
                "epoch \(epoch) iteration \(iteration)")
        }
        // Warm-up without scaling starts at 1 % (torchvision's lr_warmup_decay).
        cifar.warmupEpochs = 2
        XCTAssertEqual(Double(LearningRateSchedule.rate(epoch: 1, iteration: 0, of: 4, options: cifar)), 0.001, accuracy: 1e-8)
        XCTAssertEqual(Double(LearningRateSchedule.rate(epoch: 2, iteration: 0, of: 4, options: cifar)), 0.001 + 0.099 / 2, accuracy: 1e-8)
    }
}
