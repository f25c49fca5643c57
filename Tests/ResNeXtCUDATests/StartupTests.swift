import ResNeXtCUDA
import ResNeXtCore
import XCTest

/// What the backend does at start and when it builds its kernels, on the fake CUDA libraries: every
/// version in its name, cuDNN 9's sub-libraries loaded up front, cuDNN's own error messages in errors,
/// and kernels as CUBIN with PTX as the fallback (an NVRTC without CUBIN, a CUBIN the driver refuses).
final class StartupTests: XCTestCase {
    override func setUpWithError() throws { try FakeCUDA.reset() }
    override func tearDownWithError() throws { try FakeCUDA.reset() }

    func backend(legacy: Bool = false) throws -> CUDABackend {
        try CUDABackend(device: 0, allowTF32: false, libraries: try FakeCUDA.libraries(legacy: legacy))
    }

    /// Runs one kernel of the elementwise set and one of the pooling set, checking the results.
    func runKernels(_ gpu: CUDABackend) throws {
        let x = try gpu.upload([-1, 2, -3, 4], shape: [1, 1, 2, 2])
        XCTAssertEqual(try gpu.download(try gpu.relu(x)), [0, 2, 0, 4])
        XCTAssertEqual(try gpu.download(try gpu.maxPool2D(x, Pool2DParameters(kernel: 2, stride: 2)).output), [4])
    }

    func testTheNameGivesEveryLibraryVersion() throws {
        let gpu = try backend()
        XCTAssertEqual(gpu.driverVersion, "13.0")
        XCTAssertEqual(
            gpu.name,
            "cuDNN 9.14.0 (for CUDA 13.0), cuBLAS 13.1.0, NVRTC 13.0 (sm_90 CUBIN), driver CUDA 13.0 on cuda:0 "
                + "(Fake GPU (CPU emulation), sm_90), TF32 off, cuDNN algorithms: fastest")
        XCTAssertEqual(try FakeCUDA.counter("cudnnGraphVersionCheck"), 1, "sub-libraries loaded at start")
        XCTAssertEqual(try FakeCUDA.counter("cudnnOpsVersionCheck"), 1)
        XCTAssertEqual(try FakeCUDA.counter("cudnnCnnVersionCheck"), 1)
    }

    func testKernelsAreCUBINForTheDevice() throws {
        let gpu = try backend()
        try runKernels(gpu)
        XCTAssertEqual(try FakeCUDA.counter("cubin loads"), 2, "one module per kernel set")
        XCTAssertEqual(try FakeCUDA.counter("ptx loads"), 0)
        XCTAssertEqual(gpu.kernelTarget, "sm_90 CUBIN")
    }

    func testACUBINTheDriverRefusesFallsBackToPTXOnce() throws {
        try FakeCUDA.fail("cuModuleLoadData:cubin", status: 209)
        let gpu = try backend()
        try runKernels(gpu)
        XCTAssertEqual(try FakeCUDA.counter("cuModuleLoadData:cubin"), 1, "CUBIN is given up after its first failure")
        XCTAssertEqual(try FakeCUDA.counter("ptx loads"), 2)
        XCTAssertTrue(gpu.kernelTarget.hasPrefix("compute_90 PTX, after sm_90 CUBIN failed ("), gpu.kernelTarget)
        XCTAssertTrue(gpu.kernelTarget.contains("CUDA_ERROR_NO_BINARY_FOR_GPU"), gpu.kernelTarget)
        XCTAssertTrue(gpu.name.contains("NVRTC 13.0 (compute_90 PTX, after sm_90 CUBIN failed"), gpu.name)
    }

    func testACUBINThatDoesNotCompileFallsBackToPTX() throws {
        try FakeCUDA.fail("nvrtcCompileProgram:cubin", status: 6)
        let gpu = try backend()
        try runKernels(gpu)
        XCTAssertEqual(try FakeCUDA.counter("ptx loads"), 2)
        XCTAssertTrue(gpu.kernelTarget.contains("injected CUBIN failure"), gpu.kernelTarget)
    }

    func testPTXTooNewForTheDriverNamesBothAttempts() throws {
        try FakeCUDA.fail("cuModuleLoadData:cubin", status: 209)
        try FakeCUDA.fail("cuModuleLoadData:ptx", status: 222)
        let gpu = try backend()
        assertThrows([
            "kernel set elementwise could not be built: sm_90 CUBIN:", "CUDA_ERROR_NO_BINARY_FOR_GPU", "; then compute_90 PTX:",
            "NVRTC 13.0", "is newer than the driver: set RESNEXT_LIBNVRTC"
        ]) { try gpu.relu(try gpu.zeros([4])) }
    }

    func testAnNVRTCWithoutCUBINCompilesPTX() throws {
        try FakeCUDA.reset(legacy: true)
        let gpu = try backend(legacy: true)
        try runKernels(gpu)
        XCTAssertEqual(gpu.kernelTarget, "compute_90 PTX")
        XCTAssertEqual(try FakeCUDA.counter("ptx loads", legacy: true), 2)
        XCTAssertTrue(gpu.name.hasPrefix("cuDNN 9.14.0, cuBLAS 13.1.0, NVRTC 13.0 (compute_90 PTX), driver CUDA 13.0"), gpu.name)
    }

    func testASubLibraryThatDoesNotLoadStopsTheStart() throws {
        try FakeCUDA.fail("cudnnCnnVersionCheck", status: 1008)
        let message = assertThrows([
            "unsupported: cuDNN 9.14.0",
            "cannot load its sub-library libcudnn_cnn.so.9 (convolutions): cudnnCnnVersionCheck() returned "
                + "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED (1008); cuDNN: fake cuDNN: cudnnCnnVersionCheck was told to fail",
            "run ldd on libcudnn_cnn.so.9", "set RESNEXT_LIBCUDNN"
        ]) { try backend() }
        XCTAssertEqual(message?.split(separator: "\n").count, 1, "one line")
        try FakeCUDA.reset()
        try FakeCUDA.fail("cudnnGraphVersionCheck", status: 1008)
        assertThrows(["libcudnn_graph.so.9"]) { try backend() }
    }

    func testCuDNNErrorsCarryCuDNNsOwnMessage() throws {
        let gpu = try backend()
        let x = try gpu.zeros([1, 2, 3, 3]), w = try gpu.zeros([2, 2, 1, 1])
        try FakeCUDA.fail("cudnnConvolutionForward", status: 3)
        assertThrows([
            "cudnnConvolutionForward(algo 1, forward",
            "failed: CUDNN_STATUS_BAD_PARAM (3); "
                + "cuDNN: fake cuDNN: cudnnConvolutionForward was told to fail"
        ]) { try gpu.convolution2D(x, weight: w, bias: nil, Convolution2DParameters()) }

        try FakeCUDA.reset(legacy: true)
        let legacy = try backend(legacy: true)
        let lx = try legacy.zeros([1, 2, 3, 3]), lw = try legacy.zeros([2, 2, 1, 1])
        try FakeCUDA.fail("cudnnConvolutionForward", status: 3, legacy: true)
        defer { try? FakeCUDA.reset(legacy: true) }
        let message = assertThrows(["failed: CUDNN_STATUS_BAD_PARAM (3)"]) {
            try legacy.convolution2D(lx, weight: lw, bias: nil, Convolution2DParameters())
        }
        XCTAssertFalse(message?.contains("cuDNN:") ?? true, "no cudnnGetLastErrorString before cuDNN 9")
    }
}
