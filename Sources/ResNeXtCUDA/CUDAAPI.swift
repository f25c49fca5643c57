import ResNeXtCore

// The C types of the CUDA driver, NVRTC, cuDNN and cuBLAS APIs, declared here so that nothing CUDA is
// needed to build: status codes and enums are Int32, handles and descriptors opaque pointers, device
// addresses UInt64 (`CUdeviceptr`), `size_t` Int.

public typealias CUresult = Int32
public typealias CUdevice = Int32
public typealias CUdeviceptr = UInt64
public typealias CUhandle = OpaquePointer?

/// Turns a device address into the `void *` the cuDNN and cuBLAS C APIs take.
@inline(__always) func devicePointer(_ address: CUdeviceptr) -> UnsafeMutableRawPointer? {
    UnsafeMutableRawPointer(bitPattern: UInt(address))
}

// MARK: - CUDA driver

/// The CUDA driver API calls the backend makes (versioned `_v2` names where the ABI changed).
public struct DriverAPI: Sendable {
    public typealias Status = @convention(c) (UnsafeMutablePointer<Int32>?) -> CUresult
    let library: DynamicLibrary

    let cuInit: @convention(c) (UInt32) -> CUresult
    let cuDriverGetVersion: Status
    let cuDeviceGetCount: Status
    let cuDeviceGet: @convention(c) (UnsafeMutablePointer<CUdevice>?, Int32) -> CUresult
    let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, CUdevice) -> CUresult
    let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>?, Int32, CUdevice) -> CUresult
    let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>?, CUdevice) -> CUresult
    let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, CUdevice) -> CUresult
    let cuDevicePrimaryCtxRelease: @convention(c) (CUdevice) -> CUresult
    let cuCtxSetCurrent: @convention(c) (OpaquePointer?) -> CUresult
    let cuCtxSynchronize: @convention(c) () -> CUresult
    let cuMemAlloc: @convention(c) (UnsafeMutablePointer<CUdeviceptr>?, Int) -> CUresult
    let cuMemFree: @convention(c) (CUdeviceptr) -> CUresult
    let cuMemGetInfo: @convention(c) (UnsafeMutablePointer<Int>?, UnsafeMutablePointer<Int>?) -> CUresult
    let cuMemcpyHtoD: @convention(c) (CUdeviceptr, UnsafeRawPointer?, Int) -> CUresult
    let cuMemcpyDtoH: @convention(c) (UnsafeMutableRawPointer?, CUdeviceptr, Int) -> CUresult
    let cuMemcpyDtoD: @convention(c) (CUdeviceptr, CUdeviceptr, Int) -> CUresult
    let cuMemsetD32: @convention(c) (CUdeviceptr, UInt32, Int) -> CUresult
    let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UnsafeRawPointer?) -> CUresult
    let cuModuleUnload: @convention(c) (OpaquePointer?) -> CUresult
    let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, OpaquePointer?, UnsafePointer<CChar>?) -> CUresult
    let cuLaunchKernel:
        @convention(c) (
            OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
            UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        ) -> CUresult
    let cuGetErrorName: @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> CUresult
    let cuGetErrorString: @convention(c) (CUresult, UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> CUresult

    /// `CU_DEVICE_ATTRIBUTE_*` values used.
    enum Attribute {
        static let multiprocessorCount: Int32 = 16
        static let computeCapabilityMajor: Int32 = 75
        static let computeCapabilityMinor: Int32 = 76
    }

    static let unsupportedPTXVersion: CUresult = 222
    static let outOfMemory: CUresult = 2

    public init(_ lib: DynamicLibrary) throws {
        library = lib
        cuInit = try lib.symbol("cuInit")
        cuDriverGetVersion = try lib.symbol("cuDriverGetVersion")
        cuDeviceGetCount = try lib.symbol("cuDeviceGetCount")
        cuDeviceGet = try lib.symbol("cuDeviceGet")
        cuDeviceGetName = try lib.symbol("cuDeviceGetName")
        cuDeviceGetAttribute = try lib.symbol("cuDeviceGetAttribute")
        cuDeviceTotalMem = try lib.symbol("cuDeviceTotalMem_v2")
        cuDevicePrimaryCtxRetain = try lib.symbol("cuDevicePrimaryCtxRetain")
        cuDevicePrimaryCtxRelease = try lib.symbol("cuDevicePrimaryCtxRelease_v2")
        cuCtxSetCurrent = try lib.symbol("cuCtxSetCurrent")
        cuCtxSynchronize = try lib.symbol("cuCtxSynchronize")
        cuMemAlloc = try lib.symbol("cuMemAlloc_v2")
        cuMemFree = try lib.symbol("cuMemFree_v2")
        cuMemGetInfo = try lib.symbol("cuMemGetInfo_v2")
        cuMemcpyHtoD = try lib.symbol("cuMemcpyHtoD_v2")
        cuMemcpyDtoH = try lib.symbol("cuMemcpyDtoH_v2")
        cuMemcpyDtoD = try lib.symbol("cuMemcpyDtoD_v2")
        cuMemsetD32 = try lib.symbol("cuMemsetD32_v2")
        cuModuleLoadData = try lib.symbol("cuModuleLoadData")
        cuModuleUnload = try lib.symbol("cuModuleUnload")
        cuModuleGetFunction = try lib.symbol("cuModuleGetFunction")
        cuLaunchKernel = try lib.symbol("cuLaunchKernel")
        cuGetErrorName = try lib.symbol("cuGetErrorName")
        cuGetErrorString = try lib.symbol("cuGetErrorString")
    }

    /// `CUDA_ERROR_OUT_OF_MEMORY (2): out of memory`.
    public func describe(_ result: CUresult) -> String {
        var name: UnsafePointer<CChar>?
        var text: UnsafePointer<CChar>?
        let nameOK = cuGetErrorName(result, &name) == 0 && name != nil
        let textOK = cuGetErrorString(result, &text) == 0 && text != nil
        let n = nameOK ? String(cString: name!) : "CUresult"
        return textOK ? "\(n) (\(result)): \(String(cString: text!))" : "\(n) (\(result))"
    }

    /// Throws ``ResNeXtError/backend(_:)`` naming the call and the status unless `result` is CUDA_SUCCESS.
    public func check(_ result: CUresult, _ call: @autoclosure () -> String) throws {
        guard result != 0 else { return }
        throw ResNeXtError.backend("\(call()) failed: \(describe(result))")
    }
}

