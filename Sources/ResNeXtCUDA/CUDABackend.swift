import ResNeXtCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The primary context of one device, retained for as long as anything (backend, allocator) uses it.
final class CUDAContext: @unchecked Sendable {
    let driver: DriverAPI
    let device: CUdevice
    let ordinal: Int
    let context: OpaquePointer

    init(driver: DriverAPI, ordinal: Int) throws {
        self.driver = driver
        self.ordinal = ordinal
        var device: CUdevice = 0
        try driver.check(driver.cuDeviceGet(&device, Int32(ordinal)), "cuDeviceGet(\(ordinal))")
        var context: OpaquePointer?
        try driver.check(driver.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain(cuda:\(ordinal))")
        guard let context else { throw ResNeXtError.backend("cuDevicePrimaryCtxRetain(cuda:\(ordinal)) returned no context") }
        self.device = device
        self.context = context
    }

    /// Binds the context to the calling thread (cheap; every operation calls it, since callers may come
    /// from any thread). cuDNN and cuBLAS use the primary context too.
    func makeCurrent() throws {
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent(cuda:\(ordinal))")
    }

    deinit {
        _ = driver.cuDevicePrimaryCtxRelease(device)
    }
}

/// The NVIDIA GPU backend: convolutions and batch normalization through cuDNN's legacy API (algorithms
/// benchmarked once per shape, as `cudnn.benchmark`), the linear layer through cuBLAS, and everything
/// else through CUDA C kernels compiled at run time with NVRTC. Every library is loaded with `dlopen`, so
/// the package builds and tests without CUDA; constructing the backend on a machine without a GPU throws
/// ``ResNeXtError/unsupported(_:)`` with the loader's message.
///
/// Tensors are plain NCHW float32 in device memory from a caching allocator. All work goes to the
/// device's legacy default stream, in order; downloads wait for it.
public final class CUDABackend: Backend, @unchecked Sendable {
    public let device: Device
    /// TF32 tensor cores in convolutions (PyTorch's `cudnn.allow_tf32`, on by default); off also when
    /// NVIDIA_TF32_OVERRIDE=0. Off, convolutions keep fp32 accuracy: FMA math, no FFT or Winograd transforms.
    public let allowTF32: Bool
    /// TF32 tensor cores in the linear layer's matrix products (PyTorch's `cuda.matmul.allow_tf32`, off by
    /// default: cuBLAS's default math, full fp32).
    public let allowTF32Matmul: Bool
    public let algorithmSearch: CUDAAlgorithmSearch
    public let deviceName: String
    public let computeCapability: (major: Int, minor: Int)
    public let multiprocessorCount: Int
    /// The CUDA version the driver supports ("13.0"), or nil when it cannot say.
    public let driverVersion: String?

    let libraries: CUDALibraries
    let context: CUDAContext
    let allocator: CachingDeviceAllocator
    let kernels: KernelModules
    /// Pinned host buffers every upload goes through (asynchronous copies on the stream).
    let staging: PinnedStaging
    /// The operand checks every backend makes (CUDA's own additions are in Validation.swift).
    let operands: Operands<CUDAStorage>
    let cudnnHandle: OpaquePointer
    let cublasHandle: OpaquePointer
    /// cuDNN and cuBLAS handles are not to be used from two threads at once; the cuDNN lock also guards
    /// the descriptors kept per geometry.
    let cudnnState: Mutex<CuDNNDescriptorCache>
    let cublasLock = Mutex<Void>(())
    let algorithms = Mutex<[ConvolutionAlgorithmKey: ConvolutionAlgorithmChoice]>([:])
    let maxBlocks: Int
    /// RESNEXT_CUDA_SYNC=1: synchronize after every launch and library call, so an asynchronous error is
    /// reported by the call that caused it.
    let synchronizeEachCall: Bool
    /// Upper bound of the workspace cudnnFind may use (RESNEXT_CUDNN_WORKSPACE_MB, default 1024).
    let searchWorkspaceLimit: Int

    var driver: DriverAPI { libraries.driver }
    var cudnn: CuDNNAPI { libraries.cudnn }
    var cublas: CuBLASAPI { libraries.cublas }

