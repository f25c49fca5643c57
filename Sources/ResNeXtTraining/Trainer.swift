import ResNeXtCore
import ResNeXtData
import ResNeXtIO
import ResNeXtModels
import ResNeXtNN

#if canImport(Glibc)
import Glibc
#endif

/// What a run ended with.
public struct TrainingSummary: Sendable {
    /// Per epoch run in this process: training and validation metrics.
    public var epochs: [(epoch: Int, train: EpochMetrics, validation: EpochMetrics)] = []
    /// The last validation result (the only one with -testOnly).
    public var lastValidation: EpochMetrics?
    public var bestTop1: Double
    public var bestTopK: Double
}

/// The original's main.lua + train.lua: builds or restores the model and optimizer, then trains and
/// evaluates epoch by epoch, saving a checkpoint after each.
public final class Trainer {
    public let options: TrainingOptions
    public let backend: any Backend
    public let model: ResNeXtModel
    public let optimizer: SGD
    public let data: DataSplits
    public let log: TrainingLog
    public private(set) var state: TrainingState
    let trainLoader: BatchLoader
    let validationLoader: BatchLoader
    let k: Int

    public init(options: TrainingOptions, backend: any Backend, log: TrainingLog) throws {
        try options.validate()
        if !options.testOnly {
            // Fail before training, not after the first epoch, when checkpoints cannot be written.
            try FileIO.makeDirectories(options.save)
            let probe = options.save + "/.resnext-write-test"
            try FileIO.writeAtomically([], to: probe)
            unlink(probe)
        }
        self.options = options
        self.backend = backend
        self.log = log
        data = try DataSplits.open(options, notice: { log.line("note: " + $0) })
        let classes = data.classNames.count

        var resumed: Checkpoint.Loaded?
        if options.resume != "none" {
            resumed = try Checkpoint.loadLatest(directory: options.resume)
        }
        let model: ResNeXtModel
        if let resumed {
            model = try ResNeXtModel(resumed.configuration, on: backend, seed: options.manualSeed)
            try model.loadStateDict(resumed.weights.tensors, on: backend, source: resumed.modelPath)
            if options.resetClassifier { log.line("note: -resetClassifier is ignored when resuming (as in the original)") }
        } else if options.retrain != "none" {
            let file = try SafetensorsFile.read(options.retrain)
            let stored = try Checkpoint.configuration(of: file, source: options.retrain)
            let configuration = try stored ?? options.modelConfiguration(classes: options.nClasses > 0 && !options.resetClassifier ? options.nClasses : classes)
            model = try ResNeXtModel(configuration, on: backend, seed: options.manualSeed)
            try model.loadStateDict(file.tensors, on: backend, source: options.retrain)
            if options.resetClassifier {
                try model.resetClassifier(classes: options.nClasses, seed: options.manualSeed)
                log.line("replaced the classifier with a new \(options.nClasses)-way linear layer")
            }
        } else {
            model = try ResNeXtModel(try options.modelConfiguration(classes: options.nClasses > 0 ? options.nClasses : classes),
                                     on: backend, seed: options.manualSeed)
        }
        let modelClasses = model.fc.weight.value.shape[0]
        guard modelClasses >= classes else {
            throw ResNeXtError.invalidArgument("the model has \(modelClasses) classes but the data set has \(classes) (\(data.classNames.prefix(5).joined(separator: ", "))…); use -resetClassifier true -nClasses \(classes)")
        }
        self.model = model
        self.k = min(5, modelClasses)

        optimizer = try SGD(backend, parameters: model.namedParameters(),
                            SGDHyperparameters(momentum: options.momentum, dampening: 0, weightDecay: options.weightDecay, nesterov: true))
        if let resumed {
            try Checkpoint.restore(optimizer, from: resumed.velocities, stepCount: resumed.state.stepCount, source: options.resume)
            state = resumed.state
            let now = Dictionary(options.recordedFields, uniquingKeysWith: { a, _ in a })
            for (key, value) in resumed.options where now[key] != nil && now[key] != value {
                log.line("note: -\(key) was \(value) when the checkpoint was written and is \(now[key]!) now; the run will not match an uninterrupted one")
            }
            log.line("resuming from \(options.resume): epoch \(resumed.state.epoch) done, \(resumed.state.stepCount) steps, continuing at epoch \(resumed.state.epoch + 1)")
        } else {
            state = TrainingState(epoch: options.epochNumber - 1, stepCount: 0, bestTop1: .infinity, bestTopK: .infinity, bestEpoch: 0,
                                  seed: options.manualSeed)
        }
        trainLoader = try BatchLoader(dataset: data.train, batchSize: options.batchSize, shuffle: true, threads: options.nThreads,
                                      seed: state.seed, transform: data.trainTransform, packedTransform: data.packedTrainTransform)
        // With ten crops the validation batches hold floor(batchSize / 10) images, as the original.
        let validationBatch = max(1, options.batchSize / data.validationCrops)
        validationLoader = try BatchLoader(dataset: data.validation, batchSize: validationBatch, shuffle: false, threads: options.nThreads,
                                           seed: state.seed, transform: data.validationTransform,
                                           packedTransform: data.packedValidationTransform)
    }

