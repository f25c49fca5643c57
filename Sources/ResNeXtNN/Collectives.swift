import ResNeXtCore

/// Collective communication among the processes ("ranks") of a data-parallel job, one process per
/// device: MPI on the CPU (and as the launcher everywhere). Every rank must make the same calls in the same
/// order.
public protocol Collectives: AnyObject {
    /// This process's index, 0 ..< size; rank 0 writes checkpoints and logs.
    var rank: Int { get }
    var size: Int { get }
    /// Sums `values` element-wise over all ranks; every rank gets the sums. Blocks.
    func allReduceSum(_ values: inout [Double]) throws
    /// Starts summing `buffer` element-wise over all ranks, in place; the buffer must stay alive and
    /// untouched until the returned reduction has completed.
    func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> any PendingReduction
    /// Replaces the bytes of `buffer` on every rank with rank `root`'s. Blocks.
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Ends the whole job after a failure on this rank: prints `message` (naming the rank) and stops every
    /// rank, so that none waits forever in a collective.
    func abort(_ message: String) -> Never
}

/// A started, not yet completed reduction.
public protocol PendingReduction: AnyObject {
    /// Lets the reduction progress; true once it has completed.
    func poll() throws -> Bool
    /// Blocks until it has completed.
    func wait() throws
}

extension Collectives {
    /// Rank 0 of the job.
    public var isPrimary: Bool { rank == 0 }

    /// Replaces `values` on every rank with rank `root`'s (every rank passes the same count).
    public func broadcast(_ values: inout [Float], root: Int = 0) throws {
        try values.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Replaces `bytes` on every rank with rank `root`'s (every rank passes the same count).
    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) throws {
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
    }

    /// Makes every rank's tensor `tensor` equal to rank `root`'s.
    public func broadcast(_ tensor: Parameter, on backend: any Backend, root: Int = 0) throws {
        var values = try backend.download(tensor.value)
        try broadcast(&values, root: root)
        if rank != root { tensor.value = try backend.upload(values, shape: tensor.value.shape) }
    }
}
