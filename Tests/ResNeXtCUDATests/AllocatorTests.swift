import Dispatch
import ResNeXtCUDA
import ResNeXtCore
import XCTest

final class AllocatorTests: XCTestCase {
    func testBuckets() {
        let bucket = CachingDeviceAllocator.bucketSize
        XCTAssertEqual(bucket(0), 512)
        XCTAssertEqual(bucket(1), 512)
        XCTAssertEqual(bucket(512), 512)
        XCTAssertEqual(bucket(513), 1024)
        XCTAssertEqual(bucket(1000), 1024)
        XCTAssertEqual(bucket(1 << 20), 1 << 20)
        XCTAssertEqual(bucket((1 << 20) + 1), (1 << 20) + (1 << 17), "above 1 MiB: eighths of the power of two")
        XCTAssertEqual(bucket(3 << 20), 3 << 20)
        XCTAssertEqual(bucket(100_000_000), 100_663_296)
        var previous = 0
        for bytes in stride(from: 1, to: 64 << 20, by: 4099) {
            let b = bucket(bytes)
            XCTAssertGreaterThanOrEqual(b, bytes)
            XCTAssertGreaterThanOrEqual(b, previous, "monotonic")
            XCTAssertEqual(b % 512, 0)
            if bytes > 4096 { XCTAssertLessThanOrEqual(Double(b - bytes) / Double(bytes), 0.125 + 1e-9, "\(bytes) → \(b)") }
            previous = b
        }
    }

    func testReuseWithoutDeviceAllocations() throws {
        let device = FakeDevice()
        let allocator = device.allocator()
        var first: DeviceBlock? = try allocator.allocate(1000)
        let address = first!.address
        XCTAssertEqual(first!.size, 1024)
        XCTAssertEqual(allocator.statistics.liveBlocks, 1)
        XCTAssertEqual(allocator.statistics.liveBytes, 1000)
        first = nil
        XCTAssertEqual(allocator.statistics.liveBlocks, 0)
        XCTAssertEqual(allocator.statistics.cachedBlocks, 1)
        XCTAssertEqual(allocator.statistics.cachedBytes, 1024)
        // Same bucket: the cached block comes back, no device allocation.
        let again = try allocator.allocate(600)
        XCTAssertEqual(again.address, address)
        XCTAssertEqual(device.mallocCount, 1)
        XCTAssertEqual(allocator.statistics.cacheHits, 1)
        // Another bucket: a new device allocation.
        let other = try allocator.allocate(5000)
        XCTAssertNotEqual(other.address, address)
        XCTAssertEqual(device.mallocCount, 2)
        XCTAssertEqual(allocator.statistics.reservedBytes, 1024 + 5120)

        // A "training loop": the same sizes every step allocate only in the first.
        let sizes = [4 << 20, 1 << 20, 3000, 3000, 9 << 20, 12, 0]
        for step in 0..<5 {
            let before = device.mallocCount
            let blocks = try sizes.map { try allocator.allocate($0) }
            XCTAssertEqual(Set(blocks.map(\.address)).count, blocks.count, "live blocks are distinct")
            if step > 0 { XCTAssertEqual(device.mallocCount, before, "step \(step) allocated device memory") }
        }
        XCTAssertEqual(allocator.statistics.deviceAllocations, device.mallocCount)
    }

    /// Live bytes are what tensors asked for; reserved bytes are their buckets plus the cache; both peaks
    /// restart at the current values on reset.
    func testPeaksOfLiveAndReservedBytes() throws {
        let allocator = FakeDevice().allocator()
        var a: DeviceBlock? = try allocator.allocate(1000)
        var b: DeviceBlock? = try allocator.allocate(3000)
        let peaks = { (allocator.statistics.peakLiveBytes, allocator.statistics.peakReservedBytes) }
        XCTAssertTrue(peaks() == (4000, 1024 + 3072), "\(peaks())")
        a = nil
        XCTAssertEqual(allocator.statistics.liveBytes, 3000)
        let c = try allocator.allocate(600)  // from the cache: reserved stays
        XCTAssertTrue(peaks() == (4000, 4096), "\(peaks())")
        allocator.resetPeaks()
        XCTAssertTrue(peaks() == (3600, 4096), "\(peaks())")
        b = nil
        allocator.releaseCached()
        XCTAssertTrue(peaks() == (3600, 4096), "a peak stays until reset")
        allocator.resetPeaks()
        XCTAssertTrue(peaks() == (600, 1024), "\(peaks())")
        XCTAssertTrue(allocator.statistics.description.contains("1 live blocks (600 bytes, peak 600)"), allocator.statistics.description)
        XCTAssertNil(a)
        XCTAssertNil(b)
        _ = c
    }

