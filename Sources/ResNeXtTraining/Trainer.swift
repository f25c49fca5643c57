import ResNeXtCore
import ResNeXtData
import ResNeXtIO
import ResNeXtModels
import ResNeXtNN

/// What a run ended with.
public struct TrainingSummary: Sendable {
    /// Per epoch run in this process: training and validation metrics.
    public var epochs: [(epoch: Int, train: EpochMetrics, validation: EpochMetrics)] = []
    /// The last validation result (the only one with -testOnly).
    public var lastValidation: EpochMetrics?
    public var bestTop1: Double
    public var bestTopK: Double
}

/// The original's main.lua + train.lua: opens the data, sets up the model and optimizer (models/init.lua,
/// checkpoints.lua), then trains and evaluates epoch by epoch through one ``TrainingStep`` and one
/// ``EvaluationStep``, saving a checkpoint after each epoch.
public final class Trainer {
    public let options: TrainingOptions
    public let backend: any Backend
    public let model: ResNeXtModel
    public let optimizer: SGD
    public let data: DataSplits
    public let log: TrainingLog
    /// The -save directory's lock, held for the trainer's lifetime (none with -testOnly).
    public let saveLock: FileIO.DirectoryLock?
    public private(set) var state: TrainingState
    /// Runs between writing a checkpoint's weights and the rest of it (crash tests stop the process there).
    public var afterCheckpointWeights: (_ epoch: Int) -> Void = { _ in }
    /// Runs after every committed checkpoint, mid-epoch ones included; throwing ends the run there (as an
    /// interruption would).
    public var afterCheckpoint: (_ state: TrainingState) throws -> Void = { _ in }
    /// Runs after every training step (on every rank of a job) with the model, the epoch and the step's
    /// 1-based iteration in it (the data-parallel replica check and crash tests use it).
    public var afterStep: (_ model: ResNeXtModel, _ epoch: Int, _ iteration: Int) throws -> Void = { _, _, _ in }
    /// The loss above which training counts as diverged (see ``TrainingOptions/divergenceLimit(classes:)``).
    public let divergenceLimit: Double
    /// The data-parallel job this process is a rank of (nil: training alone).
    public let collectives: (any Collectives)?
    /// Whether this process writes checkpoints and logs (rank 0, or training alone).
    public var isPrimary: Bool { collectives?.isPrimary ?? true }
    let trainLoader: BatchLoader
    let validationLoader: BatchLoader
    let k: Int
    let trainingStep: TrainingStep
    let evaluationStep: EvaluationStep

    /// Opens the data and sets up model and optimizer. With `collectives` of more than one rank this
    /// process trains its slice of every batch (data parallelism, see ``GradientBuckets``); rank 0 alone
    /// writes checkpoints and the metrics log; every rank must be given the same options.
    public init(options: TrainingOptions, backend: any Backend, log: TrainingLog, collectives: (any Collectives)? = nil) throws {
        try options.validate()
        let collectives = (collectives?.size ?? 1) > 1 ? collectives : nil
        self.collectives = collectives
        if !options.testOnly && (collectives?.isPrimary ?? true) {
            try FileIO.checkWritableDirectory(options.save)
            saveLock = try FileIO.lockDirectory(options.save)
            let removed = try FileIO.removeStaleTemporaryFiles(in: options.save)
            if removed > 0 {
                log.line("note: removed \(removed) stale temporary file\(removed == 1 ? "" : "s") from \(options.save)")
            }
        } else {
            saveLock = nil
        }
        self.options = options
        self.backend = backend
        self.log = log
        data = try DataSplits.open(options, notice: { log.line("note: " + $0) })
        let checkpoint = try options.resume.map { try Checkpoint.loadLatest(directory: $0) }
        if let notice = checkpoint?.notice { log.line(notice) }
        model = try ModelSetup.model(options, classNames: data.classNames, checkpoint: checkpoint, backend: backend, log: log)
        (optimizer, state) = try ModelSetup.optimizer(for: model, options, checkpoint: checkpoint, log: log)
        if let checkpoint, !options.testOnly, collectives?.isPrimary ?? true,
            let note = try Checkpoint.repairBestModel(in: options.save, from: checkpoint.directory, state: state)
        {
            log.line(note)
        }
        k = min(5, model.fc.weight.value.shape[0])
        divergenceLimit = options.divergenceLimit(classes: model.fc.weight.value.shape[0])
        let parameters = optimizer.parameters
        let buckets = collectives.map { GradientBuckets(parameters: parameters, collectives: $0, backend: backend) }
        if let collectives, options.syncBN {
            buckets?.requiresSamplesOnEveryRank = true
            for case let norm as BatchNorm2d in model.allLayers { norm.synchronization = SynchronizedBatchNorm(collectives: collectives) }
        }
        trainingStep = TrainingStep(model: model, optimizer: optimizer, ks: [1, k], dataParallel: buckets)
        evaluationStep = EvaluationStep(model: model, backend: backend, ks: [1, k])
        let shard = (rank: collectives?.rank ?? 0, ranks: collectives?.size ?? 1)
        trainLoader = try BatchLoader(
            dataset: data.train, batchSize: options.batchSize, shuffle: true, threads: options.nThreads,
            seed: state.seed, transform: data.trainTransform, packedTransform: data.packedTrainTransform, shard: shard)
        // With ten crops the validation batches hold floor(batchSize / 10) images, as the original.
        let validationBatch = max(1, options.batchSize / data.validationCrops)
        validationLoader = try BatchLoader(
            dataset: data.validation, batchSize: validationBatch, shuffle: false, threads: options.nThreads,
            seed: state.seed, transform: data.validationTransform,
            packedTransform: data.packedValidationTransform, shard: shard)
        // Every rank starts from rank 0's weights and buffers (they are equal already when built from the
        // same seed or checkpoint; this makes it certain).
        try broadcastTensors(trainableToo: true)
    }

