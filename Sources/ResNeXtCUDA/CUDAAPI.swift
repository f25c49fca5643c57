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

/// CUDA's version numbers: 1000·major + 10·minor (`cuDriverGetVersion`, `cudnnGetCudartVersion`).
public enum CUDAVersion {
    /// "13.0" for 13000, "12.8" for 12080.
    public static func string(_ v: Int) -> String { "\(v / 1000).\((v % 1000) / 10)" }
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
    let cuMemHostAlloc: @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int, UInt32) -> CUresult
    let cuMemFreeHost: @convention(c) (UnsafeMutableRawPointer?) -> CUresult
    let cuMemcpyHtoDAsync: @convention(c) (CUdeviceptr, UnsafeRawPointer?, Int, OpaquePointer?) -> CUresult
    let cuEventCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UInt32) -> CUresult
    let cuEventRecord: @convention(c) (OpaquePointer?, OpaquePointer?) -> CUresult
    let cuEventSynchronize: @convention(c) (OpaquePointer?) -> CUresult
    let cuEventDestroy: @convention(c) (OpaquePointer?) -> CUresult
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
        cuMemHostAlloc = try lib.symbol("cuMemHostAlloc")
        cuMemFreeHost = try lib.symbol("cuMemFreeHost")
        cuMemcpyHtoDAsync = try lib.symbol("cuMemcpyHtoDAsync_v2")
        cuEventCreate = try lib.symbol("cuEventCreate")
        cuEventRecord = try lib.symbol("cuEventRecord")
        cuEventSynchronize = try lib.symbol("cuEventSynchronize")
        cuEventDestroy = try lib.symbol("cuEventDestroy_v2")
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

    /// The CUDA version the driver supports ("13.0"), or nil when it cannot say.
    public func versionString() -> String? {
        var v: Int32 = 0
        guard cuDriverGetVersion(&v) == 0, v > 0 else { return nil }
        return CUDAVersion.string(Int(v))
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
    /// CUDA 11.1+: device code (CUBIN) for a real architecture (`--gpu-architecture=sm_XY`).
    let nvrtcGetCUBINSize: (@convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>?) -> Int32)?
    let nvrtcGetCUBIN: (@convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int32)?

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
        nvrtcGetCUBINSize = lib.optionalSymbol("nvrtcGetCUBINSize")
        nvrtcGetCUBIN = lib.optionalSymbol("nvrtcGetCUBIN")
    }

    /// Whether this NVRTC can hand out CUBIN (else only PTX, which the driver must be new enough to JIT).
    public var emitsCUBIN: Bool { nvrtcGetCUBINSize != nil && nvrtcGetCUBIN != nil }

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