// MARK: - NVRTC

public struct NVRTCAPI: Sendable {
    let library: DynamicLibrary
    let nvrtcVersion: @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Int32
    let nvrtcGetErrorString: @convention(c) (Int32) -> UnsafePointer<CChar>?
    let nvrtcCreateProgram:
        @convention(c) (
            UnsafeMutablePointer<OpaquePointer?>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int32,
            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?
        ) -> Int32
    let nvrtcDestroyProgram: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Int32
    let nvrtcCompileProgram: @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    let nvrtcGetPTXSize: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>?) -> Int32
    let nvrtcGetPTX: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int32
    let nvrtcGetProgramLogSize: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>?) -> Int32
    let nvrtcGetProgramLog: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int32
    /// CUDA 11.2+: the virtual architectures this NVRTC compiles for.
    let nvrtcGetNumSupportedArchs: (@convention(c) (UnsafeMutablePointer<Int32>?) -> Int32)?
    let nvrtcGetSupportedArchs: (@convention(c) (UnsafeMutablePointer<Int32>?) -> Int32)?

    public init(_ lib: DynamicLibrary) throws {
        library = lib
        nvrtcVersion = try lib.symbol("nvrtcVersion")
        nvrtcGetErrorString = try lib.symbol("nvrtcGetErrorString")
        nvrtcCreateProgram = try lib.symbol("nvrtcCreateProgram")
        nvrtcDestroyProgram = try lib.symbol("nvrtcDestroyProgram")
        nvrtcCompileProgram = try lib.symbol("nvrtcCompileProgram")
        nvrtcGetPTXSize = try lib.symbol("nvrtcGetPTXSize")
        nvrtcGetPTX = try lib.symbol("nvrtcGetPTX")
        nvrtcGetProgramLogSize = try lib.symbol("nvrtcGetProgramLogSize")
        nvrtcGetProgramLog = try lib.symbol("nvrtcGetProgramLog")
        nvrtcGetNumSupportedArchs = lib.optionalSymbol("nvrtcGetNumSupportedArchs")
        nvrtcGetSupportedArchs = lib.optionalSymbol("nvrtcGetSupportedArchs")
    }

    public func describe(_ result: Int32) -> String {
        guard let text = nvrtcGetErrorString(result) else { return "nvrtcResult \(result)" }
        return "\(String(cString: text)) (\(result))"
    }

    public func check(_ result: Int32, _ call: @autoclosure () -> String) throws {
        guard result != 0 else { return }
        throw ResNeXtError.backend("\(call()) failed: \(describe(result))")
    }

    /// `(major, minor)` of this NVRTC.
    public func version() -> (major: Int, minor: Int) {
        var major: Int32 = 0, minor: Int32 = 0
        guard nvrtcVersion(&major, &minor) == 0 else { return (0, 0) }
        return (Int(major), Int(minor))
    }

    /// The `compute_XY` numbers (XY = 10·major + minor) this NVRTC supports, or nil when it cannot say.
    public func supportedArchitectures() -> [Int]? {
        guard let count = nvrtcGetNumSupportedArchs, let list = nvrtcGetSupportedArchs else { return nil }
        var n: Int32 = 0
        guard count(&n) == 0, n > 0 else { return nil }
        var archs = [Int32](repeating: 0, count: Int(n))
        guard list(&archs) == 0 else { return nil }
        return archs.map(Int.init)
    }
}