    /// Trains from the next epoch to `-nEpochs` (or only evaluates with -testOnly). `stopAfter` ends the
    /// run after that epoch's checkpoint, as an interruption would.
    public func run(stopAfter: Int? = nil) throws -> TrainingSummary {
        var summary = TrainingSummary(bestTop1: state.bestTop1, bestTopK: state.bestTopK)
        log.line("model: \(model.configuration) — \(NumberFormat.thousands(model.parameterCount)) parameters; \(backend.name)")
        log.line("data: \(data.train.count) training / \(data.validation.count) validation images, \(data.classNames.count) classes")
        if options.testOnly {
            let m = try evaluate(epoch: 0)
            log.line(" * Results top1: \(NumberFormat.fixed(m.top1Error)) top\(k): \(NumberFormat.fixed(m.topKError))")
            summary.lastValidation = m
            return summary
        }
        let last = min(options.effectiveEpochs, stopAfter ?? .max)
        if state.epoch >= last { log.line("nothing to do: epoch \(state.epoch) of \(last) is already done") }
        var epoch = state.epoch + 1
        while epoch <= last {
            let train = try trainEpoch(epoch)
            let validation = try evaluate(epoch: epoch)
            try checkHealthy(epoch: epoch, validation: validation)
            let isBest = validation.top1Error < state.bestTop1
            if isBest {
                state.bestTop1 = validation.top1Error
                state.bestTopK = validation.topKError
                state.bestEpoch = epoch
                log.line(" * Best model \(NumberFormat.fixed(validation.top1Error)) \(NumberFormat.fixed(validation.topKError))")
            }
            state.epoch = epoch
            state.stepCount = optimizer.stepCount
            state.iteration = 0
            state.progress = nil
            try commitCheckpoint(isBest: isBest)
            if isPrimary {
                try log.record([
                    ("epoch", .number(Double(epoch))),
                    (
                        "learningRate",
                        .number(
                            Double(
                                LearningRateSchedule.rate(
                                    epoch: epoch, iteration: trainLoader.batchCount - 1, of: trainLoader.batchCount, options: options)))
                    ),
                    ("train", json(train)), ("validation", json(validation)), ("best", .bool(isBest))
                ])
            }
            summary.epochs.append((epoch, train, validation))
            summary.lastValidation = validation
            epoch += 1
        }
        summary.bestTop1 = state.bestTop1
        summary.bestTopK = state.bestTopK
        if state.bestEpoch > 0 {
            log.line(
                " * Finished top1: \(NumberFormat.fixed(state.bestTop1)) top\(k): \(NumberFormat.fixed(state.bestTopK)) (best epoch "
                    + "\(state.bestEpoch))"
            )
            if let last = summary.lastValidation {
                log.line(
                    " * Validation accuracy: \(NumberFormat.fixed(last.top1Accuracy, 2)) % after the last epoch, "
                        + "\(NumberFormat.fixed(100 - state.bestTop1, 2)) % at best"
                        + "; checkpoints in \(options.save)")
            }
        }
        return summary
    }

