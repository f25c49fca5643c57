import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtNN

/// The original's models/init.lua and the optimizer half of train.lua: the network a run trains and the
/// SGD state it continues from.
public enum ModelSetup {
    /// The network: restored from `checkpoint` (-resume), loaded from the -retrain weights (with a new
    /// -nClasses-way classifier under -resetClassifier), or built fresh from the options. Checks that it
    /// has an output for each of the data set's classes.
    public static func model(
        _ options: TrainingOptions, classNames: [String], checkpoint: Checkpoint.Loaded?, backend: any Backend,
        log: TrainingLog
    ) throws -> ResNeXtModel {
        let classes = classNames.count
        let model: ResNeXtModel
        if let checkpoint {
            model = try ResNeXtModel(checkpoint.configuration, on: backend, seed: options.manualSeed)
            try model.loadStateDict(checkpoint.weights.tensors, on: backend, source: checkpoint.modelPath)
            if options.resetClassifier { log.line("note: -resetClassifier is ignored when resuming (as in the original)") }
        } else if let retrain = options.retrain {
            let file = try SafetensorsFile.read(retrain)
            let stored = try Checkpoint.configuration(of: file, source: retrain)
            let outputs = options.nClasses > 0 && !options.resetClassifier ? options.nClasses : classes
            model = try ResNeXtModel(try stored ?? options.modelConfiguration(classes: outputs), on: backend, seed: options.manualSeed)
            try model.loadStateDict(file.tensors, on: backend, source: retrain)
            if options.resetClassifier {
                try model.resetClassifier(classes: options.nClasses, seed: options.manualSeed)
                log.line("replaced the classifier with a new \(options.nClasses)-way linear layer")
            }
        } else {
            let outputs = options.nClasses > 0 ? options.nClasses : classes
            model = try ResNeXtModel(try options.modelConfiguration(classes: outputs), on: backend, seed: options.manualSeed)
        }
        let outputs = model.fc.weight.value.shape[0]
        guard outputs >= classes else {
            throw ResNeXtError.invalidArgument(
                "the model has \(outputs) classes but the data set has \(classes) "
                    + "(\(classNames.prefix(5).joined(separator: ", "))…); use -resetClassifier true -nClasses \(classes)")
        }
        return model
    }

    /// Nesterov SGD over the model's parameters with the options' momentum and weight decay, and the
    /// training state: both restored from `checkpoint` (noting options that differ from the recorded
    /// ones), or fresh at -epochNumber.
    public static func optimizer(
        for model: ResNeXtModel, _ options: TrainingOptions, checkpoint: Checkpoint.Loaded?,
        log: TrainingLog
    ) throws -> (SGD, TrainingState) {
        let optimizer = try SGD(
            model.backend, parameters: model.namedParameters(),
            SGDHyperparameters(momentum: options.momentum, dampening: 0, weightDecay: options.weightDecay, nesterov: true))
        guard let checkpoint else {
            return (
                optimizer,
                TrainingState(
                    epoch: options.epochNumber - 1, stepCount: 0, bestTop1: .infinity, bestTopK: .infinity,
                    bestEpoch: 0, seed: options.manualSeed)
            )
        }
        try Checkpoint.restore(optimizer, from: checkpoint.velocities, stepCount: checkpoint.state.stepCount, source: checkpoint.directory)
        let now = Dictionary(options.recordedFields, uniquingKeysWith: { a, _ in a })
        for (key, value) in checkpoint.options {
            if let current = now[key], current != value {
                log.line(
                    "note: -\(key) was \(value) when the checkpoint was written and is \(current) now; the run will not match an "
                        + "uninterrupted one"
                )
            }
        }
        let state = checkpoint.state
        if state.isMidEpoch, let recorded = checkpoint.options.first(where: { $0.key == "batchSize" })?.value,
            recorded != String(options.batchSize)
        {
            throw ResNeXtError.invalidArgument(
                "\(checkpoint.modelPath) is a mid-epoch checkpoint of a run with -batchSize \(recorded); resume it with the same "
                    + "-batchSize (its iteration count means nothing with \(options.batchSize))")
        }
        let within = state.isMidEpoch ? ", iteration \(state.iteration + 1)" : ""
        log.line(
            "resuming from \(checkpoint.directory): epoch \(state.epoch) done, \(state.stepCount) steps, continuing at epoch "
                + "\(state.epoch + 1)\(within)"
        )
        return (optimizer, state)
    }
}
