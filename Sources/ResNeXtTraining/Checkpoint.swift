import Crypto
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtNN

/// What a checkpoint records besides tensors: enough to continue exactly where training stopped.
public struct TrainingState: Sendable, Equatable {
    /// The last completed epoch.
    public var epoch: Int
    /// Iterations of epoch `epoch + 1` already trained (a mid-epoch checkpoint, `-checkpointEvery`); 0 at
    /// an epoch boundary.
    public var iteration: Int = 0
    /// The training metrics of those iterations (nil at an epoch boundary).
    public var progress: EpochProgress?
    /// SGD steps taken so far (torch's evalCounter).
    public var stepCount: Int
    /// Best validation top-1 / top-k error seen so far (percent), and its epoch.
    public var bestTop1: Double
    public var bestTopK: Double
    public var bestEpoch: Int
    /// The data-order and augmentation seed (-manualSeed).
    public var seed: UInt64

    public var json: JSONValue {
        var fields: [(key: String, value: JSONValue)] = [
            ("epoch", .number(Double(epoch))), ("stepCount", .number(Double(stepCount))), ("bestTop1", Self.error(bestTop1)),
            ("bestTopK", Self.error(bestTopK)), ("bestEpoch", .number(Double(bestEpoch))), ("seed", .string(String(seed)))
        ]
        if iteration > 0 { fields.append(("iteration", .number(Double(iteration)))) }
        if let progress { fields.append(("progress", progress.json)) }
        return .object(fields)
    }

    /// An error rate, null while there is none yet (infinity: before the first validation).
    private static func error(_ value: Double) -> JSONValue { value.isFinite ? .number(value) : .null }

    /// The error rate `error(_:)` wrote.
    private static func error(_ json: JSONValue?) -> Double? { json == .null ? .infinity : json?.double }

    /// Whether this is a mid-epoch position.
    public var isMidEpoch: Bool { iteration > 0 }

    public init(epoch: Int, stepCount: Int, bestTop1: Double, bestTopK: Double, bestEpoch: Int, seed: UInt64) {
        self.epoch = epoch; self.stepCount = stepCount
        self.bestTop1 = bestTop1; self.bestTopK = bestTopK; self.bestEpoch = bestEpoch
        self.seed = seed
    }

    public init(json: JSONValue, source: String) throws {
        guard let epoch = json["epoch"]?.int, let steps = json["stepCount"]?.int, let top1 = Self.error(json["bestTop1"]),
            let topK = Self.error(json["bestTopK"]), let bestEpoch = json["bestEpoch"]?.int,
            let seedText = json["seed"]?.string, let seed = UInt64(seedText), epoch >= 0, steps >= 0
        else {
            throw ResNeXtError.io("\(source): training state is incomplete or malformed")
        }
        self.init(epoch: epoch, stepCount: steps, bestTop1: top1, bestTopK: topK, bestEpoch: bestEpoch, seed: seed)
        if let iteration = json["iteration"] {
            guard let i = iteration.int, i > 0, let progress = json["progress"] else {
                throw ResNeXtError.io("\(source): training state has a malformed iteration or no progress with it")
            }
            self.iteration = i
            self.progress = try EpochProgress(json: progress, source: source)
        }
    }
}

/// The running training metrics of an epoch in progress, as a mid-epoch checkpoint stores them so that the
/// resumed epoch reports what an uninterrupted one would.
public struct EpochProgress: Sendable, Equatable {
    /// Sum over the iterations of batch loss × batch size.
    public var lossSum: Double = 0
    public var correct1 = 0
    public var correctK = 0
    public var images = 0
    public var skipped = 0

    public init() {}

    var json: JSONValue {
        .object([
            ("lossSum", .number(lossSum)), ("correct1", .number(Double(correct1))), ("correctK", .number(Double(correctK))),
            ("images", .number(Double(images))), ("skipped", .number(Double(skipped)))
        ])
    }

    init(json: JSONValue, source: String) throws {
        guard let lossSum = json["lossSum"]?.double, let c1 = json["correct1"]?.int, let cK = json["correctK"]?.int,
            let images = json["images"]?.int, let skipped = json["skipped"]?.int,
            [c1, cK, images, skipped].allSatisfy({ $0 >= 0 }), c1 <= images, cK <= images
        else {
            throw ResNeXtError.io("\(source): the epoch progress of the training state is incomplete or malformed")
        }
        self.lossSum = lossSum; correct1 = c1; correctK = cK; self.images = images; self.skipped = skipped
    }
}

