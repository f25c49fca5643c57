import Dispatch
import ResNeXtCore
import ResNeXtTransforms
import Synchronization

/// One mini-batch: images stacked NCHW (all crops of a sample are consecutive), labels per sample.
public struct Batch: Sendable {
    /// `[samples · cropsPerSample, C, H, W]` values.
    public let images: [Float]
    public let shape: Shape
    public let labels: [Int32]
    /// Data-set indices of the samples, in batch order.
    public let indices: [Int]
    /// Images per sample (10 with ten-crop evaluation, else 1).
    public let cropsPerSample: Int
    /// Samples of this batch that could not be read (corrupt files), skipped.
    public let skipped: [(index: Int, reason: String)]
}

/// Turns a raw sample into one or more network inputs (several for multi-crop evaluation).
public typealias SampleTransform = @Sendable (Image, inout RandomGenerator) throws -> [Image]

/// A transform from decoded bytes (see `Dataset.packedSample(at:)`) that writes its one output image, of
/// `shape` ([C, H, W]), straight into the batch. It must write what the loader's `SampleTransform` gives for
/// `image.planar()`, with the same draws.
public struct PackedSampleTransform: Sendable {
    public let shape: [Int]
    public let write: @Sendable (PackedImage, inout RandomGenerator, UnsafeMutableBufferPointer<Float>) throws -> Void

    public init(
        shape: [Int], write: @escaping @Sendable (PackedImage, inout RandomGenerator, UnsafeMutableBufferPointer<Float>) throws -> Void
    ) {
        precondition(shape.count == 3 && shape.allSatisfy { $0 > 0 }, "PackedSampleTransform: shape \(shape) is not [C, H, W]")
        self.shape = shape
        self.write = write
    }
}

/// A threaded, deterministic mini-batch loader.
///
/// Each epoch draws a fresh permutation (or keeps order when not shuffling); batches are consecutive
/// chunks and the last partial batch is kept. Worker threads build whole batches ahead of the consumer.
/// Every random choice of an augmentation comes from a generator seeded by (seed, epoch, sample index),
/// so the batches are identical for any number of threads and an interrupted run resumes exactly.
///
/// With data parallelism each rank of `ranks` loads only its slice of every batch (a contiguous share, the
/// first ranks taking one more sample when the batch does not divide evenly); the slices of all ranks
/// together are exactly the single-process batch, and every rank gets the same number of batches.
public final class BatchLoader: Sendable {
    public let dataset: any Dataset
    public let batchSize: Int
    public let shuffle: Bool
    public let threads: Int
    public let seed: UInt64
    public let transform: SampleTransform
    /// Used instead of `transform` for samples the data set gives as bytes.
    public let packedTransform: PackedSampleTransform?
    /// This process's share of every batch: rank `shard.rank` of `shard.ranks`.
    public let shard: (rank: Int, ranks: Int)

    public init(
        dataset: any Dataset, batchSize: Int, shuffle: Bool, threads: Int, seed: UInt64, transform: @escaping SampleTransform,
        packedTransform: PackedSampleTransform? = nil, shard: (rank: Int, ranks: Int) = (0, 1)
    ) throws {
        guard shard.ranks >= 1, (0..<shard.ranks).contains(shard.rank) else {
            throw ResNeXtError.invalidArgument("rank \(shard.rank) of \(shard.ranks) is not a valid shard")
        }
        guard batchSize > 0 else { throw ResNeXtError.invalidArgument("-batchSize must be at least 1, got \(batchSize)") }
        guard threads > 0 else { throw ResNeXtError.invalidArgument("-nThreads must be at least 1, got \(threads)") }
        guard dataset.count > 0 else { throw ResNeXtError.invalidArgument("the data set is empty") }
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.threads = threads
        self.seed = seed
        self.transform = transform
        self.packedTransform = packedTransform
        self.shard = shard
    }

    /// Batches per epoch: ceil(N / batchSize).
    public var batchCount: Int { (dataset.count + batchSize - 1) / batchSize }

    /// The sample order of an epoch (1-based epochs, as the original counts them).
    public func order(epoch: Int) -> [Int] {
        var indices = Array(0..<dataset.count)
        if shuffle {
            var rng = RandomGenerator(seed: mix(seed, UInt64(epoch), 0x5348_5546))
            indices.shuffle(using: &rng)
        }
        return indices
    }

    /// Iterates the batches of `epoch`, starting at batch `start` (for resuming within an epoch).
    public func batches(epoch: Int, startingAt start: Int = 0) -> BatchIterator {
        let order = order(epoch: epoch)
        let plan = stride(from: start * batchSize, to: order.count, by: batchSize).map { first -> [Int] in
            let count = min(order.count, first + batchSize) - first
            let base = count / shard.ranks, extra = count % shard.ranks
            let lower = first + shard.rank * base + min(shard.rank, extra)
            return Array(order[lower..<lower + base + (shard.rank < extra ? 1 : 0)])
        }
        return BatchIterator(loader: self, epoch: epoch, plan: plan)
    }