// MARK: - cuDNN

/// `cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t` (the three share this layout: 48 bytes).
public struct CuDNNAlgorithmPerformance: Sendable, Equatable {
    public var algorithm: Int32
    public var status: Int32
    public var time: Float
    public var memory: Int
    public var determinism: Int32
    public var mathType: Int32
    public var reserved: (Int32, Int32, Int32)

    public init(algorithm: Int32 = 0, status: Int32 = 0, time: Float = 0, memory: Int = 0, determinism: Int32 = 0, mathType: Int32 = 0) {
        self.algorithm = algorithm
        self.status = status
        self.time = time
        self.memory = memory
        self.determinism = determinism
        self.mathType = mathType
        self.reserved = (0, 0, 0)
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.algorithm == b.algorithm && a.status == b.status && a.time == b.time && a.memory == b.memory
            && a.determinism == b.determinism && a.mathType == b.mathType
    }
}

/// cuDNN enum values used (cudnn_graph.h / cudnn_ops.h / cudnn_cnn.h of cuDNN 9; unchanged since 7).
public enum CuDNN {
    public static let statusSuccess: Int32 = 0
    public static let tensorNCHW: Int32 = 0
    public static let dataFloat: Int32 = 0
    public static let crossCorrelation: Int32 = 1
    public static let defaultMath: Int32 = 0
    public static let tensorOpMath: Int32 = 1
    public static let tensorOpMathAllowConversion: Int32 = 2
    public static let fmaMath: Int32 = 3
    public static let deterministic: Int32 = 1
    public static let batchNormSpatial: Int32 = 1
}

public struct CuDNNAPI: Sendable {
    public typealias Handle = OpaquePointer?
    typealias Create = @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Int32
    typealias Destroy = @convention(c) (OpaquePointer?) -> Int32
    /// A `cudnnConvolution*AlgoPerf_t *` (an array of ``CuDNNAlgorithmPerformance``; a Swift struct pointer is not C-representable).
    typealias Perf = UnsafeMutableRawPointer?
    let library: DynamicLibrary

