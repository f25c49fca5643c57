import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtNN

/// What a checkpoint records besides tensors: enough to continue exactly where training stopped.
public struct TrainingState: Sendable, Equatable {
    /// The last completed epoch.
    public var epoch: Int
    /// SGD steps taken so far (torch's evalCounter).
    public var stepCount: Int
    /// Best validation top-1 / top-k error seen so far (percent), and its epoch.
    public var bestTop1: Double
    public var bestTopK: Double
    public var bestEpoch: Int
    /// The data-order and augmentation seed (-manualSeed).
    public var seed: UInt64

    public var json: JSONValue {
        .object([
            ("epoch", .number(Double(epoch))), ("stepCount", .number(Double(stepCount))), ("bestTop1", .number(bestTop1)),
            ("bestTopK", .number(bestTopK)), ("bestEpoch", .number(Double(bestEpoch))), ("seed", .string(String(seed)))
        ])
    }

    public init(epoch: Int, stepCount: Int, bestTop1: Double, bestTopK: Double, bestEpoch: Int, seed: UInt64) {
        self.epoch = epoch; self.stepCount = stepCount
        self.bestTop1 = bestTop1; self.bestTopK = bestTopK; self.bestEpoch = bestEpoch
        self.seed = seed
    }

    public init(json: JSONValue, source: String) throws {
        guard let epoch = json["epoch"]?.int, let steps = json["stepCount"]?.int, let top1 = json["bestTop1"]?.double,
            let topK = json["bestTopK"]?.double, let bestEpoch = json["bestEpoch"]?.int,
            let seedText = json["seed"]?.string, let seed = UInt64(seedText)
        else {
            throw ResNeXtError.io("\(source): training state is incomplete or malformed")
        }
        self.init(epoch: epoch, stepCount: steps, bestTop1: top1, bestTopK: topK, bestEpoch: bestEpoch, seed: seed)
    }
}

/// The files of a checkpoint directory, as the original's checkpoints.lua but in safetensors and JSON:
/// `model_N.safetensors` (weights, with the model configuration in its metadata), `optimState_N.safetensors`
/// (momentum buffers by parameter name, with the training state in its metadata), `latest.json` pointing
/// at the newest pair, and `model_best.safetensors`. Every file is written atomically, `latest.json` last,
/// so a crash at any moment leaves the previous checkpoint loadable.
public enum Checkpoint {
    public static let formatTag = "resnext-swift/1"

    /// Writes epoch `state.epoch`'s checkpoint into `directory` (created if needed). `afterWeights` runs
    /// between the weights file and the rest (crash tests stop the process there).
    public static func save(
        model: ResNeXtModel, optimizer: SGD, state: TrainingState, options: [(key: String, value: String)] = [],
        isBest: Bool, directory: String, afterWeights: (_ epoch: Int) -> Void = { _ in }
    ) throws {
        try FileIO.makeDirectories(directory)
        let backend = model.backend
        let modelFile = "model_\(state.epoch).safetensors", optimFile = "optimState_\(state.epoch).safetensors"
        let weights = SafetensorsFile(tensors: try model.stateDict(on: backend), metadata: modelMetadata(model, epoch: state.epoch))
        try weights.write(to: FileIO.join(directory, modelFile))
        afterWeights(state.epoch)
        let velocities = try zip(optimizer.parameters, optimizer.velocities).map { named, v in
            (name: named.name, tensor: StoredTensor(shape: v.shape.dims, floats: try backend.download(v)))
        }
        let recorded = JSONValue.object(options.map { (key: $0.key, value: JSONValue.string($0.value)) })
        try SafetensorsFile(
            tensors: velocities,
            metadata: [
                ("format", formatTag), ("state", state.json.serialized()),
                ("options", recorded.serialized())
            ]
        )
        .write(to: FileIO.join(directory, optimFile))
        if isBest { try weights.write(to: FileIO.join(directory, "model_best.safetensors")) }
        let latest = JSONValue.object([
            ("epoch", .number(Double(state.epoch))), ("modelFile", .string(modelFile)), ("optimFile", .string(optimFile))
        ])
        try FileIO.writeAtomically(Array((latest.serialized() + "\n").utf8), to: FileIO.join(directory, "latest.json"))
    }

