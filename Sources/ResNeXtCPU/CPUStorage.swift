import CDNNL
import ResNeXtCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Counts live allocations of one backend and the peak of their bytes (for leak tests and memory reports).
final class AllocationCounter: Sendable {
    private struct Counts {
        var count = 0, bytes = 0, peakBytes = 0
    }
    private let state = Mutex(Counts())
    func allocated(_ bytes: Int) {
        state.withLock {
            $0.count += 1
            $0.bytes += bytes
            $0.peakBytes = max($0.peakBytes, $0.bytes)
        }
    }
    func freed(_ bytes: Int) {
        state.withLock {
            $0.count -= 1
            $0.bytes -= bytes
        }
    }
    var current: (count: Int, bytes: Int) { state.withLock { ($0.count, $0.bytes) } }
    var peakBytes: Int { state.withLock { $0.peakBytes } }
    func resetPeak() { state.withLock { $0.peakBytes = $0.bytes } }
}

/// A 64-byte-aligned host buffer, freed when the last tensor using it goes away.
final class CPUBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let byteCount: Int
    private let counter: AllocationCounter

    init(byteCount: Int, zeroed: Bool, counter: AllocationCounter) throws {
        var raw: UnsafeMutableRawPointer?
        let size = max(byteCount, 64)
        guard posix_memalign(&raw, 64, size) == 0, let raw else {
            throw ResNeXtError.backend("out of host memory allocating \(byteCount) bytes")
        }
        if zeroed { memset(raw, 0, size) }
        self.pointer = raw
        self.byteCount = byteCount
        self.counter = counter
        counter.allocated(byteCount)
    }

    deinit {
        free(pointer)
        counter.freed(byteCount)
    }
}

/// CPU tensor storage: a buffer plus the oneDNN layout its bytes are in (plain NCHW, or a blocked
/// layout such as nChw8c that a primitive produced).
final class CPUStorage: BackendStorage, @unchecked Sendable {
    let buffer: CPUBuffer
    let desc: MemoryDesc
    /// For max-pooling workspaces: the forward primitive whose backward pass reads them.
    let producer: Primitive?

    init(buffer: CPUBuffer, desc: MemoryDesc, producer: Primitive? = nil) {
        self.buffer = buffer
        self.desc = desc
        self.producer = producer
    }

    var device: Device { .cpu }
    var pointer: UnsafeMutableRawPointer { buffer.pointer }
    var floats: UnsafeMutablePointer<Float> { buffer.pointer.assumingMemoryBound(to: Float.self) }
}