    let cudnnGetVersion: @convention(c) () -> Int
    let cudnnGetErrorString: @convention(c) (Int32) -> UnsafePointer<CChar>?
    let cudnnCreate: Create
    let cudnnDestroy: Destroy
    let cudnnCreateTensorDescriptor: Create
    let cudnnDestroyTensorDescriptor: Destroy
    let cudnnSetTensor4dDescriptor: @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32, Int32) -> Int32
    let cudnnCreateFilterDescriptor: Create
    let cudnnDestroyFilterDescriptor: Destroy
    let cudnnSetFilter4dDescriptor: @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32, Int32) -> Int32
    let cudnnCreateConvolutionDescriptor: Create
    let cudnnDestroyConvolutionDescriptor: Destroy
    let cudnnSetConvolution2dDescriptor: @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) -> Int32
    let cudnnSetConvolutionGroupCount: @convention(c) (OpaquePointer?, Int32) -> Int32
    let cudnnSetConvolutionMathType: @convention(c) (OpaquePointer?, Int32) -> Int32
    let cudnnGetConvolution2dForwardOutputDim:
        @convention(c) (
            OpaquePointer?, OpaquePointer?, OpaquePointer?, UnsafeMutablePointer<Int32>?,
            UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?
        ) -> Int32

    let cudnnFindConvolutionForwardAlgorithmEx:
        @convention(c) (
            Handle, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?,
            OpaquePointer?, UnsafeMutableRawPointer?, Int32, UnsafeMutablePointer<Int32>?, Perf,
            UnsafeMutableRawPointer?, Int
        ) -> Int32
    let cudnnGetConvolutionForwardAlgorithm_v7:
        @convention(c) (
            Handle, OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, Int32,
            UnsafeMutablePointer<Int32>?, Perf
        ) -> Int32
    let cudnnGetConvolutionForwardWorkspaceSize:
        @convention(c) (
            Handle, OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, Int32,
            UnsafeMutablePointer<Int>?
        ) -> Int32
    let cudnnConvolutionForward:
        @convention(c) (
            Handle, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?,
            OpaquePointer?, Int32, UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, OpaquePointer?,
            UnsafeMutableRawPointer?
        ) -> Int32

    let cudnnFindConvolutionBackwardDataAlgorithmEx:
        @convention(c) (
            Handle, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?,
            OpaquePointer?, UnsafeMutableRawPointer?, Int32, UnsafeMutablePointer<Int32>?, Perf,
            UnsafeMutableRawPointer?, Int
        ) -> Int32
    let cudnnGetConvolutionBackwardDataAlgorithm_v7:
        @convention(c) (
            Handle, OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, Int32,
            UnsafeMutablePointer<Int32>?, Perf
        ) -> Int32
    let cudnnGetConvolutionBackwardDataWorkspaceSize:
        @convention(c) (
            Handle, OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, Int32,
            UnsafeMutablePointer<Int>?
        ) -> Int32
    let cudnnConvolutionBackwardData:
        @convention(c) (
            Handle, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?,
            OpaquePointer?, Int32, UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, OpaquePointer?,
            UnsafeMutableRawPointer?
        ) -> Int32

    let cudnnFindConvolutionBackwardFilterAlgorithmEx:
        @convention(c) (
            Handle, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?,
            OpaquePointer?, UnsafeMutableRawPointer?, Int32, UnsafeMutablePointer<Int32>?, Perf,
            UnsafeMutableRawPointer?, Int
        ) -> Int32
    let cudnnGetConvolutionBackwardFilterAlgorithm_v7:
        @convention(c) (
            Handle, OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, Int32,
            UnsafeMutablePointer<Int32>?, Perf
        ) -> Int32
    let cudnnGetConvolutionBackwardFilterWorkspaceSize:
        @convention(c) (
            Handle, OpaquePointer?, OpaquePointer?, OpaquePointer?, OpaquePointer?, Int32,
            UnsafeMutablePointer<Int>?
        ) -> Int32
    let cudnnConvolutionBackwardFilter:
        @convention(c) (
            Handle, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?,
            OpaquePointer?, Int32, UnsafeMutableRawPointer?, Int, UnsafeRawPointer?, OpaquePointer?,
            UnsafeMutableRawPointer?
        ) -> Int32

    let cudnnDeriveBNTensorDescriptor: @convention(c) (OpaquePointer?, OpaquePointer?, Int32) -> Int32
    let cudnnBatchNormalizationForwardTraining:
        @convention(c) (
            Handle, Int32, UnsafeRawPointer?, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?,
            OpaquePointer?, UnsafeMutableRawPointer?, OpaquePointer?, UnsafeRawPointer?, UnsafeRawPointer?,
            Double, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Double,
            UnsafeMutableRawPointer?, UnsafeMutableRawPointer?
        ) -> Int32
    let cudnnBatchNormalizationForwardInference:
        @convention(c) (
            Handle, Int32, UnsafeRawPointer?, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?,
            OpaquePointer?, UnsafeMutableRawPointer?, OpaquePointer?, UnsafeRawPointer?, UnsafeRawPointer?,
            UnsafeRawPointer?, UnsafeRawPointer?, Double
        ) -> Int32
    let cudnnBatchNormalizationBackward:
        @convention(c) (
            Handle, Int32, UnsafeRawPointer?, UnsafeRawPointer?, UnsafeRawPointer?, UnsafeRawPointer?,
            OpaquePointer?, UnsafeRawPointer?, OpaquePointer?, UnsafeRawPointer?, OpaquePointer?,
            UnsafeMutableRawPointer?, OpaquePointer?, UnsafeRawPointer?, UnsafeMutableRawPointer?,
            UnsafeMutableRawPointer?, Double, UnsafeRawPointer?, UnsafeRawPointer?
        ) -> Int32

    public init(_ lib: DynamicLibrary) throws {
        library = lib
        cudnnGetVersion = try lib.symbol("cudnnGetVersion")
        cudnnGetErrorString = try lib.symbol("cudnnGetErrorString")
        cudnnCreate = try lib.symbol("cudnnCreate")
        cudnnDestroy = try lib.symbol("cudnnDestroy")
        cudnnCreateTensorDescriptor = try lib.symbol("cudnnCreateTensorDescriptor")
        cudnnDestroyTensorDescriptor = try lib.symbol("cudnnDestroyTensorDescriptor")
        cudnnSetTensor4dDescriptor = try lib.symbol("cudnnSetTensor4dDescriptor")
        cudnnCreateFilterDescriptor = try lib.symbol("cudnnCreateFilterDescriptor")
        cudnnDestroyFilterDescriptor = try lib.symbol("cudnnDestroyFilterDescriptor")
        cudnnSetFilter4dDescriptor = try lib.symbol("cudnnSetFilter4dDescriptor")
        cudnnCreateConvolutionDescriptor = try lib.symbol("cudnnCreateConvolutionDescriptor")
        cudnnDestroyConvolutionDescriptor = try lib.symbol("cudnnDestroyConvolutionDescriptor")
        cudnnSetConvolution2dDescriptor = try lib.symbol("cudnnSetConvolution2dDescriptor")
        cudnnSetConvolutionGroupCount = try lib.symbol("cudnnSetConvolutionGroupCount")
        cudnnSetConvolutionMathType = try lib.symbol("cudnnSetConvolutionMathType")
        cudnnGetConvolution2dForwardOutputDim = try lib.symbol("cudnnGetConvolution2dForwardOutputDim")
        cudnnFindConvolutionForwardAlgorithmEx = try lib.symbol("cudnnFindConvolutionForwardAlgorithmEx")
        cudnnGetConvolutionForwardAlgorithm_v7 = try lib.symbol("cudnnGetConvolutionForwardAlgorithm_v7")
        cudnnGetConvolutionForwardWorkspaceSize = try lib.symbol("cudnnGetConvolutionForwardWorkspaceSize")
        cudnnConvolutionForward = try lib.symbol("cudnnConvolutionForward")
        cudnnFindConvolutionBackwardDataAlgorithmEx = try lib.symbol("cudnnFindConvolutionBackwardDataAlgorithmEx")
        cudnnGetConvolutionBackwardDataAlgorithm_v7 = try lib.symbol("cudnnGetConvolutionBackwardDataAlgorithm_v7")
        cudnnGetConvolutionBackwardDataWorkspaceSize = try lib.symbol("cudnnGetConvolutionBackwardDataWorkspaceSize")
        cudnnConvolutionBackwardData = try lib.symbol("cudnnConvolutionBackwardData")
        cudnnFindConvolutionBackwardFilterAlgorithmEx = try lib.symbol("cudnnFindConvolutionBackwardFilterAlgorithmEx")
        cudnnGetConvolutionBackwardFilterAlgorithm_v7 = try lib.symbol("cudnnGetConvolutionBackwardFilterAlgorithm_v7")
        cudnnGetConvolutionBackwardFilterWorkspaceSize = try lib.symbol("cudnnGetConvolutionBackwardFilterWorkspaceSize")
        cudnnConvolutionBackwardFilter = try lib.symbol("cudnnConvolutionBackwardFilter")
        cudnnDeriveBNTensorDescriptor = try lib.symbol("cudnnDeriveBNTensorDescriptor")
        cudnnBatchNormalizationForwardTraining = try lib.symbol("cudnnBatchNormalizationForwardTraining")
        cudnnBatchNormalizationForwardInference = try lib.symbol("cudnnBatchNormalizationForwardInference")
        cudnnBatchNormalizationBackward = try lib.symbol("cudnnBatchNormalizationBackward")
    }

    public func describe(_ status: Int32) -> String {
        guard let text = cudnnGetErrorString(status) else { return "cudnnStatus \(status)" }
        return "\(String(cString: text)) (\(status))"
    }

    public func check(_ status: Int32, _ call: @autoclosure () -> String) throws {
        guard status != CuDNN.statusSuccess else { return }
        throw ResNeXtError.backend("\(call()) failed: \(describe(status))")
    }

    /// "9.14.0" from `cudnnGetVersion()` (major·10000 + minor·100 + patch since cuDNN 9; major·1000 + minor·100 + patch before).
    public func versionString() -> String {
        CuDNNAPI.versionString(cudnnGetVersion())
    }

    public static func versionString(_ v: Int) -> String {
        v >= 90000 ? "\(v / 10000).\((v % 10000) / 100).\(v % 100)" : "\(v / 1000).\((v % 1000) / 100).\(v % 100)"
    }
}