/// The files of a checkpoint directory, as the original's checkpoints.lua but in safetensors and JSON:
/// `model_N.safetensors` (weights, with the model configuration, the epoch and `dataSHA256` in its
/// metadata), `optimState_N.safetensors` (momentum buffers by parameter name, with the training state
/// and `dataSHA256` in its metadata), `latest.json` pointing at the newest pair (with each file's SHA-256
/// and epoch), and `model_best.safetensors`. Mid-epoch checkpoints (`-checkpointEvery`) are pairs
/// `model_E_iterI` / `optimState_E_iterI` (I iterations of epoch E done, the epoch's running metrics in
/// the state) that `latest.json` points at until the next commit; only the newest older one is kept.
///
/// Commit order: every file is written atomically (``FileIO/writeAtomically(_:to:)``), in the order
/// `model_N`, `optimState_N`, `latest.json`, and only then `model_best`; so a crash or a failure at any
/// moment, writing the best copy included, leaves the last complete epoch loadable.
///
/// Integrity: `dataSHA256` is the SHA-256 of a file's tensors (name, dtype, shape and bytes of each, in
/// file order); `latest.json`'s `modelSHA256` / `optimSHA256` are of the whole files. ``loadLatest(directory:)``
/// checks all of them and that the epochs agree; when the pair `latest.json` names is damaged it falls
/// back to the newest intact pair in the directory, saying so. Older checkpoints without these fields
/// still load (the checks they cannot support are skipped).
public enum Checkpoint {
    public static let formatTag = "resnext-swift/1"

    /// Writes the checkpoint of `state` (epoch `state.epoch`, or mid-epoch when `state.iteration` > 0) into
    /// `directory` (created if needed), in the commit order above, then removes superseded mid-epoch pairs.
    /// `afterWeights` runs between the weights file and the rest (crash tests stop the process there).
    public static func save(
        model: ResNeXtModel, optimizer: SGD, state: TrainingState, options: [(key: String, value: String)] = [],
        isBest: Bool, directory: String, afterWeights: (_ epoch: Int) -> Void = { _ in }
    ) throws {
        try FileIO.makeDirectories(directory)
        let backend = model.backend
        let position = Position(state)
        let modelFile = position.modelFile, optimFile = position.optimFile
        let weightTensors = try model.stateDict(on: backend)
        let weights = SafetensorsFile(
            tensors: weightTensors,
            metadata: modelMetadata(model, epoch: state.epoch) + (state.isMidEpoch ? [("iteration", String(state.iteration))] : [])
                + [("dataSHA256", dataSHA256(weightTensors))])
        let modelBytes = try weights.write(to: FileIO.join(directory, modelFile))
        afterWeights(state.epoch)
        let velocities = try zip(optimizer.parameters, optimizer.velocities).map { named, v in
            (name: named.name, tensor: StoredTensor(shape: v.shape.dims, floats: try backend.download(v)))
        }
        let recorded = JSONValue.object(options.map { (key: $0.key, value: JSONValue.string($0.value)) })
        let optimBytes = try SafetensorsFile(
            tensors: velocities,
            metadata: [
                ("format", formatTag), ("state", state.json.serialized()),
                ("options", recorded.serialized()), ("dataSHA256", dataSHA256(velocities))
            ]
        )
        .write(to: FileIO.join(directory, optimFile))
        let epoch = JSONValue.number(Double(state.epoch))
        var latest: [(key: String, value: JSONValue)] = [
            ("epoch", epoch), ("modelFile", .string(modelFile)), ("modelSHA256", .string(sha256(modelBytes))),
            ("modelEpoch", epoch), ("optimFile", .string(optimFile)), ("optimSHA256", .string(sha256(optimBytes))),
            ("optimEpoch", epoch)
        ]
        if state.isMidEpoch { latest.append(("iteration", .number(Double(state.iteration)))) }
        try FileIO.writeAtomically(
            Array((JSONValue.object(latest).serialized() + "\n").utf8), to: FileIO.join(directory, "latest.json"))
        if isBest { try FileIO.writeAtomically(modelBytes, to: FileIO.join(directory, "model_best.safetensors")) }
        removeSupersededMidEpochPairs(in: directory, committed: position)
    }

