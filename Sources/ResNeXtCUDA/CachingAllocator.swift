import ResNeXtCore
import Synchronization

/// Counters of a ``CachingDeviceAllocator``.
public struct DeviceAllocatorStatistics: Sendable, Equatable, CustomStringConvertible {
    /// Blocks handed out and not yet returned, and the bytes their owners asked for.
    public var liveBlocks = 0
    public var liveBytes = 0
    /// The most ``liveBytes`` since the allocator began or its last ``CachingDeviceAllocator/resetPeaks()``.
    public var peakLiveBytes = 0
    /// Returned blocks kept for reuse, and their (bucket) bytes.
    public var cachedBlocks = 0
    public var cachedBytes = 0
    /// Bytes obtained from the device and not given back (live buckets plus cache), and the peak.
    public var reservedBytes = 0
    public var peakReservedBytes = 0
    /// Calls of the device's malloc and free (a training step in steady state makes none).
    public var deviceAllocations = 0
    public var deviceFrees = 0
    /// Allocations served from the cache.
    public var cacheHits = 0

    public init() {}

    public var description: String {
        "\(liveBlocks) live blocks (\(liveBytes) bytes, peak \(peakLiveBytes)), \(cachedBlocks) cached (\(cachedBytes) bytes), "
            + "\(reservedBytes) reserved (peak \(peakReservedBytes)), \(deviceAllocations) device allocations, \(deviceFrees) frees, "
            + "\(cacheHits) cache hits"
    }
}

/// A caching allocator of device memory, in the manner of PyTorch's: requests are rounded up to size
/// buckets, returned blocks go onto a free list per bucket and are handed out again, so that a training
/// loop in steady state never calls the device's allocator (whose `cuMemAlloc`/`cuMemFree` synchronize
/// and cost tens of microseconds). When the device runs out of memory the cache is given back and the
/// allocation retried once.
///
/// The device functions are injected, so the bucketing and reuse logic is testable without a GPU.
/// Reuse is safe because the backend issues all work to one stream: a block freed on the host while a
/// kernel still reads it can only be reused by work queued after that kernel.
public final class CachingDeviceAllocator: @unchecked Sendable {
    public typealias Malloc = @Sendable (Int) throws -> CUdeviceptr
    public typealias Free = @Sendable (CUdeviceptr) -> Void

    public let device: Device
    private let malloc: Malloc
    private let free: Free
    private let beforeRelease: @Sendable () -> Void

    private struct State {
        var freeLists: [Int: [CUdeviceptr]] = [:]
        var statistics = DeviceAllocatorStatistics()
    }
    private let state = Mutex(State())

    /// - Parameters:
    ///   - malloc: allocates `bytes` of device memory (the backend's wraps `cuMemAlloc_v2`).
    ///   - free: gives a block back to the device (`cuMemFree_v2`).
    ///   - beforeRelease: runs once before cached blocks are freed (the backend synchronizes the device).
    public init(device: Device, malloc: @escaping Malloc, free: @escaping Free, beforeRelease: @escaping @Sendable () -> Void = {}) {
        self.device = device
        self.malloc = malloc
        self.free = free
        self.beforeRelease = beforeRelease
    }

    /// Requests up to this size are rounded up to a multiple of ``smallGranule``.
    public static let smallLimit = 1 << 20
    public static let smallGranule = 512

    /// The bucket a request of `bytes` is served from: a multiple of 512 bytes up to 1 MiB; above, a
    /// multiple of one eighth of the largest power of two not above the request (at most 12.5 % waste,
    /// and few distinct buckets for large activations). Zero-byte requests get the smallest bucket.
    public static func bucketSize(for bytes: Int) -> Int {
        let n = max(bytes, 1)
        if n <= smallLimit { return roundUp(n, to: smallGranule) }
        let log2 = Int.bitWidth - 1 - n.leadingZeroBitCount
        return roundUp(n, to: 1 << (log2 - 3))
    }

    private static func roundUp(_ n: Int, to granule: Int) -> Int {
        let (q, r) = n.quotientAndRemainder(dividingBy: granule)
        return (r == 0 ? q : q + 1) * granule
    }