// MARK: - cuBLAS

public enum CuBLAS {
    public static let opN: Int32 = 0
    public static let opT: Int32 = 1
    public static let defaultMath: Int32 = 0
    public static let pedanticMath: Int32 = 2
    public static let tf32TensorOpMath: Int32 = 3

    /// `cublasStatus_t` names, for libraries without `cublasGetStatusString`.
    public static func statusName(_ status: Int32) -> String {
        switch status {
        case 0: "CUBLAS_STATUS_SUCCESS"
        case 1: "CUBLAS_STATUS_NOT_INITIALIZED"
        case 3: "CUBLAS_STATUS_ALLOC_FAILED"
        case 7: "CUBLAS_STATUS_INVALID_VALUE"
        case 8: "CUBLAS_STATUS_ARCH_MISMATCH"
        case 11: "CUBLAS_STATUS_MAPPING_ERROR"
        case 13: "CUBLAS_STATUS_EXECUTION_FAILED"
        case 14: "CUBLAS_STATUS_INTERNAL_ERROR"
        case 15: "CUBLAS_STATUS_NOT_SUPPORTED"
        case 16: "CUBLAS_STATUS_LICENSE_ERROR"
        default: "cublasStatus"
        }
    }
}

public struct CuBLASAPI: Sendable {
    let library: DynamicLibrary
    let cublasCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Int32
    let cublasDestroy: @convention(c) (OpaquePointer?) -> Int32
    let cublasSetMathMode: @convention(c) (OpaquePointer?, Int32) -> Int32
    let cublasGetVersion: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?) -> Int32
    let cublasSgemm:
        @convention(c) (
            OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>?, UnsafePointer<Float>?, Int32,
            UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int32
        ) -> Int32
    let cublasGetStatusString: (@convention(c) (Int32) -> UnsafePointer<CChar>?)?

    public init(_ lib: DynamicLibrary) throws {
        library = lib
        cublasCreate = try lib.symbol("cublasCreate_v2")
        cublasDestroy = try lib.symbol("cublasDestroy_v2")
        cublasSetMathMode = try lib.symbol("cublasSetMathMode")
        cublasGetVersion = try lib.symbol("cublasGetVersion_v2")
        cublasSgemm = try lib.symbol("cublasSgemm_v2")
        cublasGetStatusString = lib.optionalSymbol("cublasGetStatusString")
    }

    public func describe(_ status: Int32) -> String {
        if let f = cublasGetStatusString, let text = f(status) { return "\(String(cString: text)) (\(status))" }
        return "\(CuBLAS.statusName(status)) (\(status))"
    }

    public func check(_ status: Int32, _ call: @autoclosure () -> String) throws {
        guard status != 0 else { return }
        throw ResNeXtError.backend("\(call()) failed: \(describe(status))")
    }
}
