import ResNeXtCPU
import ResNeXtCUDA
import ResNeXtConformance
import ResNeXtCore
import XCTest

/// The CUDA backend's host side against the fake CUDA libraries (``FakeCUDA``), compared with the CPU
/// backend: every operation, the algorithm search policies, workspaces, the allocator, errors.
final class FakeGPUTests: XCTestCase {
    func backend(tf32: Bool = false, search: CUDAAlgorithmSearch = .fastest) throws -> CUDABackend {
        try CUDABackend(device: 0, allowTF32: tf32, algorithmSearch: search, libraries: try FakeCUDA.libraries())
    }

    var rng = RandomGenerator(seed: 99)

    func values(_ n: Int, _ low: Double = -1, _ high: Double = 1) -> [Float] { (0..<n).map { _ in Float(rng.uniform(low, high)) } }

    /// The same random values on the fake GPU and on the CPU.
    func pair(_ gpu: CUDABackend, _ dims: [Int], _ low: Double = -1, _ high: Double = 1) throws -> (Tensor, Tensor) {
        let v = values(dims.reduce(1, *), low, high)
        return (try gpu.upload(v, shape: Shape(dims)), try cpu.upload(v, shape: Shape(dims)))
    }

    func assertClose(
        _ gpu: CUDABackend, _ a: Tensor, _ b: Tensor, _ what: String, tolerance: Double = 1e-5,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        XCTAssertEqual(a.device, .cuda(0), what, file: file, line: line)
        let x = try gpu.download(a), y = try cpu.download(b)
        let scale = max(y.map { abs(Double($0)) }.max() ?? 0, 1e-12)
        let error = zip(x, y).map { abs(Double($0) - Double($1)) }.max().map { $0 / scale } ?? 0
        XCTAssertLessThanOrEqual(error, tolerance, "\(what): relative error \(error)", file: file, line: line)
        XCTAssertFalse(x.contains { $0.isNaN }, "\(what) has NaN", file: file, line: line)
    }

    func testBackendDescribesTheDevice() throws {
        let gpu = try backend()
        XCTAssertEqual(gpu.device, .cuda(0))
        XCTAssertEqual(gpu.deviceName, "Fake GPU (CPU emulation)")
        XCTAssertEqual(gpu.computeCapability.major, 9)
        XCTAssertEqual(gpu.multiprocessorCount, 4)
        XCTAssertFalse(gpu.allowTF32)
        XCTAssertEqual(
            gpu.name,
            "cuDNN 9.14.0 (for CUDA 13.0), cuBLAS 13.1.0, NVRTC 13.0 (sm_90 CUBIN), driver CUDA 13.0 on cuda:0 "
                + "(Fake GPU (CPU emulation), sm_90), TF32 off, cuDNN algorithms: fastest")
        assertThrows(["CUDA device 1 does not exist: 1 device visible"]) { try CUDABackend(device: 1, libraries: try FakeCUDA.libraries()) }
        assertThrows(["CUDA device index must be non-negative"]) { try CUDABackend(device: -1, libraries: try FakeCUDA.libraries()) }
    }

    func testConvolutionsMatchTheCPU() throws {
        let gpu = try backend()
        for (x, w, p, bias) in [
            ([2, 8, 7, 7], [16, 8, 3, 3], Convolution2DParameters(padding: 1), true),
            ([3, 16, 6, 6], [16, 4, 3, 3], Convolution2DParameters(stride: 2, padding: 1, groups: 4), false),
            ([1, 8, 5, 5], [8, 1, 3, 3], Convolution2DParameters(padding: 1, groups: 8), true),
            ([2, 3, 9, 9], [4, 3, 7, 7], Convolution2DParameters(stride: 2, padding: 3), false)
        ] {
            let (xg, xc) = try pair(gpu, x), (wg, wc) = try pair(gpu, w, -0.3, 0.3), (bg, bc) = try pair(gpu, [w[0]])
            let y = try gpu.convolution2D(xg, weight: wg, bias: bias ? bg : nil, p)
            let yc = try cpu.convolution2D(xc, weight: wc, bias: bias ? bc : nil, p)
            try assertClose(gpu, y, yc, "forward \(x) \(w) \(p)")
            let (dyg, dyc) = try pair(gpu, yc.shape.dims)
            try assertClose(
                gpu, try gpu.convolution2DBackwardData(dyg, weight: wg, inputShape: Shape(x), p),
                try cpu.convolution2DBackwardData(dyc, weight: wc, inputShape: Shape(x), p), "backward data \(x) \(w)")
            let g = try gpu.convolution2DBackwardWeights(dyg, input: xg, weightShape: Shape(w), withBias: bias, p)
            let c = try cpu.convolution2DBackwardWeights(dyc, input: xc, weightShape: Shape(w), withBias: bias, p)
            try assertClose(gpu, g.weight, c.weight, "backward weights \(x) \(w)")
            XCTAssertEqual(g.bias == nil, !bias)
            if let gb = g.bias, let cb = c.bias { try assertClose(gpu, gb, cb, "bias gradient \(x) \(w)") }
        }
        // One search per shape and pass, then cached.
        XCTAssertEqual(gpu.cachedAlgorithmCount, 12)
        let (xg, _) = try pair(gpu, [2, 8, 7, 7]), (wg, _) = try pair(gpu, [16, 8, 3, 3])
        _ = try gpu.convolution2D(xg, weight: wg, bias: nil, Convolution2DParameters(padding: 1))
        XCTAssertEqual(gpu.cachedAlgorithmCount, 12)
    }

