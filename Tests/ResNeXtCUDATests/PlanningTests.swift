import ResNeXtCUDA
import ResNeXtCore
import XCTest

final class NVRTCOptionsTests: XCTestCase {
    func testOptionsForTheDevicesArchitecture() throws {
        XCTAssertEqual(try NVRTCOptions.options(major: 9, minor: 0), ["--gpu-architecture=compute_90", "--std=c++17", "--fmad=true"])
        XCTAssertEqual(try NVRTCOptions.options(major: 8, minor: 6).first, "--gpu-architecture=compute_86")
        XCTAssertEqual(try NVRTCOptions.options(major: 10, minor: 0, supported: [75, 80, 90, 100]).first, "--gpu-architecture=compute_100")
        XCTAssertFalse(try NVRTCOptions.options(major: 9, minor: 0).contains { $0.contains("fast_math") }, "no fast math")
    }

    func testNewerDeviceThanNVRTCFallsBackToNewestSupportedPTX() throws {
        XCTAssertEqual(try NVRTCOptions.architecture(major: 12, minor: 0, supported: [75, 80, 86, 89, 90]), 90)
        XCTAssertEqual(try NVRTCOptions.architecture(major: 8, minor: 7, supported: [75, 80, 86, 90]), 86)
        XCTAssertEqual(try NVRTCOptions.architecture(major: 9, minor: 0, supported: nil), 90)
        XCTAssertEqual(try NVRTCOptions.architecture(major: 9, minor: 0, supported: []), 90)
    }

    /// CUBIN for the device's own architecture when NVRTC can emit it and knows the architecture; PTX after it.
    func testTargetsAreCUBINThenPTX() throws {
        let all = [75, 80, 86, 89, 90]
        XCTAssertEqual(try NVRTCOptions.targets(major: 9, minor: 0, supported: all, emitsCUBIN: true), [.cubin(90), .ptx(90)])
        XCTAssertEqual(try NVRTCOptions.targets(major: 9, minor: 0, supported: nil, emitsCUBIN: true), [.cubin(90), .ptx(90)])
        XCTAssertEqual(try NVRTCOptions.targets(major: 9, minor: 0, supported: all, emitsCUBIN: false), [.ptx(90)])
        XCTAssertEqual(try NVRTCOptions.targets(major: 12, minor: 0, supported: all, emitsCUBIN: true), [.ptx(90)], "unknown to NVRTC")
        XCTAssertEqual(KernelTarget.cubin(90).options, ["--gpu-architecture=sm_90", "--std=c++17", "--fmad=true"])
        XCTAssertEqual(KernelTarget.ptx(86).options.first, "--gpu-architecture=compute_86")
        XCTAssertEqual("\(KernelTarget.cubin(90)), \(KernelTarget.ptx(80))", "sm_90 CUBIN, compute_80 PTX")
    }

    func testOlderDeviceThanNVRTCSupportsIsAClearError() {
        assertThrows(["compute capability 6.1", "compute_75, compute_80", "RESNEXT_LIBNVRTC"]) {
            try NVRTCOptions.architecture(major: 6, minor: 1, supported: [80, 75, 90])
        }
        assertThrows(["compute capability 0.0 is not valid"]) { try NVRTCOptions.options(major: 0, minor: 0) }
    }
}