    /// Trains from the next epoch to `-nEpochs` (or only evaluates with -testOnly). `stopAfter` ends the
    /// run after that epoch's checkpoint, as an interruption would.
    public func run(stopAfter: Int? = nil) throws -> TrainingSummary {
        var summary = TrainingSummary(bestTop1: state.bestTop1, bestTopK: state.bestTopK)
        log.line("model: \(model.configuration) — \(NumberFormat.thousands(model.parameterCount)) parameters; \(backend.name)")
        log.line("data: \(data.train.count) training / \(data.validation.count) validation images, \(data.classNames.count) classes")
        if options.testOnly {
            let m = try evaluate(epoch: 0)
            log.line(" * Results top1: \(fixed(m.top1Error)) top\(k): \(fixed(m.topKError))")
            summary.lastValidation = m
            return summary
        }
        let last = min(options.effectiveEpochs, stopAfter ?? .max)
        if state.epoch >= last { log.line("nothing to do: epoch \(state.epoch) of \(last) is already done") }
        var epoch = state.epoch + 1
        while epoch <= last {
            let train = try trainEpoch(epoch)
            let validation = try evaluate(epoch: epoch)
            let isBest = validation.top1Error < state.bestTop1
            if isBest {
                state.bestTop1 = validation.top1Error
                state.bestTopK = validation.topKError
                state.bestEpoch = epoch
                log.line(" * Best model \(fixed(validation.top1Error)) \(fixed(validation.topKError))")
            }
            state.epoch = epoch
            state.stepCount = optimizer.stepCount
            try Checkpoint.save(model: model, optimizer: optimizer, state: state, options: options.recordedFields, isBest: isBest,
                                directory: options.save)
            try log.record([("epoch", .number(Double(epoch))), ("learningRate", .number(Double(LearningRateSchedule.rate(epoch: epoch, options: options)))),
                            ("train", json(train)), ("validation", json(validation)), ("best", .bool(isBest))])
            summary.epochs.append((epoch, train, validation))
            summary.lastValidation = validation
            epoch += 1
        }
        summary.bestTop1 = state.bestTop1
        summary.bestTopK = state.bestTopK
        if state.bestEpoch > 0 {
            log.line(" * Finished top1: \(fixed(state.bestTop1)) top\(k): \(fixed(state.bestTopK)) (best epoch \(state.bestEpoch))")
            if let last = summary.lastValidation {
                log.line(" * Validation accuracy: \(fixed(last.top1Accuracy, 2)) % after the last epoch, \(fixed(100 - state.bestTop1, 2)) % at best"
                         + "; checkpoints in \(options.save)")
            }
        }
        return summary
    }

    private func json(_ m: EpochMetrics) -> JSONValue {
        .object([("loss", .number(m.loss)), ("top1Error", .number(m.top1Error)), ("top\(m.k)Error", .number(m.topKError)),
                 ("images", .number(Double(m.images))), ("skipped", .number(Double(m.skipped))), ("seconds", .number(m.seconds))])
    }