    func testAlgorithmPolicies() throws {
        // The fake offers its pass's FFT algorithm (fastest, not deterministic), algorithm 1 (4 KiB workspace,
        // not deterministic), 0 (deterministic, no workspace) and 5 (not supported); running 1 without its
        // workspace fails, so these runs also check that workspaces reach cuDNN. TF32 off: no FFT.
        for (search, expected, workspace) in [(CUDAAlgorithmSearch.fastest, Int32(1), 4096), (.deterministic, 0, 0), (.heuristic, 1, 4096)]
        {
            let gpu = try backend(search: search)
            let (x, xc) = try pair(gpu, [2, 4, 5, 5]), (w, wc) = try pair(gpu, [4, 4, 3, 3])
            let p = Convolution2DParameters(padding: 1)
            try assertClose(
                gpu, try gpu.convolution2D(x, weight: w, bias: nil, p), try cpu.convolution2D(xc, weight: wc, bias: nil, p), "\(search)")
            let choices = gpu.algorithmChoices
            XCTAssertEqual(choices.count, 1)
            XCTAssertEqual(choices.keys.first?.search, search)
            XCTAssertEqual(choices.keys.first?.direction, .forward)
            XCTAssertEqual(choices.values.first?.algorithm, expected, "\(search)")
            XCTAssertEqual(choices.values.first?.workspaceBytes, workspace, "\(search)")
            XCTAssertEqual(choices.values.first?.mathType, CuDNN.fmaMath, "TF32 off runs FMA math")
        }
        // TF32 on: the fastest, FFT (cuDNN's 4 forward, 2 backward), with the math type the search reported.
        let tf32 = try backend(tf32: true)
        let (x, _) = try pair(tf32, [1, 4, 5, 5]), (w, _) = try pair(tf32, [4, 4, 3, 3]), (dy, _) = try pair(tf32, [1, 4, 5, 5])
        let p = Convolution2DParameters(padding: 1)
        _ = try tf32.convolution2D(x, weight: w, bias: nil, p)
        _ = try tf32.convolution2DBackwardData(dy, weight: w, inputShape: x.shape, p)
        _ = try tf32.convolution2DBackwardWeights(dy, input: x, weightShape: w.shape, withBias: false, p)
        let chosen = Dictionary(uniqueKeysWithValues: tf32.algorithmChoices.map { ($0.key.direction, $0.value) })
        XCTAssertEqual(chosen[.forward]?.algorithm, 4)
        XCTAssertEqual(chosen[.backwardData]?.algorithm, 2)
        XCTAssertEqual(chosen[.backwardFilter]?.algorithm, 2)
        XCTAssertEqual(chosen[.forward]?.mathType, CuDNN.defaultMath)
    }

    /// The linear layer's cuBLAS math: full fp32 (CUBLAS_DEFAULT_MATH) unless TF32 matmul is asked for.
    func testMatmulMathFollowsPyTorchsDefault() throws {
        try FakeCUDA.reset()
        defer { try? FakeCUDA.reset() }
        let defaults = try CUDABackend(device: 0, libraries: try FakeCUDA.libraries())
        XCTAssertTrue(defaults.allowTF32)
        XCTAssertFalse(defaults.allowTF32Matmul)
        XCTAssertTrue(defaults.name.contains("TF32 convolutions (not matmul)"), defaults.name)
        XCTAssertEqual(try FakeCUDA.counter("cublasSetMathMode=0"), 1)
        let tf32 = try CUDABackend(device: 0, allowTF32Matmul: true, libraries: try FakeCUDA.libraries())
        XCTAssertTrue(tf32.name.contains("TF32 on,"), tf32.name)
        XCTAssertEqual(try FakeCUDA.counter("cublasSetMathMode=3"), 1)
        XCTAssertEqual(try FakeCUDA.counter("cublasSetMathMode=2"), 0, "never pedantic")
    }

    /// The backend conformance suite, as `resnext selftest --device cuda` runs it: every operation on the
    /// fake GPU against the CPU backend and one whole training step (the emulated GPU is too slow for the
    /// training run; `resnext selftest` runs it on a real GPU).
    func testConformanceAgainstTheCPU() throws {
        let gpu = try backend()
        var lines = [String]()
        let suite = ConformanceSuite(
            backend: gpu, reference: cpu, tolerance: 1e-5, seed: 3,
            deviceAllocations: { gpu.allocatorStatistics.deviceAllocations }, report: { lines.append($0) })
        suite.runAll(trainingSteps: 0)
        XCTAssertEqual(suite.failed, 0, lines.joined(separator: "\n"))
        let checked = Set(suite.results.map(\.operation))
        for op in [
            "batch norm backward", "max pooling backward", "average pooling backward", "linear backward weight", "split channels",
            "softmax cross-entropy", "top-k correct", "sgd step", "liveAllocations", "training step"
        ] {
            XCTAssertTrue(checked.contains(op), "\(op) not checked:\n\(lines.joined(separator: "\n"))")
        }
        let (x, _) = try pair(gpu, [1, 2, 4, 4])
        XCTAssertEqual(try gpu.maxPool2D(x, Pool2DParameters(kernel: 2, stride: 2)).indices.dtype, .uint8, "max pooling keeps byte indices")
    }