    func testReleaseCachedFreesOnlyCachedBlocksAfterOneSynchronization() throws {
        let device = FakeDevice()
        let allocator = device.allocator()
        let kept = try allocator.allocate(100)
        do {
            _ = try allocator.allocate(2000)
            _ = try allocator.allocate(3 << 20)
        }
        XCTAssertEqual(allocator.statistics.cachedBlocks, 2)
        XCTAssertEqual(allocator.releaseCached(), 2)
        XCTAssertEqual(device.freeCount, 2)
        XCTAssertEqual(device.syncCount, 1)
        XCTAssertEqual(device.liveCount, 1)
        XCTAssertEqual(allocator.statistics.cachedBlocks, 0)
        XCTAssertEqual(allocator.statistics.reservedBytes, 512)
        XCTAssertEqual(allocator.statistics.deviceFrees, 2)
        XCTAssertEqual(allocator.releaseCached(), 0)
        XCTAssertEqual(device.syncCount, 1, "nothing to free: no synchronization")
        _ = kept
    }

    func testOutOfMemoryReleasesTheCacheAndRetries() throws {
        let device = FakeDevice()
        let allocator = device.allocator()
        device.setCapacity(4 << 20)
        do { _ = try allocator.allocate(3 << 20) }  // now cached
        XCTAssertEqual(allocator.statistics.cachedBytes, 3 << 20)
        let big = try allocator.allocate(2 << 20)  // does not fit beside the cache: freed and retried
        XCTAssertEqual(big.size, 2 << 20)
        XCTAssertEqual(device.freeCount, 1)
        XCTAssertEqual(allocator.statistics.cachedBlocks, 0)
        assertThrows(["CUDA_ERROR_OUT_OF_MEMORY"]) { try allocator.allocate(3 << 20) }
        assertThrows(["cannot allocate -1 bytes"]) { try allocator.allocate(-1) }
    }

    func testAllocatorDeinitFreesTheCache() throws {
        let device = FakeDevice()
        do {
            let allocator = device.allocator()
            _ = try allocator.allocate(10)
            _ = try allocator.allocate(10 << 20)
        }
        XCTAssertEqual(device.liveCount, 0)
        XCTAssertEqual(device.freeCount, 2)
    }

    func testBlocksKeepTheAllocatorAlive() throws {
        let device = FakeDevice()
        var block: DeviceBlock?
        do { block = try device.allocator().allocate(64) }
        XCTAssertEqual(device.freeCount, 0)
        XCTAssertEqual(block?.allocator.statistics.liveBlocks, 1)
        block = nil
        XCTAssertEqual(device.freeCount, 1, "the last block returned to the cache, then the allocator freed it")
    }

    func testConcurrentUse() throws {
        let device = FakeDevice()
        let allocator = device.allocator()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            for j in 0..<200 {
                let blocks = (0..<4).compactMap { k in try? allocator.allocate(((i + j + k) % 5 + 1) * 1000) }
                XCTAssertEqual(blocks.count, 4)
            }
        }
        let s = allocator.statistics
        XCTAssertEqual(s.liveBlocks, 0)
        XCTAssertEqual(s.liveBytes, 0)
        XCTAssertEqual(s.cachedBlocks, device.mallocCount)
        XCTAssertLessThanOrEqual(device.mallocCount, 8 * 4, "blocks are reused across threads")
    }

    func testStorageOnAnAllocator() throws {
        let allocator = FakeDevice().allocator(device: .cuda(2))
        let t = try fakeTensor(allocator, [2, 3, 4])
        XCTAssertEqual(t.device, .cuda(2))
        XCTAssertEqual((t.storage as? CUDAStorage)?.block.requested, 96)
        XCTAssertTrue(allocator.statistics.description.contains("1 live blocks (96 bytes, peak 96)"), allocator.statistics.description)
    }
}
