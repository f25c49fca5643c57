import ResNeXtCPU
import ResNeXtCore
import XCTest

/// A storage that claims to live on a GPU, to check device validation without one.
final class FakeCUDAStorage: TensorStorage, @unchecked Sendable {
    var device: Device { .cuda(0) }
}

final class TensorAndErrorTests: XCTestCase {
    func testUploadDownloadRoundTripAndZeros() throws {
        let values: [Float] = (0..<24).map { Float($0) - 3.5 }
        XCTAssertEqual(try cpu.download(try cpu.upload(values, shape: [2, 3, 4])), values)
        XCTAssertEqual(try cpu.download(try cpu.zeros([5])), [0, 0, 0, 0, 0])
        XCTAssertEqual(try cpu.download(try cpu.full([2], value: 7)), [7, 7])
    }

    func testBadShapesThrow() {
        assertThrows("negative size -2") { try cpu.zeros([3, -2]) }
        assertThrows("3 values do not fill shape [2, 2]") { try cpu.upload([1, 2, 3], shape: [2, 2]) }
        assertThrows("ReLU output gradient has shape [2]") { try cpu.reluBackward(try cpu.zeros([2]), output: try cpu.zeros([3])) }
        assertThrows("second addend has shape [2, 3]") { try cpu.add(try cpu.zeros([3, 2]), try cpu.zeros([2, 3])) }
        assertThrows("pooling window 5x5 does not fit") { try cpu.maxPool2D(try cpu.zeros([1, 1, 3, 3]), .init(kernel: 5, stride: 1)) }
    }

    func testTensorOnAnotherDeviceIsRejected() {
        let gpuTensor = Tensor(shape: [2, 2], storage: FakeCUDAStorage())
        assertThrows("ReLU input is on cuda:0, but this backend computes on cpu") { try cpu.relu(gpuTensor) }
        assertThrows("is on cuda:0") { try cpu.download(gpuTensor) }
    }

    /// Every allocation made by a forward and backward pass is returned when the tensors go away.
    func testAllocationsAreReturned() throws {
        let backend = try CPUBackend()
        XCTAssertEqual(backend.liveAllocations.count, 0)
        try autoreleasepoolFree {
            let x = try backend.full([2, 16, 8, 8], value: 0.5)
            let w = try backend.full([16, 1, 3, 3], value: 0.1)
            let y = try backend.relu(try backend.convolution2D(x, weight: w, bias: nil, .init(padding: 1, groups: 16)))
            let pooled = try backend.maxPool2D(y, .init(kernel: 3, stride: 2, padding: 1))
            let dx = try backend.maxPool2DBackward(
                try backend.full(pooled.output.shape, value: 1), forward: pooled, inputShape: y.shape,
                .init(kernel: 3, stride: 2, padding: 1))
            XCTAssertGreaterThan(backend.liveAllocations.count, 5)
            XCTAssertGreaterThan(try backend.download(dx).reduce(0, +), 0)
        }
        XCTAssertEqual(backend.liveAllocations.count, 0)
        XCTAssertEqual(backend.liveAllocations.bytes, 0)
        XCTAssertGreaterThan(backend.cachedPrimitiveCount, 3)
    }

    /// The live tensor bytes and their high-water mark, exactly, over a known sequence of allocations.
    func testMemoryStatisticsCountTensorBytesAndTheirPeak() throws {
        let backend = try CPUBackend()
        let stats = { (backend.memoryStatistics.allocatedBytes, backend.memoryStatistics.peakAllocatedBytes) }
        XCTAssertTrue(stats() == (0, 0))
        var a: Tensor? = try backend.upload([Float](repeating: 1, count: 100), shape: [100])
        let b = try backend.zeros([5, 10])
        XCTAssertTrue(stats() == (600, 600), "\(stats())")
        a = nil
        XCTAssertTrue(stats() == (200, 600), "\(stats())")
        backend.resetPeakMemory()
        XCTAssertTrue(stats() == (200, 200), "\(stats())")
        do {
            let c = try backend.full([3], value: 2)
            XCTAssertTrue(stats() == (212, 212), "\(stats())")
            _ = c
        }
        XCTAssertTrue(stats() == (200, 212), "\(stats())")
        XCTAssertEqual(backend.memoryStatistics.reservedBytes, 200, "no cache: reserved is allocated")
        XCTAssertEqual(backend.memoryStatistics.peakReservedBytes, 212)
        XCTAssertNil(a)
        _ = b
    }

    /// Runs `body` in its own scope so that its tensors are released on return.
    private func autoreleasepoolFree(_ body: () throws -> Void) rethrows { try body() }
}