    /// Writes `state`'s checkpoint (rank 0 only), then runs ``afterCheckpoint``.
    private func commitCheckpoint(isBest: Bool) throws {
        if isPrimary {
            try Checkpoint.save(
                model: model, optimizer: optimizer, state: state, options: options.recordedFields, isBest: isBest,
                directory: options.save, afterWeights: afterCheckpointWeights)
        }
        try afterCheckpoint(state)
    }

    /// Gives every rank rank 0's batch-norm buffers (each rank's running statistics follow its own slices,
    /// as PyTorch DDP's `broadcast_buffers`), and with `trainableToo` its parameters as well.
    private func broadcastTensors(trainableToo: Bool) throws {
        guard let collectives else { return }
        for (_, tensor) in model.namedTensors() where trainableToo || !tensor.isTrainable {
            try collectives.broadcast(tensor, on: backend)
        }
    }

    /// Sums `progress` over the ranks (nothing when training alone).
    private func reduced(_ progress: EpochProgress) throws -> EpochProgress {
        guard let collectives else { return progress }
        var values = [
            progress.lossSum, Double(progress.correct1), Double(progress.correctK), Double(progress.images), Double(progress.skipped)
        ]
        try collectives.allReduceSum(&values)
        var sum = EpochProgress()
        sum.lossSum = values[0]
        (sum.correct1, sum.correctK, sum.images, sum.skipped) = (Int(values[1]), Int(values[2]), Int(values[3]), Int(values[4]))
        return sum
    }

    private func json(_ m: EpochMetrics) -> JSONValue {
        .object([
            ("loss", .number(m.loss)), ("top1Error", .number(m.top1Error)), ("top\(m.k)Error", .number(m.topKError)),
            ("images", .number(Double(m.images))), ("skipped", .number(Double(m.skipped))), ("seconds", .number(m.seconds)),
            ("peakAllocatedMiB", .number(m.peakAllocatedMiB)), ("peakResidentMiB", .number(m.peakResidentMiB))
        ])
    }

    /// The divergence policy, before an epoch is committed: a non-finite or exploding validation loss
    /// (above ``divergenceLimit``) or a non-finite parameter or buffer stops the run with a message, so
    /// `latest.json` and `model_best` stay on the last good checkpoint. (A non-finite or exploding training
    /// loss already stops the epoch at that step.)
    func checkHealthy(epoch: Int, validation: EpochMetrics) throws {
        let kept = keptCheckpoint
        guard validation.loss.isFinite, validation.loss <= divergenceLimit else {
            throw ResNeXtError.invalidArgument(
                "training diverged at epoch \(epoch): validation loss is \(validation.loss)\(limitNote(validation.loss)); \(kept); "
                    + "lower -LR")
        }
        for (name, tensor) in model.namedTensors() where try backend.download(tensor.value).contains(where: { !$0.isFinite }) {
            throw ResNeXtError.invalidArgument("training diverged at epoch \(epoch): \(name) holds non-finite values; \(kept); lower -LR")
        }
    }

    /// What stays committed when training stops as diverged.
    private var keptCheckpoint: String {
        if state.epoch == 0 && !state.isMidEpoch { return "no checkpoint was written" }
        return "latest.json and model_best stay on \(Checkpoint.Position(state).description)"
    }

    /// ", above the divergence limit of L (-divergenceLoss)" for a finite loss over the limit, else "".
    private func limitNote(_ loss: Double) -> String {
        loss.isFinite && loss > divergenceLimit
            ? ", above the divergence limit of \(NumberFormat.fixed(divergenceLimit, 1)) (-divergenceLoss)" : ""
    }

