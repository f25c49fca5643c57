import ResNeXtCUDA
import ResNeXtCore
import ResNeXtNN
import XCTest

/// The host side of a CUDA training step on the fake CUDA libraries, whose counters show what the
/// backend asks of the driver: in steady state no pageable upload (everything through pinned staging
/// buffers, never overwritten while a copy from them may be in flight), no cuDNN descriptor created, no
/// module loaded or function looked up, and one SGD launch for all parameters.
final class HostSideTests: XCTestCase {
    override func setUpWithError() throws { try FakeCUDA.reset() }
    override func tearDownWithError() throws { try FakeCUDA.reset() }

    /// A small residual network with every kind of layer a ResNeXt has.
    func network(_ gpu: CUDABackend) throws -> Sequential {
        var rng = RandomGenerator(seed: 2)
        let branch = Sequential([
            try Conv2d(gpu, inChannels: 8, outChannels: 8, kernelSize: 3, padding: 1, groups: 4, rng: &rng),
            try BatchNorm2d(gpu, channels: 8)
        ])
        return Sequential([
            try Conv2d(gpu, inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, rng: &rng), try BatchNorm2d(gpu, channels: 8),
            ReLU(gpu), MaxPool2d(gpu, kernelSize: 2, stride: 2), Residual(gpu, branch: branch, afterAdd: [("relu", ReLU(gpu))]),
            AvgPool2d(global: gpu), Flatten(gpu), try Linear(gpu, inFeatures: 8, outFeatures: 5, rng: &rng)
        ])
    }

    func testATrainingStepInSteadyStateOnlyQueuesDeviceWork() throws {
        let gpu = try CUDABackend(device: 0, allowTF32: false, libraries: try FakeCUDA.libraries())
        let model = try network(gpu)
        let step = TrainingStep(model: model, optimizer: try SGD(gpu, parameters: model.namedParameters()), ks: [1])
        var rng = RandomGenerator(seed: 3)
        let batch = HostBatch(
            values: (0..<(4 * 3 * 8 * 8)).map { _ in Float(rng.normal()) }, shape: [4, 3, 8, 8], labels: [0, 1, 2, 4])
        _ = try step(batch, learningRate: 0.1)
        let counters = [
            "cuMemcpyHtoD_v2", "cudnn descriptors created", "cuModuleLoadData:cubin", "cuModuleGetFunction", "cuMemHostAlloc",
            "launch sgd_step_all", "launch sgd_step", "cuMemcpyHtoDAsync_v2"
        ]
        let warm = try counters.map { try FakeCUDA.counter($0) }
        let descriptors = gpu.cachedDescriptorCounts
        var losses = [Float]()
        for _ in 0..<3 { losses.append(try step(batch, learningRate: 0.1).loss) }
        let after = try counters.map { try FakeCUDA.counter($0) }
        let growth = Dictionary(uniqueKeysWithValues: zip(counters, zip(after, warm).map { $0 - $1 }))

        XCTAssertEqual(after[0], 0, "no pageable upload, ever")
        XCTAssertEqual(growth["cudnn descriptors created"], 0, "descriptors are kept per geometry")
        XCTAssertEqual(gpu.cachedDescriptorCounts.convolutions, descriptors.convolutions)
        XCTAssertEqual(descriptors.convolutions, 2)
        XCTAssertEqual(descriptors.batchNorms, 2, "[4, 8, 8, 8] and [4, 8, 4, 4]")
        XCTAssertEqual(growth["cuModuleLoadData:cubin"], 0, "modules are built once")
        XCTAssertEqual(growth["cuModuleGetFunction"], 0, "functions are resolved once")
        XCTAssertEqual(growth["cuMemHostAlloc"], 0, "the staging buffers are reused")
        XCTAssertEqual(after[4], 1, "one pinned buffer: every upload here is small")
        XCTAssertEqual(growth["launch sgd_step_all"], 3, "one SGD launch per step")
        XCTAssertEqual(after[6], 0, "no per-tensor SGD launch")
        XCTAssertEqual(growth["cuMemcpyHtoDAsync_v2"], 3 * 4, "per step: the batch, labels twice, the SGD table")
        XCTAssertEqual(try FakeCUDA.counter("pageable async upload"), 0)
        XCTAssertEqual(try FakeCUDA.counter("staging overwritten in flight"), 0)
        XCTAssertGreaterThan(try FakeCUDA.counter("cuEventSynchronize"), 0, "a staging buffer is reused only after its copy")
        XCTAssertLessThan(losses[2], losses[0], "it learns: \(losses)")
    }