    /// Makes `directory/model_best.safetensors` hold epoch `state.bestEpoch`'s weights when it does not (the
    /// best copy is written last, so a failure there, or a new -save directory, leaves it stale or missing):
    /// copies the verified `model_<bestEpoch>.safetensors` from `source` (the checkpoint resumed from).
    /// - Returns: a note saying what was done, or nil when model_best was right (or there is no best yet).
    public static func repairBestModel(in directory: String, from source: String, state: TrainingState) throws -> String? {
        guard state.bestEpoch > 0 else { return nil }
        let bestPath = FileIO.join(directory, "model_best.safetensors")
        let best = "model_\(state.bestEpoch).safetensors"
        let current = try? SafetensorsFile.read(bestPath)
        if current?.metadata.first(where: { $0.key == "epoch" })?.value == String(state.bestEpoch) { return nil }
        let sourcePath = FileIO.join(source, best)
        guard FileIO.fileExists(sourcePath) else {
            return "note: \(bestPath) is not epoch \(state.bestEpoch)'s (the best) and \(sourcePath) is gone; left as it is"
        }
        let bytes = try FileIO.readAll(sourcePath)
        let file = try verified(bytes, path: sourcePath, expectedSHA256: nil)
        guard file.metadata.first(where: { $0.key == "epoch" })?.value == String(state.bestEpoch) else {
            return "note: \(bestPath) is not epoch \(state.bestEpoch)'s (the best) and \(sourcePath) records another epoch; left as it is"
        }
        try FileIO.writeAtomically(bytes, to: bestPath)
        return "note: \(bestPath) \(current == nil ? "was missing" : "was not the best epoch's") (\(state.bestEpoch)); "
            + "copied \(best) there"
    }

    /// Where in training a checkpoint stands: `epoch` epochs done and `iteration` iterations of the next.
    /// Epoch checkpoints are `model_E` / `optimState_E`; mid-epoch ones `model_E+1_iterI` / `optimState_E+1_iterI`
    /// (named after the epoch in progress).
    struct Position: Comparable, Hashable {
        var epoch: Int
        var iteration: Int

        init(epoch: Int, iteration: Int) {
            self.epoch = epoch
            self.iteration = iteration
        }

        init(_ state: TrainingState) { self.init(epoch: state.epoch, iteration: state.iteration) }

        /// Parses the part of a file name after `model_` / `optimState_` and before `.safetensors`.
        init?(stem: Substring) {
            let parts = stem.split(separator: "_", omittingEmptySubsequences: false)
            if parts.count == 1, let e = Int(parts[0]), e >= 0 {
                self.init(epoch: e, iteration: 0)
            } else if parts.count == 2, parts[1].hasPrefix("iter"), let e = Int(parts[0]), e >= 1,
                let i = Int(parts[1].dropFirst(4)), i >= 1
            {
                self.init(epoch: e - 1, iteration: i)
            } else {
                return nil
            }
        }

        var stem: String { iteration == 0 ? "\(epoch)" : "\(epoch + 1)_iter\(iteration)" }
        var modelFile: String { "model_\(stem).safetensors" }
        var optimFile: String { "optimState_\(stem).safetensors" }
        /// "epoch 3" or "epoch 4, iteration 200".
        var description: String { iteration == 0 ? "epoch \(epoch)" : "epoch \(epoch + 1), iteration \(iteration)" }

        static func < (a: Position, b: Position) -> Bool { (a.epoch, a.iteration) < (b.epoch, b.iteration) }
    }

    /// Mid-epoch pairs are scratch: after a commit only the newest one before `committed` stays (a fallback
    /// should the committed pair be damaged later), and none once an epoch is committed.
    static func removeSupersededMidEpochPairs(in directory: String, committed: Position) {
        let older = pairPositions(in: directory).filter { $0.iteration > 0 && $0 != committed }
        let keep = committed.iteration > 0 ? older.first(where: { $0 < committed }) : nil
        for position in older where position != keep {
            for file in [position.modelFile, position.optimFile] { FileIO.removeTree(FileIO.join(directory, file)) }
        }
    }

    static func modelMetadata(_ model: ResNeXtModel, epoch: Int) -> [(key: String, value: String)] {
        [("format", formatTag), ("configuration", model.configuration.json.serialized()), ("epoch", String(epoch))]
    }