    /// A block of at least `bytes` bytes; it returns to the cache when the last reference goes away.
    public func allocate(_ bytes: Int) throws -> DeviceBlock {
        guard bytes >= 0 else { throw ResNeXtError.invalidArgument("cannot allocate \(bytes) bytes of device memory") }
        let size = Self.bucketSize(for: bytes)
        let cached: CUdeviceptr? = state.withLock { s in
            guard let address = s.freeLists[size]?.popLast() else { return nil }
            if s.freeLists[size]?.isEmpty == true { s.freeLists[size] = nil }
            s.statistics.cachedBlocks -= 1
            s.statistics.cachedBytes -= size
            s.statistics.cacheHits += 1
            s.statistics.liveBlocks += 1
            s.statistics.liveBytes += bytes
            s.statistics.peakLiveBytes = max(s.statistics.peakLiveBytes, s.statistics.liveBytes)
            return address
        }
        if let cached { return DeviceBlock(address: cached, size: size, requested: bytes, allocator: self) }
        let address: CUdeviceptr
        do {
            address = try malloc(size)
        } catch {
            // Most likely out of memory: give every cached block back and try once more.
            guard releaseCached() > 0 else { throw error }
            address = try malloc(size)
        }
        state.withLock { s in
            s.statistics.deviceAllocations += 1
            s.statistics.reservedBytes += size
            s.statistics.peakReservedBytes = max(s.statistics.peakReservedBytes, s.statistics.reservedBytes)
            s.statistics.liveBlocks += 1
            s.statistics.liveBytes += bytes
            s.statistics.peakLiveBytes = max(s.statistics.peakLiveBytes, s.statistics.liveBytes)
        }
        return DeviceBlock(address: address, size: size, requested: bytes, allocator: self)
    }

    fileprivate func recycle(address: CUdeviceptr, size: Int, requested: Int) {
        state.withLock { s in
            s.freeLists[size, default: []].append(address)
            s.statistics.liveBlocks -= 1
            s.statistics.liveBytes -= requested
            s.statistics.cachedBlocks += 1
            s.statistics.cachedBytes += size
        }
    }

    /// Gives every cached block back to the device; returns how many were freed.
    @discardableResult
    public func releaseCached() -> Int {
        let blocks: [CUdeviceptr] = state.withLock { s in
            let all = s.freeLists.values.flatMap { $0 }
            s.freeLists.removeAll()
            s.statistics.reservedBytes -= s.statistics.cachedBytes
            s.statistics.deviceFrees += all.count
            s.statistics.cachedBlocks = 0
            s.statistics.cachedBytes = 0
            return all
        }
        guard !blocks.isEmpty else { return 0 }
        beforeRelease()
        for address in blocks { free(address) }
        return blocks.count
    }

    public var statistics: DeviceAllocatorStatistics { state.withLock { $0.statistics } }

    /// Starts new peaks at the current live and reserved bytes.
    public func resetPeaks() {
        state.withLock { s in
            s.statistics.peakLiveBytes = s.statistics.liveBytes
            s.statistics.peakReservedBytes = s.statistics.reservedBytes
        }
    }

    /// Sizes of the cached blocks, per bucket (for tests).
    public var cachedBucketCounts: [Int: Int] { state.withLock { $0.freeLists.mapValues(\.count) } }

    deinit {
        // Every block holds this allocator, so only cached blocks remain here.
        releaseCached()
    }
}

/// Device memory from a ``CachingDeviceAllocator``; goes back to its cache when released.
public final class DeviceBlock: @unchecked Sendable {
    public let address: CUdeviceptr
    /// The bucket size actually reserved (≥ ``requested``).
    public let size: Int
    public let requested: Int
    public let allocator: CachingDeviceAllocator

    fileprivate init(address: CUdeviceptr, size: Int, requested: Int, allocator: CachingDeviceAllocator) {
        self.address = address
        self.size = size
        self.requested = requested
        self.allocator = allocator
    }

    deinit {
        allocator.recycle(address: address, size: size, requested: requested)
    }
}

/// Where a max-pooling index tensor came from, so that its backward pass can check it gets matching indices.
public struct MaxPoolIndexRecord: Sendable, Hashable {
    public let inputShape: Shape
    public let parameters: Pool2DParameters
    public init(inputShape: Shape, parameters: Pool2DParameters) {
        self.inputShape = inputShape
        self.parameters = parameters
    }
}

/// CUDA tensor storage: a device block holding the elements in plain row-major (NCHW) order. Reshapes
/// share the storage; the shape lives in the ``Tensor``.
public final class CUDAStorage: TensorStorage, @unchecked Sendable {
    public let block: DeviceBlock
    /// Set on max-pooling index tensors.
    public let maxPoolRecord: MaxPoolIndexRecord?

    public init(block: DeviceBlock, maxPoolRecord: MaxPoolIndexRecord? = nil) {
        self.block = block
        self.maxPoolRecord = maxPoolRecord
    }

    public var device: Device { block.allocator.device }
    public var address: CUdeviceptr { block.address }
    /// The block as the `void *` the cuDNN and cuBLAS APIs take.
    var pointer: UnsafeMutableRawPointer? { devicePointer(block.address) }
    var floats: UnsafeMutablePointer<Float>? { pointer?.assumingMemoryBound(to: Float.self) }
}
