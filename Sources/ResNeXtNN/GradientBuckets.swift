import ResNeXtCore

/// Averages gradients over the ranks of a data-parallel job, as PyTorch's DistributedDataParallel does:
/// parameters are grouped into buckets of about `bucketBytes` in backward order (the reverse of their
/// definition order), and a bucket's all-reduce starts as soon as backward has produced all of its
/// gradients, so communication overlaps the rest of backward. Buckets start in index order on every rank
/// (collectives must be issued in the same order everywhere).
///
/// Each rank's gradient is of its mean loss over its `local` samples; scaled by `local / global` before
/// the sum, the result is the gradient of the mean loss over the whole global batch, exactly what one
/// process training on the global batch computes (up to the order of the additions).
public final class GradientBuckets {
    public let collectives: any Collectives
    let backend: any Backend
    let parameters: [(name: String, parameter: Parameter)]
    /// Parameter indices (into `parameters`) of each bucket, and each bucket's host buffer (allocated
    /// once; the reductions write into it while backward goes on).
    let buckets: [[Int]]
    private let buffers: [UnsafeMutableBufferPointer<Float>]
    private var offsets: [Int: Int] = [:]
    private var index: [ObjectIdentifier: Int] = [:]
    private var ready: [Bool] = []
    private var pending: [(any PendingReduction)?] = []
    private var nextBucket = 0
    private var scale: Float = 1
    private var failure: (any Error)?

    /// Whether a step needs samples on every rank (synchronized batch norm); when a global batch leaves a
    /// rank without samples, every rank skips that step.
    public var requiresSamplesOnEveryRank = false

    /// Default bucket size: PyTorch DDP's 25 MiB.
    public static let defaultBucketBytes = 25 << 20

    public init(
        parameters: [(name: String, parameter: Parameter)], collectives: any Collectives, backend: any Backend,
        bucketBytes: Int = GradientBuckets.defaultBucketBytes
    ) {
        self.parameters = parameters
        self.collectives = collectives
        self.backend = backend
        var buckets: [[Int]] = []
        var current: [Int] = []
        var bytes = 0
        for i in parameters.indices.reversed() {
            current.append(i)
            bytes += parameters[i].parameter.value.elementCount * 4
            if bytes >= bucketBytes {
                buckets.append(current)
                current = []
                bytes = 0
            }
        }
        if !current.isEmpty { buckets.append(current) }
        self.buckets = buckets
        buffers = buckets.map { bucket in
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(
                capacity: bucket.reduce(0) { $0 + parameters[$1].parameter.value.elementCount })
            buffer.initialize(repeating: 0)
            return buffer
        }
        for bucket in buckets {
            var offset = 0
            for i in bucket {
                offsets[i] = offset
                offset += parameters[i].parameter.value.elementCount
            }
        }
        for (i, named) in parameters.enumerated() { index[ObjectIdentifier(named.parameter)] = i }
    }

    deinit { for buffer in buffers { buffer.deallocate() } }

    /// The number of buckets (for reports and tests).
    public var bucketCount: Int { buckets.count }

    /// Prepares one step: this rank trains on `local` of the step's `global` samples. Installs the hooks
    /// that start each bucket's reduction during backward.
    public func begin(local: Int, global: Int) {
        scale = global > 0 ? Float(local) / Float(global) : 0
        ready = Array(repeating: false, count: parameters.count)
        pending = Array(repeating: nil, count: buckets.count)
        nextBucket = 0
        failure = nil
        for (_, p) in parameters {
            p.gradientHook = { [unowned self] parameter in try self.gradientReady(parameter) }
        }
    }

    /// Waits for every bucket (starting those backward did not, with zeros for a rank without samples) and
    /// replaces each parameter's gradient by the average over the job; removes the hooks.
    public func finish() throws {
        defer { for (_, p) in parameters { p.gradientHook = nil } }
        if let failure { throw failure }
        while nextBucket < buckets.count { try start(nextBucket) }
        for (b, bucket) in buckets.enumerated() {
            try pending[b]?.wait()
            pending[b] = nil
            for i in bucket {
                let p = parameters[i].parameter
                let offset = offsets[i] ?? 0
                p.gradient = try backend.upload(Array(buffers[b][offset..<offset + p.value.elementCount]), shape: p.value.shape)
            }
        }
    }

    private func gradientReady(_ parameter: Parameter) throws {
        guard let i = index[ObjectIdentifier(parameter)] else { return }
        guard !ready[i] else {
            throw ResNeXtError.invalidArgument(
                "\(parameters[i].name) received a second gradient in one backward pass; data parallelism needs each parameter "
                    + "used once per step")
        }
        ready[i] = true
        while nextBucket < buckets.count, buckets[nextBucket].allSatisfy({ ready[$0] }) { try start(nextBucket) }
        for case let reduction? in pending { _ = try reduction.poll() }
    }

    /// Copies bucket `b`'s gradients (scaled; zeros where a parameter has none) into its buffer and starts
    /// its all-reduce.
    private func start(_ b: Int) throws {
        precondition(b == nextBucket, "buckets start in order")
        for i in buckets[b] {
            let p = parameters[i].parameter
            let offset = offsets[i] ?? 0
            let n = p.value.elementCount
            if let g = p.gradient {
                let values = try backend.download(g)
                for j in 0..<n { buffers[b][offset + j] = values[j] * scale }
            } else if scale == 0 {
                for j in 0..<n { buffers[b][offset + j] = 0 }
            } else {
                throw ResNeXtError.invalidArgument("\(parameters[i].name) has no gradient after backward")
            }
        }
        pending[b] = try collectives.startAllReduceSum(buffers[b])
        nextBucket += 1
    }
}
