import ArgumentParser
import ResNeXtCPU
import ResNeXtCUDA
import ResNeXtCore
import ResNeXtDistributed
import ResNeXtIO
import ResNeXtModels
import ResNeXtTraining

/// A boolean flag value as the original took them (`-tenCrop true`), but strict: only true or false.
struct FlagBool: ExpressibleByArgument {
    let value: Bool
    init?(argument: String) {
        switch argument.lowercased() {
        case "true": value = true
        case "false": value = false
        default: return nil
        }
    }
    init(_ value: Bool) { self.value = value }
    var defaultValueDescription: String { String(value) }
}

/// Train and evaluate, accepting the original's `th main.lua` options verbatim.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train and evaluate with the original's options (the default command: `resnext -dataset cifar10 -depth 29 ...`).")

    @OptionGroup var model: ModelOptions

    @Option(
        name: [.customLong("data", withSingleDash: true), .customLong("data")],
        help:
            "Data directory (CIFAR: downloaded here when absent, default ./data; MNIST: IDX files; imagenet: folder with train/ and val/).")
    var data: String?
    @Option(
        name: [.customLong("manualSeed", withSingleDash: true), .customLong("seed")],
        help: "Seed for initialisation, data order and augmentation.")
    var manualSeed: UInt64 = 0
    @Option(
        name: [.customLong("nGPU", withSingleDash: true), .customLong("gpus")],
        help: "Number of GPUs (this build trains on the CPU; see --device).")
    var nGPU = 1
    @Option(name: [.customLong("nThreads", withSingleDash: true), .customLong("threads")], help: "Data-loading worker threads.")
    var nThreads = 2
    @Option(
        name: [.customLong("nEpochs", withSingleDash: true), .customLong("epochs")],
        help: "Total epochs (0: 100 for imagenet, 300 for CIFAR, 30 for MNIST).")
    var nEpochs = 0
    @Option(name: [.customLong("epochNumber", withSingleDash: true), .customLong("epoch-number")], help: "First epoch when not resuming.")
    var epochNumber = 1
    @Option(name: [.customLong("batchSize", withSingleDash: true), .customLong("batch-size")], help: "Mini-batch size.")
    var batchSize = 32
    @Option(
        name: [.customLong("testOnly", withSingleDash: true), .customLong("test-only")],
        help: "Only evaluate the validation set (true/false).")
    var testOnly = FlagBool(false)
    @Option(
        name: [.customLong("tenCrop", withSingleDash: true), .customLong("ten-crop")],
        help: "Ten-crop validation on image folders (true/false).")
    var tenCrop = FlagBool(false)
    @Option(name: [.customLong("save", withSingleDash: true), .customLong("save")], help: "Checkpoint directory.")
    var save = "checkpoints"
    @Option(
        name: [.customLong("resume", withSingleDash: true), .customLong("resume")],
        help: "Checkpoint directory to resume from (none: start fresh).")
    var resume: String?
    @Option(name: [.customLong("LR", withSingleDash: true), .customLong("lr")], help: "Base learning rate.")
    var LR: Float = 0.1
    @Option(name: [.customLong("momentum", withSingleDash: true), .customLong("momentum")], help: "SGD (Nesterov) momentum.")
    var momentum: Float = 0.9
    @Option(name: [.customLong("weightDecay", withSingleDash: true), .customLong("weight-decay")], help: "Weight decay on every parameter.")
    var weightDecay: Float = 1e-4
    @Option(
        name: [.customLong("retrain", withSingleDash: true), .customLong("retrain")],
        help: "Weights (safetensors) to start from; fresh optimizer (none: start from scratch).")
    var retrain: String?
    @Option(
        name: [.customLong("resetClassifier", withSingleDash: true), .customLong("reset-classifier")],
        help: "Replace the classifier with a new -nClasses-way one (true/false).")
    var resetClassifier = FlagBool(false)
    @Option(
        name: [.customLong("precision", withSingleDash: true), .customLong("precision")],
        help: "single (half and double are not supported yet).")
    var precision = "single"
    @Option(
        name: [.customLong("shareGradInput", withSingleDash: true)],
        help: "Accepted for compatibility (gradient buffers are freed as backward consumes them).")
    var shareGradInput = FlagBool(false)
    @Option(name: [.customLong("optnet", withSingleDash: true)], help: "Accepted for compatibility (no effect).")
    var optnet = FlagBool(false)
    @Option(name: [.customLong("gen", withSingleDash: true)], help: "Accepted for compatibility (data indexes are built in memory).")
    var gen = "gen"
    @OptionGroup var gpu: GPUOptions
    @Option(name: [.customLong("netType", withSingleDash: true)], help: "resnext (the only network family).")
    var netType = "resnext"
    @Option(name: [.customLong("backend", withSingleDash: true)], help: "Accepted for compatibility (the original never read it).")
    var backendName = "cudnn"
    @Option(
        name: [.customLong("optimState", withSingleDash: true)],
        help: "Accepted for compatibility (the original never read it; use -resume).")
    var optimState = "none"
    @Option(help: "Compute device: auto (CUDA when a GPU runtime loads and -nGPU ≥ 1, else cpu), cpu, cuda or cuda:N.")
    var device = "auto"
    @Option(help: "CPU compute threads (default: all cores).") var computeThreads: Int?
    @Option(help: "Progress line every N iterations when output is not a terminal (default: ~20 per epoch).") var printEvery = 0
    @Option(
        name: [.customLong("checkpointEvery", withSingleDash: true), .customLong("checkpoint-every")],
        help: "Also checkpoint every N iterations within an epoch; -resume continues exactly from there (0: at epoch ends only).")
    var checkpointEvery = 0
    @Option(
        name: [.customLong("syncBN", withSingleDash: true), .customLong("sync-bn")],
        help: "Data parallelism: batch-norm statistics over all ranks' samples, not each rank's slice (true/false).")
    var syncBN = FlagBool(false)
    @Option(
        name: [.customLong("scaleLR", withSingleDash: true), .customLong("scale-lr")],
        help: "Linear scaling rule: learning rate -LR × batchSize / 256 (true/false).")
    var scaleLR = FlagBool(false)
    @Option(
        name: [.customLong("warmupEpochs", withSingleDash: true), .customLong("warmup-epochs")],
        help: "Raise the learning rate linearly, every iteration, over the first N epochs (Goyal et al.; 0: none).")
    var warmupEpochs = 0
    @Option(
        name: [.customLong("divergenceLoss", withSingleDash: true), .customLong("divergence-loss")],
        help: "Stop as diverged when a training or validation loss exceeds this (0: 100 × ln(classes)).")
    var divergenceLoss = 0.0

    func run() throws {
        var notices = [String]()
        if shareGradInput.value && optnet.value {
            throw ValidationError("-shareGradInput and -optnet cannot be combined (as in the original)")
        }
        if shareGradInput.value {
            notices.append("-shareGradInput: not needed here, every saved activation and gradient is freed as soon as backward consumes it")
        }
        if optnet.value { notices.append("-optnet: not needed here (see -shareGradInput); ignored") }
        if precision != "single" { notices.append("-precision \(precision): only single precision is implemented; training in single") }
        if gen != "gen" { notices.append("-gen: not used, data indexes are built in memory") }
        if optimState != "none" { notices.append("-optimState is not read (as in the original); use -resume DIR to continue a run") }
        guard netType == "resnext" || netType == "resnet" else { throw ValidationError("unknown -netType '\(netType)' (expected resnext)") }
        let job = MPI.launchedJob()
        if let job, job.size > 1 {
            if nGPU > 1 && nGPU != job.size { notices.append("-nGPU \(nGPU): the job has \(job.size) ranks; training on \(job.size)") }
        } else if nGPU > 1 {
            if device == "cpu" || device.hasPrefix("cuda") || (device == "auto" && DataParallelLaunch.gpuAvailable()) {
                try DataParallelLaunch.relaunch(ranks: nGPU)
            }
            notices.append(
                "-nGPU \(nGPU): no GPU found, training in one process on the CPU (for \(nGPU) CPU ranks: --device cpu -nGPU "
                    + "\(nGPU))")
        }
        var options = TrainingOptions()
        options.dataset = try model.datasetKind()
        options.resume = resume.flatMap(Self.unlessNone)
        options.retrain = retrain.flatMap(Self.unlessNone)
        // Resumed and retrained runs may take their network from the file; opts.lua's -depth 34 stands in.
        let fromFile = options.resume != nil || options.retrain != nil
        guard let choice = try model.choice(defaultDepth: fromFile ? OriginalModelFlags().depth : nil) else {
            throw ModelOptions.missingDepth
        }
        options.model = choice
        options.nClasses = model.nClasses
        options.data = data.flatMap { $0.isEmpty ? nil : $0 }
        options.manualSeed = manualSeed
        options.nGPU = nGPU
        options.nThreads = nThreads
        options.nEpochs = nEpochs
        options.epochNumber = epochNumber
        options.batchSize = batchSize
        options.testOnly = testOnly.value
        options.tenCrop = tenCrop.value
        options.save = save
        options.LR = LR
        options.momentum = momentum
        options.weightDecay = weightDecay
        options.resetClassifier = resetClassifier.value
        let threads = DataParallelLaunch.computeThreads(computeThreads, job: job)
        options.computeThreads = threads ?? 0
        options.printEvery = printEvery
        options.checkpointEvery = checkpointEvery
        options.syncBN = syncBN.value
        options.scaleLR = scaleLR.value
        options.warmupEpochs = warmupEpochs
        options.divergenceLoss = divergenceLoss

        let collectives = try job.flatMap { $0.size > 1 ? try MPI() : nil }
        do {
            let backend = try makeBackend(
                device: nGPU >= 1 ? DataParallelLaunch.device(device, job: job) : "cpu", threads: threads, tf32: gpu.tf32.value,
                search: gpu.cudnn.search, autoDevice: DataParallelLaunch.autoDevice(job: job), notices: &notices)
            let primary = collectives?.isPrimary ?? true
            // Rank 0 alone prints and writes the metrics log.
            let log =
                primary
                ? TrainingLog(metricsPath: options.testOnly ? nil : FileIO.join(options.save, "metrics.jsonl"))
                : TrainingLog(metricsPath: nil, write: { _ in }, isTerminal: false)
            for notice in notices { log.line("note: " + notice) }
            if let collectives { log.line("data parallel: \(collectives.size) ranks (Open MPI, \(collectives.path))") }
            let trainer = try Trainer(options: options, backend: backend, log: log, collectives: collectives)
            if let pause = CrashTestHooks.checkpointPause() { trainer.afterCheckpointWeights = pause }
            let replicaCheck = CrashTestHooks.replicaCheck(collectives)
            let killRank = CrashTestHooks.killRank(collectives)
            trainer.afterStep = { model, epoch, iteration in
                try replicaCheck?(model, iteration)
                killRank?(epoch, iteration)
            }
            _ = try trainer.run()
            if let replicaCheck, let collectives {
                log.line("replica check: weights bit-identical on all \(collectives.size) ranks after each of \(replicaCheck.steps) steps")
            }
        } catch {
            // One failing rank must not leave the others waiting in a collective.
            collectives?.abort("\(error)")
            throw error
        }
        collectives?.finalize()
    }

    /// The original's `none` (no file) as nil.
    static func unlessNone(_ value: String) -> String? { value == "none" ? nil : value }
}