final class LaunchConfigurationTests: XCTestCase {
    func testGridStrideSizes() {
        XCTAssertNil(LaunchConfiguration.gridStride(count: 0))
        XCTAssertNil(LaunchConfiguration.gridStride(count: -3))
        XCTAssertEqual(LaunchConfiguration.gridStride(count: 1), LaunchConfiguration(gridX: 1, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.gridStride(count: 255), LaunchConfiguration(gridX: 1, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.gridStride(count: 256), LaunchConfiguration(gridX: 1, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.gridStride(count: 257), LaunchConfiguration(gridX: 2, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.gridStride(count: 8192 * 256), LaunchConfiguration(gridX: 8192, blockX: 256))
        // Beyond the cap the grid-stride loop covers the rest; 2^31-ish sizes neither overflow nor exceed the cap.
        XCTAssertEqual(LaunchConfiguration.gridStride(count: Int(Int32.max)), LaunchConfiguration(gridX: 8192, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.gridStride(count: 1 << 31 + 5), LaunchConfiguration(gridX: 8192, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.gridStride(count: Int.max, maxBlocks: 4224)?.gridX, 4224)
        XCTAssertEqual(LaunchConfiguration.gridStride(count: (1 << 31) + 5, maxBlocks: Int(UInt32.max))?.gridX, (1 << 23) + 1)
        XCTAssertEqual(LaunchConfiguration.gridStride(count: 1000, maxBlocks: 0)?.gridX, 1, "at least one block")
    }

    func testBlockPerItemSizes() {
        XCTAssertNil(LaunchConfiguration.blockPerItem(count: 0))
        XCTAssertEqual(LaunchConfiguration.blockPerItem(count: 1), LaunchConfiguration(gridX: 1, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.blockPerItem(count: 1000), LaunchConfiguration(gridX: 1000, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.blockPerItem(count: 1 << 20), LaunchConfiguration(gridX: 65_535, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.forKernel(.channelSum, count: 7), LaunchConfiguration(gridX: 7, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.forKernel(.addChannelBias, count: 1000), LaunchConfiguration(gridX: 4, blockX: 256))
        XCTAssertEqual(LaunchConfiguration.forKernel(.reluForward, count: 1000), LaunchConfiguration(gridX: 1, blockX: 256), "float4")
        XCTAssertEqual(LaunchConfiguration.forKernel(.reluForward, count: 1 << 30, maxBlocks: 100)?.gridX, 100)
        XCTAssertEqual(LaunchConfiguration(gridX: 3, blockX: 256).description, "<<<3, 256>>>")
    }

    func testKernelArgumentSlotsHoldTheValueInTheirLowBytes() {
        XCTAssertEqual(KernelArgument.int32(-1).slot, 0x0000_0000_FFFF_FFFF)
        XCTAssertEqual(KernelArgument.int64(-1).slot, UInt64.max)
        XCTAssertEqual(KernelArgument.float32(1).slot, UInt64(Float(1).bitPattern))
        XCTAssertEqual(KernelArgument.float64(-2.5).slot, (-2.5).bitPattern)
        XCTAssertEqual(KernelArgument.pointer(0xDEAD_BEEF_0000).slot, 0xDEAD_BEEF_0000)
        XCTAssertEqual(KernelArgument.count(5), .int64(5))
        XCTAssertEqual(KernelArgument.int(7), .int32(7))
        XCTAssertEqual(
            [KernelArgument.pointer(1), .int64(1), .int32(1), .float32(1), .float64(1)].map(\.kind),
            [.pointer, .int64, .int32, .float32, .float64])
        XCTAssertEqual(KernelParameterKind.int32.byteSize, 4)
        XCTAssertEqual(KernelParameterKind.pointer.byteSize, 8)
    }
}

final class ConvolutionPlanningTests: XCTestCase {
    func testFilterDescriptorTakesThePerGroupInputChannels() throws {
        let g = try ConvolutionGeometry(
            input: [2, 128, 9, 9], weight: [256, 4, 3, 3], Convolution2DParameters(stride: 2, padding: 1, groups: 32))
        XCTAssertEqual(g.input, [2, 128, 9, 9])
        XCTAssertEqual(g.filter, [256, 4, 3, 3])
        XCTAssertEqual(g.output, [2, 256, 5, 5])
        XCTAssertEqual(g.padding, [1, 1])
        XCTAssertEqual(g.stride, [2, 2])
        XCTAssertEqual(g.dilation, [1, 1])
        XCTAssertEqual(g.groups, 32)
        XCTAssertEqual(g.outputShape, [2, 256, 5, 5])
        let depthwise = try ConvolutionGeometry(
            input: [1, 16, 11, 11], weight: [16, 1, 3, 3], Convolution2DParameters(padding: 1, groups: 16))
        XCTAssertEqual(depthwise.filter, [16, 1, 3, 3])
        XCTAssertEqual(depthwise.output, [1, 16, 11, 11])
        let asymmetric = try ConvolutionGeometry(
            input: [1, 3, 17, 10], weight: [8, 3, 7, 7],
            Convolution2DParameters(strideH: 2, strideW: 1, padH: 3, padW: 2, groups: 1))
        XCTAssertEqual(asymmetric.output, [1, 8, 9, 8])
        XCTAssertEqual(asymmetric.stride, [2, 1])
        XCTAssertEqual(asymmetric.padding, [3, 2])
        XCTAssertTrue(g.description.contains("groups=32"), g.description)
    }

    func testGeometryRejectsWhatTheCPUBackendRejectsWithTheSameMessage() throws {
        let cases: [(Shape, Shape, Convolution2DParameters)] = [
            ([2, 6, 8, 8], [4, 2, 3, 3], Convolution2DParameters(groups: 4)),  // groups do not divide channels
            ([2, 8, 8, 8], [6, 2, 3, 3], Convolution2DParameters(groups: 4)),  // groups do not divide outputs
            ([2, 8, 8, 8], [8, 4, 3, 3], Convolution2DParameters(groups: 4)),  // wrong per-group channels
            ([2, 8, 2, 2], [8, 8, 5, 5], Convolution2DParameters()),  // kernel larger than input
            ([2, 8, 8, 8], [8, 8, 3, 3], Convolution2DParameters(stride: 0)),
            ([2, 8, 8, 8], [8, 8, 3, 3], Convolution2DParameters(padding: -1)),
            ([2, 8, 8, 8], [8, 8, 3, 3], Convolution2DParameters(groups: 0)),
            ([2, 8, 8], [8, 8, 3, 3], Convolution2DParameters())
        ]
        for (input, weight, p) in cases {
            let cpuError = captureError { try cpu.convolution2D(try cpu.zeros(input), weight: try cpu.zeros(weight), bias: nil, p) }
            let cudaError = captureError { try ConvolutionGeometry(input: input, weight: weight, p) }
            XCTAssertNotNil(cudaError, "\(input) \(weight) \(p)")
            XCTAssertEqual(cudaError, cpuError, "\(input) \(weight) \(p)")
        }
    }

    func testBatchNormDescriptorDims() throws {
        XCTAssertEqual(try BatchNormGeometry.dims([8, 16]), [8, 16, 1, 1])
        XCTAssertEqual(try BatchNormGeometry.dims([4, 8, 5, 6]), [4, 8, 5, 6])
        XCTAssertEqual(BatchNormGeometry.valuesPerChannel([4, 8, 5, 6]), 120)
        XCTAssertEqual(BatchNormGeometry.valuesPerChannel([8, 16]), 8)
        XCTAssertEqual(BatchNormGeometry.valuesPerChannel([1, 4, 1, 1]), 1)
        assertThrows(["exceeds cuDNN's 32-bit"]) { try BatchNormGeometry.dims([1, 1, 1 << 32, 1]) }
    }

    func testAlgorithmCacheKeys() throws {
        let g = try ConvolutionGeometry(input: [2, 8, 9, 9], weight: [16, 8, 3, 3], Convolution2DParameters(padding: 1))
        let same = try ConvolutionGeometry(input: [2, 8, 9, 9], weight: [16, 8, 3, 3], Convolution2DParameters(padding: 1))
        let grouped = try ConvolutionGeometry(input: [2, 8, 9, 9], weight: [16, 4, 3, 3], Convolution2DParameters(padding: 1, groups: 2))
        let strided = try ConvolutionGeometry(input: [2, 8, 9, 9], weight: [16, 8, 3, 3], Convolution2DParameters(stride: 2, padding: 1))
        let batch = try ConvolutionGeometry(input: [3, 8, 9, 9], weight: [16, 8, 3, 3], Convolution2DParameters(padding: 1))
        let key = ConvolutionAlgorithmKey(geometry: g, direction: .forward, allowTF32: true, search: .fastest)
        XCTAssertEqual(key, ConvolutionAlgorithmKey(geometry: same, direction: .forward, allowTF32: true, search: .fastest))
        let variants = [
            ConvolutionAlgorithmKey(geometry: grouped, direction: .forward, allowTF32: true, search: .fastest),
            ConvolutionAlgorithmKey(geometry: strided, direction: .forward, allowTF32: true, search: .fastest),
            ConvolutionAlgorithmKey(geometry: batch, direction: .forward, allowTF32: true, search: .fastest),
            ConvolutionAlgorithmKey(geometry: g, direction: .backwardData, allowTF32: true, search: .fastest),
            ConvolutionAlgorithmKey(geometry: g, direction: .backwardFilter, allowTF32: true, search: .fastest),
            ConvolutionAlgorithmKey(geometry: g, direction: .forward, allowTF32: false, search: .fastest),
            ConvolutionAlgorithmKey(geometry: g, direction: .forward, allowTF32: true, search: .deterministic)
        ]
        XCTAssertEqual(Set(variants + [key]).count, variants.count + 1, "every variant is its own cache entry")
        var cache = [key: 1]
        cache[ConvolutionAlgorithmKey(geometry: same, direction: .forward, allowTF32: true, search: .fastest)] = 2
        XCTAssertEqual(cache.count, 1)
        XCTAssertEqual(key.description, "forward x=[2, 8, 9, 9] w=[16, 8, 3, 3] y=[2, 16, 9, 9] stride=1x1 pad=1x1 groups=1 tf32 fastest")
    }

    func testPerformanceStructHasCuDNNsLayout() {
        // typedef struct { algo; status; float time; size_t memory; determinism; mathType; int reserved[3]; }
        XCTAssertEqual(MemoryLayout<CuDNNAlgorithmPerformance>.stride, 48)
        XCTAssertEqual(MemoryLayout<CuDNNAlgorithmPerformance>.offset(of: \.status), 4)
        XCTAssertEqual(MemoryLayout<CuDNNAlgorithmPerformance>.offset(of: \.time), 8)
        XCTAssertEqual(MemoryLayout<CuDNNAlgorithmPerformance>.offset(of: \.memory), 16)
        XCTAssertEqual(MemoryLayout<CuDNNAlgorithmPerformance>.offset(of: \.determinism), 24)
        XCTAssertEqual(MemoryLayout<CuDNNAlgorithmPerformance>.offset(of: \.mathType), 28)
        XCTAssertEqual(MemoryLayout<CuDNNAlgorithmPerformance>.offset(of: \.reserved), 32)
    }

    private func perf(
        _ algo: Int32, status: Int32 = 0, time: Float, memory: Int = 0, deterministic: Bool = true, math: Int32 = CuDNN.defaultMath
    ) -> CuDNNAlgorithmPerformance {
        CuDNNAlgorithmPerformance(
            algorithm: algo, status: status, time: time, memory: memory, determinism: deterministic ? 1 : 0, mathType: math)
    }

    func testAlgorithmChoice() {
        let results = [
            perf(0, time: 3), perf(1, status: 3, time: 0.5), perf(2, time: 1, deterministic: false, math: CuDNN.tensorOpMath),
            perf(3, time: 2, memory: 1 << 30), perf(4, time: 2.5, math: CuDNN.fmaMath), perf(5, time: -1)
        ]
        // Backward filter: 3 and 4 are no transforms (kept without TF32).
        let choose = { (search: CUDAAlgorithmSearch, tf32: Bool, limit: Int) in
            ConvolutionAlgorithmSelection.choose(
                results, direction: .backwardFilter, search: search, allowTF32: tf32, workspaceLimit: limit)?.algorithm
        }
        XCTAssertEqual(choose(.fastest, true, Int.max), 2, "fastest successful")
        XCTAssertEqual(choose(.deterministic, true, Int.max), 3, "fastest deterministic")
        XCTAssertEqual(choose(.deterministic, true, 1 << 20), 4, "within the workspace")
        XCTAssertEqual(choose(.fastest, false, Int.max), 3, "no tensor-op math without TF32")
        XCTAssertEqual(choose(.fastest, false, 0), 4)
        XCTAssertEqual(choose(.heuristic, true, Int.max), 0, "heuristic: first usable in cuDNN's order")
        XCTAssertNil(
            ConvolutionAlgorithmSelection.choose(
                [perf(0, status: 9, time: 1)], direction: .forward, search: .fastest, allowTF32: true, workspaceLimit: 1))
        XCTAssertNil(ConvolutionAlgorithmSelection.choose([], direction: .forward, search: .heuristic, allowTF32: true, workspaceLimit: 1))
        XCTAssertEqual(
            ConvolutionAlgorithmSelection.choose(
                [perf(7, time: -1)], direction: .forward, search: .fastest, allowTF32: true, workspaceLimit: 1)?.algorithm, 7,
            "an unmeasured but usable algorithm is better than none")
        XCTAssertTrue(ConvolutionAlgorithmSelection.summary([perf(1, status: 3, time: 0.5)]).contains("algo 1: status 3"))
    }

    /// With TF32 off (fp32 accuracy), FFT, tiled FFT and non-fused Winograd are never picked, in any pass.
    func testFP32ExcludesTransformAlgorithms() {
        let transforms: [ConvolutionDirection: [Int32]] = [.forward: [4, 5, 7], .backwardData: [2, 3, 5], .backwardFilter: [2, 5, 6]]
        for direction in ConvolutionDirection.allCases {
            let excluded = transforms[direction]!
            XCTAssertEqual((0..<8).filter { ConvolutionAlgorithmSelection.isTransform($0, direction) }, excluded, "\(direction)")
            // The transforms are the fastest; the slowest algorithm is the only one fp32 may use.
            let results = (0..<8).map { a in perf(a, time: excluded.contains(a) ? 0.1 : 1 + Float(a), math: CuDNN.fmaMath) }
            let fp32 = ConvolutionAlgorithmSelection.choose(
                results, direction: direction, search: .fastest, allowTF32: false, workspaceLimit: Int.max)
            let tf32 = ConvolutionAlgorithmSelection.choose(
                results, direction: direction, search: .fastest, allowTF32: true, workspaceLimit: Int.max)
            XCTAssertEqual(fp32?.algorithm, 0, "\(direction)")
            XCTAssertTrue(excluded.contains(tf32?.algorithm ?? -1), "TF32 keeps the fastest: \(direction)")
            let heuristic = ConvolutionAlgorithmSelection.choose(
                results.filter { excluded.contains($0.algorithm) } + [results[1]], direction: direction, search: .heuristic,
                allowTF32: false, workspaceLimit: Int.max)
            XCTAssertEqual(heuristic?.algorithm, 1, "the heuristic's first non-transform algorithm")
        }
    }

    func testMathTypes() {
        XCTAssertEqual(ConvolutionAlgorithmSelection.searchMathType(allowTF32: true), CuDNN.defaultMath)
        XCTAssertEqual(ConvolutionAlgorithmSelection.searchMathType(allowTF32: false), CuDNN.fmaMath)
        let tensorOp = perf(1, time: 1, math: CuDNN.tensorOpMath)
        XCTAssertEqual(ConvolutionAlgorithmSelection.runMathType(tensorOp, allowTF32: true), CuDNN.tensorOpMath)
        XCTAssertEqual(ConvolutionAlgorithmSelection.runMathType(tensorOp, allowTF32: false), CuDNN.fmaMath, "TF32 off is always FMA")
        XCTAssertEqual(CuDNNAPI.versionString(91400), "9.14.0")
        XCTAssertEqual(CuDNNAPI.versionString(8907), "8.9.7")
        XCTAssertEqual(CuBLAS.statusName(13), "CUBLAS_STATUS_EXECUTION_FAILED")
    }
}

func captureError(_ body: () throws -> Any) -> ResNeXtError? {
    do {
        _ = try body()
        return nil
    } catch let error as ResNeXtError {
        return error
    } catch {
        return .backend("unexpected \(error)")
    }
}