    /// Opens device `index`.
    /// - Parameters:
    ///   - allowTF32: TF32 tensor-core math in convolutions (PyTorch's default); false keeps fp32 accuracy.
    ///   - allowTF32Matmul: TF32 in the linear layer (PyTorch's default: no). `NVIDIA_TF32_OVERRIDE=0` turns
    ///     both off.
    ///   - algorithmSearch: how convolution algorithms are chosen (the original's `-cudnn` option).
    ///   - libraries: the CUDA libraries to use (default: ``CUDALibraries/shared()``, loaded from the
    ///     process environment; tests pass libraries loaded from elsewhere).
    public init(
        device index: Int = 0, allowTF32: Bool = true, allowTF32Matmul: Bool = false, algorithmSearch: CUDAAlgorithmSearch = .fastest,
        libraries: CUDALibraries? = nil
    ) throws {
        guard index >= 0 else { throw ResNeXtError.invalidArgument("CUDA device index must be non-negative, got \(index)") }
        let libraries = try libraries ?? CUDALibraries.shared()
        let driver = libraries.driver
        let initStatus = driver.cuInit(0)
        guard initStatus == 0 else {
            throw ResNeXtError.unsupported(
                "no usable GPU: cuInit(0) failed: \(driver.describe(initStatus)) (driver \(driver.library.path))")
        }
        var count: Int32 = 0
        try driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount")
        guard index < Int(count) else {
            throw ResNeXtError.invalidArgument("CUDA device \(index) does not exist: \(count) device\(count == 1 ? "" : "s") visible")
        }
        let context = try CUDAContext(driver: driver, ordinal: index)
        try context.makeCurrent()

        var nameBuffer = [CChar](repeating: 0, count: 256)
        try driver.check(driver.cuDeviceGetName(&nameBuffer, 255, context.device), "cuDeviceGetName")
        func attribute(_ a: Int32, _ what: String) throws -> Int {
            var v: Int32 = 0
            try driver.check(driver.cuDeviceGetAttribute(&v, a, context.device), "cuDeviceGetAttribute(\(what))")
            return Int(v)
        }
        let major = try attribute(DriverAPI.Attribute.computeCapabilityMajor, "compute capability major")
        let minor = try attribute(DriverAPI.Attribute.computeCapabilityMinor, "compute capability minor")
        let sms = try attribute(DriverAPI.Attribute.multiprocessorCount, "multiprocessor count")

        let tf32Override = ProcessEnvironment.value("NVIDIA_TF32_OVERRIDE") == "0"
        self.device = .cuda(index)
        self.allowTF32 = allowTF32 && !tf32Override
        self.allowTF32Matmul = allowTF32Matmul && !tf32Override
        self.algorithmSearch = algorithmSearch
        self.deviceName = String(decoding: nameBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.computeCapability = (major, minor)
        self.multiprocessorCount = sms
        self.driverVersion = driver.versionString()
        self.libraries = libraries
        self.context = context
        self.operands = Operands(device: .cuda(index))
        self.maxBlocks = max(1, sms) * 32
        self.synchronizeEachCall = ProcessEnvironment.value("RESNEXT_CUDA_SYNC") == "1"
        self.searchWorkspaceLimit = (ProcessEnvironment.value("RESNEXT_CUDNN_WORKSPACE_MB").flatMap { Int($0) } ?? 1024) << 20

        let deviceLabel = Device.cuda(index).description
        self.allocator = CachingDeviceAllocator(
            device: .cuda(index),
            malloc: { bytes in
                try context.makeCurrent()
                var address: CUdeviceptr = 0
                try driver.check(driver.cuMemAlloc(&address, bytes), "cuMemAlloc_v2(\(bytes) bytes on \(deviceLabel))")
                return address
            },
            free: { address in
                _ = try? context.makeCurrent()
                _ = driver.cuMemFree(address)
            },
            beforeRelease: {
                _ = try? context.makeCurrent()
                _ = driver.cuCtxSynchronize()
            })

        self.staging = PinnedStaging(driver: driver, context: context)
        let targets = try NVRTCOptions.targets(
            major: major, minor: minor, supported: libraries.nvrtc.supportedArchitectures(), emitsCUBIN: libraries.nvrtc.emitsCUBIN)
        self.kernels = KernelModules(driver: driver, nvrtc: libraries.nvrtc, targets: targets)

        try libraries.cudnn.loadSubLibraries()
        var cudnnHandle: OpaquePointer?
        try libraries.cudnn.check(libraries.cudnn.cudnnCreate(&cudnnHandle), "cudnnCreate")
        guard let cudnnHandle else { throw ResNeXtError.backend("cudnnCreate returned no handle") }
        self.cudnnHandle = cudnnHandle
        self.cudnnState = Mutex(CuDNNDescriptorCache(libraries.cudnn))
        var cublasHandle: OpaquePointer?
        let blasStatus = libraries.cublas.cublasCreate(&cublasHandle)
        guard blasStatus == 0, let cublasHandle else {
            _ = libraries.cudnn.cudnnDestroy(cudnnHandle)
            throw ResNeXtError.backend("cublasCreate_v2 failed: \(libraries.cublas.describe(blasStatus))")
        }
        self.cublasHandle = cublasHandle
        let mathMode = self.allowTF32Matmul ? CuBLAS.tf32TensorOpMath : CuBLAS.defaultMath
        try libraries.cublas.check(libraries.cublas.cublasSetMathMode(cublasHandle, mathMode), "cublasSetMathMode(\(mathMode))")
    }

    deinit {
        _ = try? context.makeCurrent()
        _ = driver.cuCtxSynchronize()
        _ = cudnn.cudnnDestroy(cudnnHandle)
        _ = cublas.cublasDestroy(cublasHandle)
        kernels.unloadAll()
        allocator.releaseCached()
    }

    /// Every library's version, the device, and the precision and algorithm settings: "cuDNN 9.14.0 (for
    /// CUDA 13.0), cuBLAS 13.1.0, NVRTC 13.0 (sm_90 CUBIN), driver CUDA 13.0 on cuda:0 (NVIDIA H200, sm_90), ...".
    public var name: String {
        var blasVersion: Int32 = 0
        _ = cublas.cublasGetVersion(cublasHandle, &blasVersion)
        let nvrtcVersion = libraries.nvrtc.version()
        let blas = "\(blasVersion / 10000).\((blasVersion % 10000) / 100).\(blasVersion % 100)"
        let cudart = cudnn.builtForCUDA().map { " (for CUDA \($0))" } ?? ""
        return "cuDNN \(cudnn.versionString())\(cudart), cuBLAS \(blas), NVRTC \(nvrtcVersion.major).\(nvrtcVersion.minor) "
            + "(\(kernels.targetDescription)), driver CUDA \(driverVersion ?? "?") on \(device) "
            + "(\(deviceName), sm_\(computeCapability.major)\(computeCapability.minor)), \(precision), "
            + "cuDNN algorithms: \(algorithmSearch.rawValue)"
    }

    /// "TF32 off", "TF32 on", "TF32 convolutions (not matmul)" or "TF32 matmul (not convolutions)".
    var precision: String {
        switch (allowTF32, allowTF32Matmul) {
        case (false, false): "TF32 off"
        case (true, true): "TF32 on"
        case (true, false): "TF32 convolutions (not matmul)"
        case (false, true): "TF32 matmul (not convolutions)"
        }
    }

    /// What the kernels are compiled to ("sm_90 CUBIN", or the PTX fallback and why).
    public var kernelTarget: String { kernels.targetDescription }

    public var liveAllocations: (count: Int, bytes: Int) {
        let s = allocator.statistics
        return (s.liveBlocks, s.liveBytes)
    }

    /// Bytes requested by live tensors (and workspaces) and their peak; reserved: the allocator's buckets,
    /// live and cached, as obtained from `cuMemAlloc`.
    public var memoryStatistics: MemoryStatistics {
        let s = allocator.statistics
        return MemoryStatistics(
            allocatedBytes: s.liveBytes, peakAllocatedBytes: s.peakLiveBytes, reservedBytes: s.reservedBytes,
            peakReservedBytes: s.peakReservedBytes)
    }

    public func resetPeakMemory() { allocator.resetPeaks() }

    /// The caching allocator's counters (device allocations, cache hits, reserved bytes).
    public var allocatorStatistics: DeviceAllocatorStatistics { allocator.statistics }

    /// Gives the allocator's cached blocks back to the device.
    public func releaseCachedMemory() { allocator.releaseCached() }

    /// cuDNN descriptor sets kept (one per convolution geometry, one per batch-normalization input shape).
    public var cachedDescriptorCounts: (convolutions: Int, batchNorms: Int) { cudnnState.withLock { $0.counts } }

    /// Number of convolution algorithm choices cached (one per shape, pass and policy).
    public var cachedAlgorithmCount: Int { algorithms.withLock { $0.count } }

    /// The cached convolution algorithm choices.
    public var algorithmChoices: [ConvolutionAlgorithmKey: ConvolutionAlgorithmChoice] { algorithms.withLock { $0 } }

    /// Waits for all queued work; reports any asynchronous error.
    public func synchronize() throws {
        try context.makeCurrent()
        try driver.check(driver.cuCtxSynchronize(), "cuCtxSynchronize (an earlier asynchronous operation failed)")
    }

    // MARK: Helpers

    /// Makes the context current on this thread; every operation starts with it.
    func prepare() throws { try context.makeCurrent() }

    func afterCall(_ what: @autoclosure () -> String) throws {
        guard synchronizeEachCall else { return }
        try driver.check(driver.cuCtxSynchronize(), "\(what()) (checked by RESNEXT_CUDA_SYNC)")
    }

    func allocate(_ shape: Shape, dtype: DType = .float32) throws -> CUDAStorage {
        CUDAStorage(block: try allocator.allocate(shape.elementCount * dtype.byteSize))
    }

    func wrap(_ s: CUDAStorage, _ shape: Shape, dtype: DType = .float32) -> Tensor {
        Tensor(shape: shape, dtype: dtype, storage: s)
    }

    /// Launches `kernel` over `count` items (nothing when `count` is 0), checking the arguments against
    /// the kernel's signature first.
    func launch(_ kernel: Kernel, count: Int, _ arguments: [KernelArgument]) throws {
        let definition = kernel.definition
        let expected = definition.parameters.map(\.kind)
        guard arguments.map(\.kind) == expected else {
            throw ResNeXtError.backend(
                "kernel \(kernel.name) takes (\(definition.parameters.map { "\($0.kind.rawValue) \($0.name)" }.joined(separator: ", "))) "
                    + "but was given (\(arguments.map(\.kind.rawValue).joined(separator: ", ")))")
        }
        guard let config = LaunchConfiguration.forKernel(kernel, count: count, maxBlocks: maxBlocks) else { return }
        let function = try kernels.function(kernel)
        var slots = arguments.map(\.slot)
        let status = slots.withUnsafeMutableBufferPointer { buffer -> CUresult in
            var pointers: [UnsafeMutableRawPointer?] = (0..<buffer.count).map { UnsafeMutableRawPointer(buffer.baseAddress! + $0) }
            return pointers.withUnsafeMutableBufferPointer { p in
                driver.cuLaunchKernel(function, config.gridX, 1, 1, config.blockX, 1, 1, 0, nil, p.baseAddress, nil)
            }
        }
        try driver.check(status, "cuLaunchKernel(\(kernel.name)\(config), \(count) items)")
        try afterCall("kernel \(kernel.name)")
    }

    /// Runs `body` with the cuDNN handle and the kept descriptors, one thread at a time.
    func withCuDNN<T: Sendable>(_ body: (OpaquePointer, CuDNNDescriptorCache) throws -> T) throws -> T {
        let handle = cudnnHandle
        return try cudnnState.withLock { descriptors in try body(handle, descriptors) }
    }

    /// Host values into a fresh device block, through the pinned staging buffers (stream-ordered: the copy
    /// may still run when this returns; work queued after it sees the values).
    func uploadBytes<T>(_ values: [T], _ what: @autoclosure () -> String) throws -> CUDAStorage {
        let bytes = values.count * MemoryLayout<T>.stride
        let s = CUDAStorage(block: try allocator.allocate(bytes))
        try values.withUnsafeBytes { raw in try staging.upload(raw, to: s.address, what()) }
        return s
    }

    /// `count` values of type `T` from the start of a device block (waits for queued work).
    func downloadValues<T>(_ s: CUDAStorage, count: Int, as type: T.Type, _ what: @autoclosure () -> String) throws -> [T] {
        let bytes = count * MemoryLayout<T>.stride
        guard bytes > 0 else { return [] }
        var status: CUresult = 0
        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = driver.cuMemcpyDtoH(UnsafeMutableRawPointer(buffer.baseAddress), s.address, bytes)
            initialized = count
        }
        if status != 0 {
            throw ResNeXtError.backend(
                "cuMemcpyDtoH_v2(\(what()), \(bytes) bytes) failed: \(driver.describe(status)) "
                    + "(an earlier asynchronous kernel may have failed: rerun with RESNEXT_CUDA_SYNC=1 to name it)")
        }
        return values
    }