    static func modelMetadata(_ model: ResNeXtModel, epoch: Int) -> [(key: String, value: String)] {
        [("format", formatTag), ("configuration", model.configuration.json.serialized()), ("epoch", String(epoch))]
    }

    /// The model configuration stored in a weights file, if it has one (torchvision files do not).
    public static func configuration(of file: SafetensorsFile, source: String) throws -> ModelConfiguration? {
        try ModelConfiguration.recorded(in: file, source: source)
    }

    /// A checkpoint read back: weights file, optimizer file and state.
    public struct Loaded {
        public let weights: SafetensorsFile
        public let configuration: ModelConfiguration
        public let velocities: SafetensorsFile
        public let state: TrainingState
        public let modelPath: String
        /// The checkpoint directory.
        public let directory: String
        /// The options recorded when the checkpoint was written (empty for older files).
        public let options: [(key: String, value: String)]
    }

    /// Reads `directory/latest.json` and the files it names; a missing checkpoint is an error.
    public static func loadLatest(directory: String) throws -> Loaded {
        let latestPath = FileIO.join(directory, "latest.json")
        guard FileIO.fileExists(latestPath) else {
            throw ResNeXtError.io("\(latestPath): no checkpoint to resume from (the directory has no latest.json)")
        }
        let latest = try JSONValue.parse(try FileIO.readAll(latestPath), source: latestPath)
        guard let modelFile = latest["modelFile"]?.string, let optimFile = latest["optimFile"]?.string,
            !modelFile.contains("/"), !optimFile.contains("/")
        else {
            throw ResNeXtError.io("\(latestPath): expected {\"epoch\", \"modelFile\", \"optimFile\"} naming files in the same directory")
        }
        let modelPath = FileIO.join(directory, modelFile), optimPath = FileIO.join(directory, optimFile)
        let weights = try SafetensorsFile.read(modelPath)
        guard let configuration = try configuration(of: weights, source: modelPath) else {
            throw ResNeXtError.io("\(modelPath): not a resnext-swift checkpoint (no model configuration in its metadata)")
        }
        let velocities = try SafetensorsFile.read(optimPath)
        guard let stateText = velocities.metadata.first(where: { $0.key == "state" })?.value else {
            throw ResNeXtError.io("\(optimPath): no training state in its metadata")
        }
        let state = try TrainingState(json: try JSONValue.parse(Array(stateText.utf8), source: optimPath), source: optimPath)
        var options = [(key: String, value: String)]()
        if let text = velocities.metadata.first(where: { $0.key == "options" })?.value,
            case .object(let fields) = try JSONValue.parse(Array(text.utf8), source: optimPath)
        {
            options = fields.compactMap { field in field.value.string.map { (field.key, $0) } }
        }
        return Loaded(
            weights: weights, configuration: configuration, velocities: velocities, state: state, modelPath: modelPath,
            directory: directory, options: options)
    }

    /// Restores momentum buffers by parameter name.
    public static func restore(_ optimizer: SGD, from velocities: SafetensorsFile, stepCount: Int, source: String) throws {
        let backend = optimizer.backend
        let restored = try optimizer.parameters.map { named -> Tensor in
            guard let stored = velocities[named.name] else {
                throw ResNeXtError.io("\(source): no momentum buffer for \(named.name)")
            }
            guard stored.shape == named.parameter.value.shape.dims else {
                throw ResNeXtError.io(
                    "\(source): momentum buffer \(named.name) is \(stored.shape), parameter is \(named.parameter.value.shape.dims)")
            }
            return try backend.upload(stored.floats(), shape: named.parameter.value.shape)
        }
        try optimizer.restore(velocities: restored, stepCount: stepCount)
    }
}
