import ResNeXtCore
import ResNeXtModels

#if canImport(Glibc)
    import Glibc
#endif

/// The original's options (opts.lua) with its defaults, plus this implementation's own (threads).
/// Field names are the original flag names.
public struct TrainingOptions: Sendable, Hashable, Codable {
    public var dataset = DatasetKind.imagenet
    /// The data directory; nil: the data set's default (`data` for CIFAR; required otherwise).
    public var data: String?
    public var manualSeed: UInt64 = 0
    public var nGPU = 1
    public var nThreads = 2
    public var nEpochs = 0
    public var epochNumber = 1
    public var batchSize = 32
    public var testOnly = false
    public var tenCrop = false
    public var save = "checkpoints"
    /// A checkpoint directory to continue from.
    public var resume: String?
    public var LR: Float = 0.1
    public var momentum: Float = 0.9
    public var weightDecay: Float = 1e-4
    /// The network: the original's builder flags (opts.lua's defaults) or a named preset.
    public var model = ModelChoice.original(OriginalModelFlags())
    /// Weights to start from (fine-tuning), with a fresh optimizer.
    public var retrain: String?
    public var resetClassifier = false
    /// 0: the data set's class count.
    public var nClasses = 0
    /// CPU compute threads (0: all cores).
    public var computeThreads = 0
    /// Print progress every this many iterations when stdout is not a terminal (0: about 20 lines per epoch).
    public var printEvery = 0
    /// Data parallelism: batch-norm statistics over the global batch instead of each rank's slice.
    public var syncBN = false
    /// The linear scaling rule (Goyal et al.): the learning rate is `-LR` × batchSize / 256.
    public var scaleLR = false
    /// Gradual warm-up: the learning rate rises linearly, every iteration, over the first this many epochs.
    public var warmupEpochs = 0
    /// Also write a checkpoint every this many iterations within an epoch (0: only at the end of each epoch).
    public var checkpointEvery = 0
    /// A finite loss above this stops training as diverged (0: 100 × ln(classes), a hundred times the loss of
    /// a uniform guess).
    public var divergenceLoss = 0.0

    public init() {}

    /// The original's dataset-dependent epoch count: 100 for ImageNet, 300 for CIFAR (30 for MNIST).
    public var effectiveEpochs: Int {
        if nEpochs > 0 { return nEpochs }
        switch dataset {
        case .imagenet: return 100
        case .cifar10, .cifar100: return 300
        case .mnist: return 30
        }
    }

    /// Checks ranges and combinations, naming the flag at fault.
    public func validate() throws {
        func bad(_ m: String) -> ResNeXtError { .invalidArgument(m) }
        guard batchSize > 0 else { throw bad("-batchSize must be at least 1, got \(batchSize)") }
        guard nThreads > 0 else { throw bad("-nThreads must be at least 1, got \(nThreads)") }
        guard nEpochs >= 0 else { throw bad("-nEpochs must not be negative, got \(nEpochs)") }
        guard epochNumber >= 1 else { throw bad("-epochNumber must be at least 1, got \(epochNumber)") }
        guard LR > 0, LR.isFinite else { throw bad("-LR must be positive, got \(LR)") }
        guard momentum >= 0, momentum < 1 else { throw bad("-momentum must be in [0, 1), got \(momentum)") }
        guard weightDecay >= 0 else { throw bad("-weightDecay must not be negative, got \(weightDecay)") }
        guard nGPU >= 0 else { throw bad("-nGPU must not be negative, got \(nGPU)") }
        guard nClasses >= 0 else { throw bad("-nClasses must not be negative, got \(nClasses)") }
        guard warmupEpochs >= 0 else { throw bad("-warmupEpochs must not be negative, got \(warmupEpochs)") }
        guard checkpointEvery >= 0 else { throw bad("-checkpointEvery must not be negative, got \(checkpointEvery)") }
        guard divergenceLoss >= 0, !divergenceLoss.isNaN else {
            throw bad("-divergenceLoss must be positive (or 0 for 100 × ln(classes)), got \(divergenceLoss)")
        }
        if resetClassifier && nClasses == 0 { throw bad("-resetClassifier true needs -nClasses K (the new number of classes)") }
        if dataset != .cifar10 && dataset != .cifar100 { _ = try requiredData() }
    }

    /// `-data`, which every data set but CIFAR needs.
    func requiredData() throws -> String {
        guard let data else { throw ResNeXtError.invalidArgument("-data DIR is required for -dataset \(dataset.rawValue)") }
        return data
    }

    /// The options that shape a run's numbers, as stored in checkpoints (to warn when a resumed run differs).
    public var recordedFields: [(key: String, value: String)] {
        [
            ("dataset", dataset.rawValue), ("data", data ?? ""), ("manualSeed", String(manualSeed)), ("nEpochs", String(effectiveEpochs)),
            ("batchSize", String(batchSize)), ("LR", String(LR)), ("momentum", String(momentum)), ("weightDecay", String(weightDecay)),
            ("nThreads", String(nThreads)), ("computeThreads", String(computeThreads)), ("tenCrop", String(tenCrop)),
            ("scaleLR", String(scaleLR)), ("warmupEpochs", String(warmupEpochs))
        ]
    }

    /// The loss above which training counts as diverged, for a model with `classes` outputs.
    public func divergenceLimit(classes: Int) -> Double {
        divergenceLoss > 0 ? divergenceLoss : 100 * log(Double(max(classes, 2)))
    }

    /// The model these options build (before -retrain/-resetClassifier/-resume).
    public func modelConfiguration(classes: Int) throws -> ModelConfiguration {
        try model.configuration(dataset: dataset, classes: classes)
    }
}

/// The original's learning-rate schedules.
public enum LearningRateSchedule {
    /// The rate of iteration `iteration` (0-based) of `epoch`, which has `iterations` iterations: the
    /// epoch's rate (below), multiplied by batchSize / 256 with `-scaleLR`, and during the first
    /// `-warmupEpochs` epochs ramped linearly per iteration from a fraction s of it up to it, s = 256 /
    /// batchSize with `-scaleLR` (Goyal et al.: from the unscaled rate) and 0.01 without (torchvision's
    /// `lr_warmup_decay`).
    public static func rate(epoch: Int, iteration: Int, of iterations: Int, options: TrainingOptions) -> Float {
        var lr = Double(rate(epoch: epoch, options: options))
        let scale = Double(options.batchSize) / 256
        if options.scaleLR { lr *= scale }
        if options.warmupEpochs > 0, epoch <= options.warmupEpochs {
            let start = options.scaleLR ? min(1, 1 / scale) : 0.01
            let done = Double((epoch - 1) * iterations + iteration) / Double(options.warmupEpochs * max(iterations, 1))
            lr *= start + (1 - start) * done
        }
        return Float(lr)
    }

    /// The epoch's rate, as the original: ImageNet: LR · 0.1^floor((epoch − 1) / 30). CIFAR (and MNIST):
    /// LR, then LR/10 once epoch / nEpochs > 0.49 and LR/100 once > 0.74 (epochs 148 and 223 of 300).
    public static func rate(epoch: Int, options: TrainingOptions) -> Float {
        let decay: Int
        switch options.dataset {
        case .imagenet:
            decay = (epoch - 1) / 30
        case .cifar10, .cifar100, .mnist:
            let fraction = Double(epoch) / Double(options.effectiveEpochs)
            decay = fraction > 0.74 ? 2 : (fraction > 0.49 ? 1 : 0)
        }
        var lr = Double(options.LR)
        for _ in 0..<decay { lr *= 0.1 }
        return Float(lr)
    }
}
