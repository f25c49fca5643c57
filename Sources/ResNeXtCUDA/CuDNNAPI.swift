import ResNeXtCore

// The cuDNN calls the backend makes (the legacy convolution and batch-normalization API, present in
// cuDNN 9's sub-libraries), with cuDNN 9's error details and sub-library checks resolved as optional.

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

/// One of cuDNN 9's sub-libraries, which its front library `libcudnn.so.9` loads on first use.
public struct CuDNNSubLibrary: Sendable, Equatable {
    /// The file the front library loads ("libcudnn_cnn.so.9").
    public let file: String
    /// The function that loads it and checks its version ("cudnnCnnVersionCheck").
    public let check: String
    /// What the backend needs it for.
    public let provides: String

    /// The sub-libraries the backend uses, in dependency order (adv, RNNs and attention, is not used).
    public static let used = [
        CuDNNSubLibrary(file: "libcudnn_graph.so.9", check: "cudnnGraphVersionCheck", provides: "descriptors, the graph API"),
        CuDNNSubLibrary(file: "libcudnn_ops.so.9", check: "cudnnOpsVersionCheck", provides: "batch normalization"),
        CuDNNSubLibrary(file: "libcudnn_cnn.so.9", check: "cudnnCnnVersionCheck", provides: "convolutions")
    ]
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
    /// cuDNN 9: the calling thread's last error message (cleared by reading it).
    let cudnnGetLastErrorString: (@convention(c) (UnsafeMutablePointer<CChar>?, Int) -> Void)?
    /// The CUDA runtime version cuDNN was built for (1000·major + 10·minor).
    let cudnnGetCudartVersion: (@convention(c) () -> Int)?
    /// cuDNN 9's sub-library checks present in this library, in ``CuDNNSubLibrary/used`` order.
    let subLibraryChecks: [(CuDNNSubLibrary, @convention(c) () -> Int32)]
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
        cudnnGetLastErrorString = lib.optionalSymbol("cudnnGetLastErrorString")
        cudnnGetCudartVersion = lib.optionalSymbol("cudnnGetCudartVersion")
        subLibraryChecks = CuDNNSubLibrary.used.compactMap { sub in
            lib.optionalSymbol(sub.check, as: (@convention(c) () -> Int32).self).map { (sub, $0) }
        }
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

    /// The calling thread's last error message from cuDNN 9 (what failed and why), or nil; reading clears it.
    public func lastErrorMessage() -> String? {
        guard let read = cudnnGetLastErrorString else { return nil }
        var buffer = [CChar](repeating: 0, count: 2048)
        read(&buffer, buffer.count - 1)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let trimmed = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return trimmed.isEmpty ? nil : trimmed
    }

    /// "CUDNN_STATUS_BAD_PARAM (2000); cuDNN: <its last error message>".
    func failure(_ status: Int32) -> String {
        let detail = lastErrorMessage()
        return describe(status) + (detail.map { "; cuDNN: \($0)" } ?? "")
    }

    public func check(_ status: Int32, _ call: @autoclosure () -> String) throws {
        guard status != CuDNN.statusSuccess else { return }
        let reason = failure(status)
        throw ResNeXtError.backend("\(call()) failed: \(reason)")
    }

    /// Loads cuDNN 9's sub-libraries now (the front library loads them lazily, so a missing dependency
    /// would otherwise fail the first convolution with CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED), throwing
    /// ``ResNeXtError/unsupported(_:)`` naming the first that fails. Older cuDNNs have no such checks.
    public func loadSubLibraries() throws {
        for (sub, check) in subLibraryChecks {
            let status = check()
            guard status != CuDNN.statusSuccess else { continue }
            throw ResNeXtError.unsupported(
                "cuDNN \(versionString()) (\(library.path)) cannot load its sub-library \(sub.file) (\(sub.provides)): \(sub.check)() "
                    + "returned \(failure(status)); run ldd on \(sub.file) beside \(library.path) to see what it lacks, or set "
                    + "RESNEXT_LIBCUDNN to another cuDNN 9 (with its directory first in LD_LIBRARY_PATH)")
        }
    }

    /// "13.0": the CUDA version cuDNN was built for, or nil when it cannot say.
    public func builtForCUDA() -> String? {
        guard let v = cudnnGetCudartVersion?(), v > 0 else { return nil }
        return CUDAVersion.string(v)
    }

    /// "9.14.0" from `cudnnGetVersion()` (major·10000 + minor·100 + patch since cuDNN 9; major·1000 + minor·100 + patch before).
    public func versionString() -> String {
        CuDNNAPI.versionString(cudnnGetVersion())
    }

    public static func versionString(_ v: Int) -> String {
        v >= 90000 ? "\(v / 10000).\((v % 10000) / 100).\(v % 100)" : "\(v / 1000).\((v % 1000) / 100).\(v % 100)"
    }
}