    /// One epoch of SGD over the training set; when `state` is in the middle of this epoch (a mid-epoch
    /// resume), from the next iteration on, continuing its metrics. Writes a mid-epoch checkpoint every
    /// `-checkpointEvery` iterations.
    public func trainEpoch(_ epoch: Int) throws -> EpochMetrics {
        let resumed = state.isMidEpoch && state.epoch + 1 == epoch
        let first = resumed ? state.iteration : 0
        var acc = MetricsAccumulator(k: k, continuing: resumed ? state.progress ?? EpochProgress() : EpochProgress())
        let imagesBefore = acc.images
        backend.resetPeakMemory()
        let batches = trainLoader.batches(epoch: epoch, startingAt: first)
        let n = first + batches.count
        let start = now()
        var dataTime = 0.0
        var mark = now()
        let every = options.printEvery > 0 ? options.printEvery : max(1, n / 20)
        for (j, batch) in batches.enumerated() {
            let i = first + j
            dataTime += now() - mark
            reportSkipped(batch)
            // Alone, a batch without a readable sample is skipped; every rank of a job takes part in every step.
            if batch.labels.isEmpty && collectives == nil {
                acc.skip(batch.skipped.count)
                mark = now()
                continue
            }
            let lr = LearningRateSchedule.rate(epoch: epoch, iteration: i, of: n, options: options)
            let local = try trainingStep(batch.host, learningRate: lr)
            var stepProgress = EpochProgress()
            stepProgress.lossSum = Double(local.loss) * Double(local.samples)
            (stepProgress.correct1, stepProgress.correctK) = (local.correct[0], local.correct[1])
            (stepProgress.images, stepProgress.skipped) = (local.samples, batch.skipped.count)
            let step = try reduced(stepProgress)
            try afterStep(model, epoch, i + 1)
            acc.add(step)
            let loss = step.images > 0 ? step.lossSum / Double(step.images) : 0
            guard loss.isFinite, loss <= divergenceLimit else {
                throw ResNeXtError.invalidArgument(
                    "training diverged at epoch \(epoch), iteration \(i + 1): loss is \(Float(loss))\(limitNote(loss)); "
                        + "\(keptCheckpoint); lower -LR")
            }
            if options.checkpointEvery > 0, (i + 1) % options.checkpointEvery == 0, i + 1 < n {
                state.epoch = epoch - 1
                state.iteration = i + 1
                state.progress = acc.progress
                state.stepCount = optimizer.stepCount
                try commitCheckpoint(isBest: false)
            }
            if (i + 1) % every == 0 || i + 1 == n || log.isTerminal {
                let m = acc.metrics(seconds: now() - start)
                let rate = Double(acc.images - imagesBefore) / max(now() - start, 1e-9)
                let eta = Double(n - i - 1) * (now() - start) / Double(j + 1)
                log.progress(
                    " | Epoch: [\(epoch)][\(i + 1)/\(n)]  lr \(lr)  loss \(NumberFormat.fixed(loss, 4)) (avg "
                        + "\(NumberFormat.fixed(m.loss, 4)))  "
                        + "top1 \(NumberFormat.fixed(m.top1Error, 2))  top\(k) \(NumberFormat.fixed(m.topKError, 2))  "
                        + "\(NumberFormat.fixed(rate, 1)) img/s  data \(NumberFormat.fixed(dataTime, 2))s  ETA "
                        + "\(NumberFormat.fixed(eta, 0))s",
                    final: i + 1 == n)
            }
            mark = now()
        }
        var m = acc.metrics(seconds: now() - start)
        m.peakAllocatedMiB = Double(backend.memoryStatistics.peakAllocatedBytes) / 1_048_576
        m.peakResidentMiB = FileIO.peakResidentMiB()
        log.line(
            " * Epoch \(epoch) train: loss \(NumberFormat.fixed(m.loss, 4))  top1 \(NumberFormat.fixed(m.top1Error))  top\(k) "
                + "\(NumberFormat.fixed(m.topKError))  (\(m.images) images, \(NumberFormat.fixed(m.seconds, 1)) s; peak memory "
                + "\(NumberFormat.fixed(m.peakAllocatedMiB, 0)) MiB allocated, \(NumberFormat.fixed(m.peakResidentMiB, 0)) MiB resident)"
        )
        return m
    }

    /// One pass over the validation set in evaluation mode; with ten crops each sample's logits are the
    /// mean over its crops.
    public func evaluate(epoch: Int) throws -> EpochMetrics {
        try broadcastTensors(trainableToo: false)
        var acc = MetricsAccumulator(k: k)
        let start = now()
        for batch in validationLoader.batches(epoch: max(epoch, 1)) {
            reportSkipped(batch)
            acc.skip(batch.skipped.count)
            if batch.labels.isEmpty { continue }
            acc.add(try evaluationStep(batch.host))
        }
        let m = MetricsAccumulator(k: k, continuing: try reduced(acc.progress)).metrics(seconds: now() - start)
        log.line(
            " * Finished epoch # \(epoch)  validation loss \(NumberFormat.fixed(m.loss, 4))  top1: \(NumberFormat.fixed(m.top1Error))  "
                + "top\(k): \(NumberFormat.fixed(m.topKError))"
                + "  (\(m.images) images)")
        return m
    }

    private func reportSkipped(_ batch: Batch) {
        guard !batch.skipped.isEmpty else { return }
        for (index, reason) in batch.skipped.prefix(3) { log.line("warning: skipped unreadable sample \(index): \(reason)") }
    }
}

extension Batch {
    /// The batch as the training and evaluation steps take it.
    var host: HostBatch { HostBatch(values: images, shape: shape, labels: labels, cropsPerSample: cropsPerSample) }
}