    /// The SHA-256 of a file's tensors, as stored in its `dataSHA256` metadata: each tensor's name, dtype
    /// and shape (NUL-separated) then its bytes, in file order; 64 lowercase hex digits.
    public static func dataSHA256(_ tensors: [(name: String, tensor: StoredTensor)]) -> String {
        var hasher = SHA256()
        for (name, tensor) in tensors {
            let header = Array("\(name)\u{0}\(tensor.dtype.rawValue)\u{0}\(tensor.shape)\u{0}".utf8)
            header.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            tensor.bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return NumberFormat.hex(hasher.finalize())
    }

    /// The SHA-256 of `bytes` as 64 lowercase hex digits.
    public static func sha256(_ bytes: [UInt8]) -> String {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return NumberFormat.hex(hasher.finalize())
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
        /// Set when the pair `latest.json` names was damaged and an older intact pair was loaded instead:
        /// "note: <file>: <reason>; resuming from epoch K instead".
        public var notice: String? = nil
    }

    /// What `latest.json` records; the hashes and per-file epochs are absent in older checkpoints.
    struct Latest {
        var epoch: Int?
        /// 0 at an epoch boundary.
        var iteration: Int
        var modelFile: String
        var optimFile: String
        var modelSHA256: String?
        var optimSHA256: String?
        var modelEpoch: Int?
        var optimEpoch: Int?
    }

    /// Reads `directory/latest.json` and the files it names, verifying hashes and epochs. When that pair
    /// (or `latest.json` itself) is damaged, loads the newest intact `model_K` / `optimState_K` pair instead
    /// and says why in ``Loaded/notice``.
    /// - Throws: `ResNeXtError.io` when the directory has no checkpoint, or none that is intact.
    public static func loadLatest(directory: String) throws -> Loaded {
        let latestPath = FileIO.join(directory, "latest.json")
        let candidates = pairPositions(in: directory)
        var latest: Latest?
        let failure: String
        if !FileIO.fileExists(latestPath) {
            guard !candidates.isEmpty else {
                throw ResNeXtError.io("\(latestPath): no checkpoint to resume from (the directory has no latest.json)")
            }
            failure = "\(latestPath): missing"
        } else {
            do {
                let record = try readLatest(latestPath)
                latest = record
                return try loadPair(
                    directory: directory, modelFile: record.modelFile, optimFile: record.optimFile, latest: record)
            } catch {
                failure = reason(error)
            }
        }
        var tried: [String] = []
        for position in candidates {
            let modelFile = position.modelFile, optimFile = position.optimFile
            if let latest, latest.modelFile == modelFile, latest.optimFile == optimFile { continue }
            do {
                var loaded = try loadPair(directory: directory, modelFile: modelFile, optimFile: optimFile, latest: nil, position: position)
                loaded.notice = "note: \(failure); resuming from \(position.description) instead"
                return loaded
            } catch {
                tried.append(reason(error))
            }
        }
        throw ResNeXtError.io(
            "\(directory): no intact checkpoint to resume from (\(([failure] + tried).joined(separator: "; ")))")
    }

    /// The positions with both a weights and an optimizer file in `directory`, newest first.
    static func pairPositions(in directory: String) -> [Position] {
        guard let entries = try? FileIO.listDirectory(directory) else { return [] }
        let names = Set(entries.map(\.name))
        return names.compactMap { name -> Position? in
            guard name.hasPrefix("model_"), name.hasSuffix(".safetensors"),
                let position = Position(stem: name.dropFirst("model_".count).dropLast(".safetensors".count)),
                names.contains(position.optimFile)
            else { return nil }
            return position
        }
        .sorted(by: >)
    }

    static func readLatest(_ latestPath: String) throws -> Latest {
        let json = try JSONValue.parse(try FileIO.readAll(latestPath), source: latestPath)
        guard let modelFile = json["modelFile"]?.string, let optimFile = json["optimFile"]?.string,
            !modelFile.contains("/"), !optimFile.contains("/")
        else {
            throw ResNeXtError.io("\(latestPath): expected {\"epoch\", \"modelFile\", \"optimFile\"} naming files in the same directory")
        }
        return Latest(
            epoch: json["epoch"]?.int, iteration: json["iteration"]?.int ?? 0, modelFile: modelFile, optimFile: optimFile,
            modelSHA256: json["modelSHA256"]?.string, optimSHA256: json["optimSHA256"]?.string, modelEpoch: json["modelEpoch"]?.int,
            optimEpoch: json["optimEpoch"]?.int)
    }

    /// Reads and verifies one weights / optimizer pair: whole-file hashes against `latest` (when it has
    /// them), each file's tensors against its own `dataSHA256`, and that every recorded epoch agrees.
    static func loadPair(
        directory: String, modelFile: String, optimFile: String, latest: Latest?, position: Position? = nil
    ) throws -> Loaded {
        let modelPath = FileIO.join(directory, modelFile), optimPath = FileIO.join(directory, optimFile)
        let weights = try readVerified(modelPath, expectedSHA256: latest?.modelSHA256)
        guard let configuration = try configuration(of: weights, source: modelPath) else {
            throw ResNeXtError.io("\(modelPath): not a resnext-swift checkpoint (no model configuration in its metadata)")
        }
        let velocities = try readVerified(optimPath, expectedSHA256: latest?.optimSHA256)
        guard let stateText = velocities.metadata.first(where: { $0.key == "state" })?.value else {
            throw ResNeXtError.io("\(optimPath): no training state in its metadata")
        }
        let state = try TrainingState(json: try JSONValue.parse(Array(stateText.utf8), source: optimPath), source: optimPath)
        let modelEpoch = weights.metadata.first(where: { $0.key == "epoch" }).flatMap { Int($0.value) }
        let claims: [(String, Int?)] = [
            ("\(modelFile) records epoch", modelEpoch), ("latest.json says", latest?.epoch),
            ("latest.json's modelEpoch is", latest?.modelEpoch), ("latest.json's optimEpoch is", latest?.optimEpoch),
            ("the file name says", position?.epoch)
        ]
        let disagreeing = claims.compactMap { what, value in value.flatMap { $0 == state.epoch ? nil : "\(what) \($0)" } }
        if !disagreeing.isEmpty {
            throw ResNeXtError.io(
                "\(optimPath): epochs disagree: its training state is epoch \(state.epoch) but "
                    + disagreeing.joined(separator: ", "))
        }
        let modelIteration = weights.metadata.first(where: { $0.key == "iteration" }).flatMap { Int($0.value) } ?? 0
        let iterations: [(String, Int?)] = [
            ("\(modelFile) records", modelIteration), ("latest.json says", latest?.iteration), ("the file name says", position?.iteration)
        ]
        let disagreeingIterations = iterations.compactMap { what, value in
            value.flatMap { $0 == state.iteration ? nil : "\(what) \($0)" }
        }
        if !disagreeingIterations.isEmpty {
            throw ResNeXtError.io(
                "\(optimPath): iterations disagree: its training state is iteration \(state.iteration) but "
                    + disagreeingIterations.joined(separator: ", "))
        }
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

    /// Reads a safetensors file, checking the whole file against `expectedSHA256` (when given) and its
    /// tensors against its own `dataSHA256` metadata (when present).
    static func readVerified(_ path: String, expectedSHA256: String?) throws -> SafetensorsFile {
        try verified(try FileIO.readAll(path), path: path, expectedSHA256: expectedSHA256)
    }

    /// `bytes` (of the file at `path`) parsed and checked as ``readVerified(_:expectedSHA256:)`` does.
    static func verified(_ bytes: [UInt8], path: String, expectedSHA256: String?) throws -> SafetensorsFile {
        if let expectedSHA256, sha256(bytes) != expectedSHA256 {
            throw ResNeXtError.io("\(path): SHA-256 does not match the one in latest.json (the file is damaged or was replaced)")
        }
        let file = try SafetensorsFile.parse(bytes, source: path)
        if let recorded = file.metadata.first(where: { $0.key == "dataSHA256" })?.value, dataSHA256(file.tensors) != recorded {
            throw ResNeXtError.io("\(path): tensor data does not match its recorded SHA-256 (the file is damaged)")
        }
        return file
    }

    /// An error's message without the "I/O error: " prefix (it already starts with the path at fault).
    static func reason(_ error: any Error) -> String {
        if case ResNeXtError.io(let message) = error { return message }
        return "\(error)"
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
