import ResNeXtCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Pinned (page-locked) host buffers that uploads pass through: the host copies into one and queues an
/// asynchronous copy on the stream, so an upload neither waits for the device nor takes the driver's slow
/// staged path for pageable memory. An event recorded after each copy guards the buffer's reuse. Two
/// buffers, so that small uploads (labels, parameter tables) never wait for a large one (a batch) in flight.
public final class PinnedStaging: @unchecked Sendable {
    /// Uploads up to this size use the small buffer.
    public static let smallLimit = 1 << 20

    /// A pinned buffer and its event (raw pointers: only touched under the lock).
    private struct Buffer: @unchecked Sendable {
        var pointer: UnsafeMutableRawPointer?
        var capacity = 0
        var event: OpaquePointer?
        /// A copy from this buffer was queued and its event not yet waited for.
        var inFlight = false
    }

    private let driver: DriverAPI
    private let context: CUDAContext
    private let buffers = Mutex([Buffer(), Buffer()])

    init(driver: DriverAPI, context: CUDAContext) {
        self.driver = driver
        self.context = context
    }

    /// Queues a copy of `source` to `address` on the stream (the caller has made the context current).
    func upload(_ source: UnsafeRawBufferPointer, to address: CUdeviceptr, _ what: @autoclosure () -> String) throws {
        let count = source.count
        guard count > 0, let base = source.baseAddress else { return }
        let index = count <= Self.smallLimit ? 0 : 1
        try buffers.withLock { buffers in
            var b = buffers[index]
            defer { buffers[index] = b }
            if b.inFlight {
                try driver.check(driver.cuEventSynchronize(b.event), "cuEventSynchronize(staging buffer, before \(what()))")
                b.inFlight = false
            }
            if b.event == nil {
                try driver.check(driver.cuEventCreate(&b.event, Self.disableTiming), "cuEventCreate(staging buffer)")
            }
            if b.capacity < count {
                if let old = b.pointer { _ = driver.cuMemFreeHost(old) }
                (b.pointer, b.capacity) = (nil, 0)
                let capacity = Self.capacity(for: count)
                try driver.check(
                    driver.cuMemHostAlloc(&b.pointer, capacity, 0), "cuMemHostAlloc(\(capacity) bytes of pinned staging memory)")
                b.capacity = capacity
            }
            guard let pinned = b.pointer else { throw ResNeXtError.backend("cuMemHostAlloc returned no memory") }
            memcpy(pinned, base, count)
            try driver.check(driver.cuMemcpyHtoDAsync(address, pinned, count, nil), "cuMemcpyHtoDAsync_v2(\(what()), \(count) bytes)")
            try driver.check(driver.cuEventRecord(b.event, nil), "cuEventRecord(staging buffer)")
            b.inFlight = true
        }
    }

    /// `CU_EVENT_DISABLE_TIMING`: the event only orders, which makes it cheaper.
    static let disableTiming: UInt32 = 2

    /// The small buffer's size, or `count` rounded up to whole MiB (a batch has one size: one allocation).
    public static func capacity(for count: Int) -> Int {
        count <= smallLimit ? smallLimit : (count + smallLimit - 1) / smallLimit * smallLimit
    }

    deinit {
        _ = try? context.makeCurrent()
        buffers.withLock { buffers in
            for b in buffers {
                if let event = b.event {
                    _ = driver.cuEventSynchronize(event)
                    _ = driver.cuEventDestroy(event)
                }
                if let pointer = b.pointer { _ = driver.cuMemFreeHost(pointer) }
            }
        }
    }
}