    /// The allocator's high-water marks through the Backend protocol, exactly: bytes asked for by tensors,
    /// and the buckets reserved from the device (512 for 96 bytes, 4096 for 4000).
    func testMemoryStatisticsAreExact() throws {
        let gpu = try backend()
        func stats(_ allocated: Int, _ peak: Int, _ reserved: Int, _ peakReserved: Int) -> MemoryStatistics {
            MemoryStatistics(allocatedBytes: allocated, peakAllocatedBytes: peak, reservedBytes: reserved, peakReservedBytes: peakReserved)
        }
        XCTAssertEqual(gpu.memoryStatistics, stats(0, 0, 0, 0))
        var a: Tensor? = try gpu.upload([Float](repeating: 1, count: 24), shape: [24])
        let b = try gpu.zeros([1000])
        var r: Tensor? = try gpu.relu(b)
        XCTAssertEqual(gpu.memoryStatistics, stats(8096, 8096, 8704, 8704))
        a = nil
        r = nil
        XCTAssertEqual(gpu.memoryStatistics, stats(4000, 8096, 8704, 8704), "freed blocks stay reserved in the cache")
        gpu.resetPeakMemory()
        XCTAssertEqual(gpu.memoryStatistics, stats(4000, 4000, 8704, 8704))
        gpu.releaseCachedMemory()
        XCTAssertEqual(gpu.memoryStatistics, stats(4000, 4000, 4096, 8704))
        XCTAssertNil(a ?? r)
    }

    func testMemoryOperationsAndTheAllocator() throws {
        let gpu = try backend()
        XCTAssertEqual(gpu.liveAllocations.count, 0)
        let v: [Float] = (0..<24).map(Float.init)
        let t = try gpu.upload(v, shape: [2, 3, 4])
        XCTAssertEqual(try gpu.download(t), v)
        XCTAssertEqual(try gpu.download(try gpu.reshape(t, to: [6, 4])), v)
        XCTAssertEqual(try gpu.download(try gpu.optimizedLayout(t)), v)
        XCTAssertEqual(try gpu.download(try gpu.zeros([3, 5])), [Float](repeating: 0, count: 15))
        XCTAssertEqual(try gpu.download(try gpu.full([2, 2], value: 1.5)), [1.5, 1.5, 1.5, 1.5])
        XCTAssertEqual(try gpu.download(try gpu.zeros([0, 3])), [])
        XCTAssertEqual(gpu.liveAllocations.count, 1)
        XCTAssertEqual(gpu.liveAllocations.bytes, 96)
        assertThrows(["wrong device: downloaded tensor is on cpu, but this backend computes on cuda:0"]) {
            try gpu.download(try cpu.zeros([2]))
        }
        assertThrows(["25 values do not fill shape [2, 3, 4] (24 elements)"]) {
            try gpu.upload([Float](repeating: 0, count: 25), shape: [2, 3, 4])
        }

        // A training-like loop allocates device memory only in its first iteration.
        let (x, _) = try pair(gpu, [4, 8, 6, 6]), (w, _) = try pair(gpu, [8, 2, 3, 3])
        let (s, _) = try pair(gpu, [8]), (b, _) = try pair(gpu, [8]), rm = try gpu.zeros([8]), rv = try gpu.full([8], value: 1)
        var allocations = [Int]()
        for _ in 0..<4 {
            let p = Convolution2DParameters(padding: 1, groups: 4)
            let y = try gpu.convolution2D(x, weight: w, bias: nil, p)
            let bn = try gpu.batchNormTraining(y, scale: s, shift: b, runningMean: rm, runningVariance: rv, momentum: 0.1, epsilon: 1e-5)
            let r = try gpu.relu(bn.output)
            let g = try gpu.batchNormBackward(
                try gpu.reluBackward(r, output: r), input: y, scale: s, statistics: bn.statistics, epsilon: 1e-5)
            _ = try gpu.convolution2DBackwardData(g.input, weight: w, inputShape: x.shape, p)
            _ = try gpu.convolution2DBackwardWeights(g.input, input: x, weightShape: w.shape, withBias: false, p)
            allocations.append(gpu.allocatorStatistics.deviceAllocations)
        }
        XCTAssertEqual(Set(allocations.dropFirst()).count, 1, "steady state: \(allocations)")
        XCTAssertGreaterThan(gpu.allocatorStatistics.cacheHits, 0)
        gpu.releaseCachedMemory()
        XCTAssertEqual(gpu.allocatorStatistics.cachedBlocks, 0)
        try gpu.synchronize()
    }
}