    /// Copies `count` floats between device blocks (stream-ordered).
    func copyBytes(from source: CUDAStorage, to destination: CUDAStorage, count: Int, _ what: @autoclosure () -> String) throws {
        guard count > 0 else { return }
        try driver.check(driver.cuMemcpyDtoD(destination.address, source.address, count * 4), "cuMemcpyDtoD_v2(\(what()))")
    }

    /// Sets `count` floats to zero (stream-ordered).
    func fillZeros(_ storage: CUDAStorage, count: Int) throws {
        guard count > 0 else { return }
        try driver.check(driver.cuMemsetD32(storage.address, 0, count), "cuMemsetD32_v2(\(count) floats)")
    }

    // MARK: Memory

    public func upload(_ values: [Float], shape: Shape) throws -> Tensor {
        let shape = try operands.upload(count: values.count, shape: shape)
        try prepare()
        return wrap(try uploadBytes(values, "upload \(shape)"), shape)
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        let s = try operands.download(tensor)
        try prepare()
        return try downloadValues(s, count: tensor.elementCount, as: Float.self, "download \(tensor.shape)")
    }

    public func zeros(_ shape: Shape) throws -> Tensor {
        let shape = try shape.validated()
        try prepare()
        let s = try allocate(shape)
        try fillZeros(s, count: shape.elementCount)
        return wrap(s, shape)
    }

    public func optimizedLayout(_ tensor: Tensor) throws -> Tensor {
        _ = try operands.optimizedLayout(tensor)
        return tensor
    }

    public func reshape(_ tensor: Tensor, to shape: Shape) throws -> Tensor {
        let (s, shape) = try operands.reshape(tensor, to: shape)
        return wrap(s, shape)
    }
}