    /// A batch above the small buffer's size goes through the large one; both buffers are reused.
    func testLargeUploadsUseTheirOwnPinnedBuffer() throws {
        let gpu = try CUDABackend(device: 0, allowTF32: false, libraries: try FakeCUDA.libraries())
        let big = [Float](repeating: 1.5, count: 300_000), small: [Float] = [1, 2, 3]
        for _ in 0..<3 {
            let a = try gpu.upload(big, shape: [300_000]), b = try gpu.upload(small, shape: [3])
            XCTAssertEqual(try gpu.download(b), small)
            XCTAssertEqual(try gpu.download(a).last, 1.5)
        }
        XCTAssertEqual(try FakeCUDA.counter("cuMemHostAlloc"), 2)
        XCTAssertEqual(try FakeCUDA.counter("cuMemcpyHtoDAsync_v2"), 6)
        XCTAssertEqual(try FakeCUDA.counter("staging overwritten in flight"), 0)
        XCTAssertEqual(PinnedStaging.capacity(for: 10), 1 << 20)
        XCTAssertEqual(PinnedStaging.capacity(for: (1 << 20) + 1), 2 << 20)
        XCTAssertEqual(PinnedStaging.capacity(for: 154_140_672), 147 << 20, "a ResNeXt-50 batch of 256: one allocation")
    }

    /// The fake's check itself: a pinned source changed before an event after its copy was waited for is
    /// reported (what a real GPU could have read half-overwritten).
    func testTheFakeCatchesAPinnedSourceOverwrittenInFlight() throws {
        typealias HostAlloc = @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int, UInt32) -> Int32
        typealias CopyAsync = @convention(c) (UInt64, UnsafeRawPointer?, Int, OpaquePointer?) -> Int32
        typealias Synchronize = @convention(c) () -> Int32
        let gpu = try CUDABackend(device: 0, libraries: try FakeCUDA.libraries())
        let target = try gpu.zeros([4])
        let address = try XCTUnwrap(target.storage as? CUDAStorage).address
        var pinned: UnsafeMutableRawPointer?
        XCTAssertEqual(try FakeCUDA.hook("cuMemHostAlloc", as: HostAlloc.self)(&pinned, 16, 0), 0)
        let copy = try FakeCUDA.hook("cuMemcpyHtoDAsync_v2", as: CopyAsync.self)
        XCTAssertEqual(copy(address, pinned, 16, nil), 0)
        pinned?.storeBytes(of: 7, as: Float.self)
        XCTAssertEqual(copy(address, pinned, 16, nil), 0)
        XCTAssertEqual(try FakeCUDA.counter("staging overwritten in flight"), 1)
        XCTAssertEqual(try FakeCUDA.hook("cuCtxSynchronize", as: Synchronize.self)(), 0)
        var local: Float = 0
        XCTAssertEqual(copy(address, &local, 4, nil), 1, "pageable memory is refused")
        XCTAssertEqual(try FakeCUDA.counter("pageable async upload"), 1)
    }

    /// The all-parameter SGD table: offsets of each tensor in the concatenation, then the addresses.
    func testSGDTableLayout() {
        let table = SGDTable([(0x100, 0x200, 0x300), (0x400, 0x500, 0x600), (0x700, 0x800, 0x900)], counts: [6, 0, 5])
        XCTAssertEqual(table.words, [0, 6, 6, 11, 0x100, 0x400, 0x700, 0x200, 0x500, 0x800, 0x300, 0x600, 0x900])
        XCTAssertEqual(table.elements, 11)
        XCTAssertEqual([table.parametersOffset, table.gradientsOffset, table.velocitiesOffset], [32, 56, 80])
    }

    /// The element-wise kernels run on float4 groups when aligned (and one by one otherwise), with a
    /// quarter of the threads.
    func testElementwiseKernelsAreVectorized() throws {
        for kernel in [Kernel.reluForward, .reluBackward, .addTensors] {
            XCTAssertEqual(kernel.definition.style, .gridStrideVector4)
            XCTAssertTrue(kernel.definition.body.contains("resnext_float4"), kernel.name)
        }
        XCTAssertEqual(LaunchConfiguration.forKernel(.reluForward, count: 1024), LaunchConfiguration(gridX: 1, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.forKernel(.reluForward, count: 1025), LaunchConfiguration(gridX: 2, blockX: 256))
        XCTAssertNil(LaunchConfiguration.forKernel(.addTensors, count: 0))
        let gpu = try CUDABackend(device: 0, allowTF32: false, libraries: try FakeCUDA.libraries())
        let values: [Float] = (0..<1003).map { Float($0 % 7) - 3 }
        let x = try gpu.upload(values, shape: [1003])
        XCTAssertEqual(try gpu.download(try gpu.relu(x)), values.map { max($0, 0) })
        XCTAssertEqual(try gpu.download(try gpu.add(x, x)), values.map { 2 * $0 })
        XCTAssertEqual(try gpu.download(try gpu.reluBackward(x, output: x)), values.map { $0 > 0 ? $0 : 0 })
    }
}