    /// One epoch of SGD over the training set.
    public func trainEpoch(_ epoch: Int) throws -> EpochMetrics {
        let lr = LearningRateSchedule.rate(epoch: epoch, options: options)
        model.setTraining(true)
        var acc = MetricsAccumulator(k: k)
        let batches = trainLoader.batches(epoch: epoch)
        let n = batches.count
        let start = now()
        var dataTime = 0.0
        var mark = now()
        let every = options.printEvery > 0 ? options.printEvery : max(1, n / 20)
        for (i, batch) in batches.enumerated() {
            dataTime += now() - mark
            reportSkipped(batch, acc: &acc)
            if batch.labels.isEmpty { mark = now(); continue }
            let x = try backend.optimizedLayout(try backend.upload(batch.images, shape: batch.shape))
            model.zeroGradients()
            let logits = try model.forward(x)
            let ce = try backend.softmaxCrossEntropy(logits, labels: batch.labels)
            _ = try model.backward(ce.gradient)
            try optimizer.step(learningRate: lr)
            let correct = try backend.topKCorrect(logits, labels: batch.labels, ks: [1, k])
            acc.add(loss: Double(ce.loss), correct1: correct[0], correctK: correct[1], images: batch.labels.count)
            guard ce.loss.isFinite else {
                throw ResNeXtError.invalidArgument("training diverged at epoch \(epoch), iteration \(i + 1): loss is \(ce.loss); lower -LR")
            }
            if (i + 1) % every == 0 || i + 1 == n || log.isTerminal {
                let m = acc.metrics(seconds: now() - start)
                let rate = Double(acc.images) / max(now() - start, 1e-9)
                let eta = Double(n - i - 1) * (now() - start) / Double(i + 1)
                log.progress(" | Epoch: [\(epoch)][\(i + 1)/\(n)]  lr \(lr)  loss \(fixed(Double(ce.loss), 4)) (avg \(fixed(m.loss, 4)))  "
                             + "top1 \(fixed(m.top1Error, 2))  top\(k) \(fixed(m.topKError, 2))  \(fixed(rate, 1)) img/s  data \(fixed(dataTime, 2))s  ETA \(fixed(eta, 0))s",
                             final: i + 1 == n)
            }
            mark = now()
        }
        let m = acc.metrics(seconds: now() - start)
        log.line(" * Epoch \(epoch) train: loss \(fixed(m.loss, 4))  top1 \(fixed(m.top1Error))  top\(k) \(fixed(m.topKError))  (\(m.images) images, \(fixed(m.seconds, 1)) s)")
        return m
    }

    /// One pass over the validation set in evaluation mode; with ten crops the logits of a sample's crops
    /// are summed before ranking (the loss uses their mean).
    public func evaluate(epoch: Int) throws -> EpochMetrics {
        model.setTraining(false)
        var acc = MetricsAccumulator(k: k)
        let start = now()
        for batch in validationLoader.batches(epoch: max(epoch, 1)) {
            reportSkipped(batch, acc: &acc)
            if batch.labels.isEmpty { continue }
            var logits = try model.forward(try backend.optimizedLayout(try backend.upload(batch.images, shape: batch.shape)))
            if batch.cropsPerSample > 1 {
                let values = try backend.download(logits)
                let classes = logits.shape[1], crops = batch.cropsPerSample
                var mean = [Float](repeating: 0, count: batch.labels.count * classes)
                for s in 0..<batch.labels.count {
                    for c in 0..<crops {
                        for j in 0..<classes { mean[s * classes + j] += values[(s * crops + c) * classes + j] / Float(crops) }
                    }
                }
                logits = try backend.upload(mean, shape: [batch.labels.count, classes])
            }
            let ce = try backend.softmaxCrossEntropy(logits, labels: batch.labels)
            let correct = try backend.topKCorrect(logits, labels: batch.labels, ks: [1, k])
            acc.add(loss: Double(ce.loss), correct1: correct[0], correctK: correct[1], images: batch.labels.count)
        }
        let m = acc.metrics(seconds: now() - start)
        log.line(" * Finished epoch # \(epoch)  validation loss \(fixed(m.loss, 4))  top1: \(fixed(m.top1Error))  top\(k): \(fixed(m.topKError))"
                 + "  (\(m.images) images)")
        return m
    }

    private func reportSkipped(_ batch: Batch, acc: inout MetricsAccumulator) {
        guard !batch.skipped.isEmpty else { return }
        acc.skip(batch.skipped.count)
        for (index, reason) in batch.skipped.prefix(3) { log.line("warning: skipped unreadable sample \(index): \(reason)") }
    }
}