    /// Builds one batch (runs on a worker thread).
    func build(_ indices: [Int], epoch: Int) -> Batch {
        var labels = [Int32]()
        var kept = [Int]()
        var skipped = [(Int, String)]()
        /// Runs `sample` (which returns the label) for every index with its generator; counts failures as skips.
        func each(_ sample: (Int, inout RandomGenerator) throws -> Int) {
            for index in indices {
                do {
                    var rng = RandomGenerator(seed: mix(seed, UInt64(epoch), UInt64(index)))
                    labels.append(Int32(try sample(index, &rng)))
                    kept.append(index)
                } catch {
                    skipped.append((index, "\(error)"))
                }
            }
        }
        var images: [Float]
        var shape = packedTransform?.shape
        var crops = 1
        if let packedTransform {
            // One image per sample of a known size: written in place, no copy for samples given as bytes.
            let size = packedTransform.shape.reduce(1, *)
            images = [Float](unsafeUninitializedCapacity: indices.count * size) { buffer, initialized in
                each { index, rng in
                    let slot = UnsafeMutableBufferPointer(rebasing: buffer[initialized..<initialized + size])
                    let label: Int
                    if let (packed, l) = try dataset.packedSample(at: index) {
                        try packedTransform.write(packed, &rng, slot)
                        label = l
                    } else {
                        let (raw, l) = try dataset.sample(at: index)
                        let outputs = try transform(raw, &rng)
                        guard outputs.count == 1, let o = outputs.first, [o.channels, o.height, o.width] == packedTransform.shape else {
                            throw ResNeXtError.shapeMismatch(
                                "sample \(index) transformed to \(outputs.count) image(s) of "
                                    + "\(outputs.first.map { [$0.channels, $0.height, $0.width] } ?? []), expected one of "
                                    + "\(packedTransform.shape)"
                            )
                        }
                        _ = slot.update(fromContentsOf: o.pixels)
                        label = l
                    }
                    initialized += size
                    return label
                }
            }
        } else {
            images = []
            each { index, rng in
                let (raw, label) = try dataset.sample(at: index)
                let outputs = try transform(raw, &rng)
                guard let first = outputs.first else { throw ResNeXtError.invalidArgument("transform produced no image") }
                let s = [first.channels, first.height, first.width]
                if let shape, shape != s || outputs.count != crops {
                    throw ResNeXtError.shapeMismatch(
                        "sample \(index) transformed to \(outputs.count)×\(s), other samples to \(crops)×\(shape)")
                }
                if shape == nil { images.reserveCapacity(indices.count * outputs.count * first.pixels.count) }
                shape = s
                crops = outputs.count
                for o in outputs {
                    guard [o.channels, o.height, o.width] == s else {
                        throw ResNeXtError.shapeMismatch("crops of sample \(index) differ in size")
                    }
                    images += o.pixels
                }
                return label
            }
        }
        let dims = [labels.count * crops] + (shape ?? [0, 0, 0])
        return Batch(images: images, shape: Shape(dims), labels: labels, indices: kept, cropsPerSample: crops, skipped: skipped)
    }
}

/// Delivers the batches of one epoch in order while workers prepare the next ones.
public final class BatchIterator: IteratorProtocol, Sequence, @unchecked Sendable {
    private let loader: BatchLoader
    private let epoch: Int
    private let plan: [[Int]]
    private let ready: [DispatchSemaphore]
    private let results = Mutex<[Int: Batch]>([:])
    private let queue = DispatchQueue(label: "resnext.loader", attributes: .concurrent)
    private var nextToReturn = 0
    private var nextToSubmit = 0

    init(loader: BatchLoader, epoch: Int, plan: [[Int]]) {
        self.loader = loader
        self.epoch = epoch
        self.plan = plan
        self.ready = plan.map { _ in DispatchSemaphore(value: 0) }
        while nextToSubmit < Swift.min(plan.count, loader.threads) { submit() }
    }

    /// Number of batches this iterator delivers.
    public var count: Int { plan.count }

    private func submit() {
        let k = nextToSubmit
        nextToSubmit += 1
        let indices = plan[k], epoch = epoch, loader = loader
        queue.async { [self] in
            let batch = loader.build(indices, epoch: epoch)
            results.withLock { $0[k] = batch }
            ready[k].signal()
        }
    }

    public func next() -> Batch? {
        guard nextToReturn < plan.count else { return nil }
        ready[nextToReturn].wait()
        let batch = results.withLock { $0.removeValue(forKey: nextToReturn) }
        nextToReturn += 1
        if nextToSubmit < plan.count { submit() }
        return batch
    }

}

/// Mixes three words into a generator seed (SplitMix64 finalizer on a combination).
func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
    var z = a &* 0x9E37_79B9_7F4A_7C15 ^ (b &+ 0x632B_E59B_D9B4_E019) &* 0xBF58_476D_1CE4_E5B9 ^ c &* 0x94D0_49BB_1331_11EB
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
