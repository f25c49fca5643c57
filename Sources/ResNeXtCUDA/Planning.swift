import ResNeXtCore

// The pure part of the GPU operations: descriptor parameters, algorithm cache keys and choice, GEMM
// operand mapping. None of it calls CUDA, so it is unit-tested on machines without a GPU.

/// How cuDNN convolution algorithms are chosen (the original's `-cudnn fastest | deterministic | default`).
public enum CUDAAlgorithmSearch: String, Sendable, CaseIterable {
    /// Benchmark every algorithm once per shape with `cudnnFind*AlgorithmEx` and keep the fastest
    /// (PyTorch's `cudnn.benchmark = True`).
    case fastest
    /// Benchmark, but keep only algorithms cuDNN marks deterministic (bit-identical reruns).
    case deterministic
    /// cuDNN's heuristic (`cudnnGet*Algorithm_v7`): no benchmarking, the first usable algorithm.
    case heuristic
}

/// The three convolution passes cuDNN runs.
public enum ConvolutionDirection: String, Sendable, CaseIterable {
    case forward, backwardData, backwardFilter
}

/// Everything the cuDNN descriptors of a grouped 2-D convolution need, as 32-bit sizes.
public struct ConvolutionGeometry: Hashable, Sendable, CustomStringConvertible {
    /// `[N, C, H, W]` of the input.
    public let input: [Int32]
    /// `[O, C / groups, KH, KW]`: cuDNN's filter descriptor takes the per-group input channels.
    public let filter: [Int32]
    /// `[N, O, OH, OW]`.
    public let output: [Int32]
    public let padding: [Int32]
    public let stride: [Int32]
    public let dilation: [Int32]
    public let groups: Int32

    /// Validates the shapes exactly as the CPU backend does (same errors), then converts to cuDNN's
    /// 32-bit sizes.
    public init(input: Shape, weight: Shape, _ p: Convolution2DParameters) throws {
        let out = try p.outputShape(input: input, weight: weight)
        func int32(_ dims: [Int], _ what: String) throws -> [Int32] {
            guard dims.allSatisfy({ $0 <= Int(Int32.max) }),
                dims.reduce(1, { $0.multipliedReportingOverflow(by: $1).partialValue }) <= Int(Int32.max)
            else {
                throw ResNeXtError.unsupported("convolution \(what) \(dims) exceeds cuDNN's 32-bit tensor sizes")
            }
            return dims.map { Int32($0) }
        }
        self.input = try int32(input.dims, "input")
        self.filter = try int32(weight.dims, "weight")
        self.output = try int32(out.dims, "output")
        self.padding = try int32([p.padH, p.padW], "padding")
        self.stride = try int32([p.strideH, p.strideW], "stride")
        self.dilation = [1, 1]
        self.groups = Int32(p.groups)
    }

    public var outputShape: Shape { Shape(output.map(Int.init)) }

    public var description: String {
        "x=\(input) w=\(filter) y=\(output) stride=\(stride[0])x\(stride[1]) pad=\(padding[0])x\(padding[1]) groups=\(groups)"
    }
}

/// The key of the per-shape algorithm cache: one benchmark per geometry, pass, precision and policy.
public struct ConvolutionAlgorithmKey: Hashable, Sendable, CustomStringConvertible {
    public let geometry: ConvolutionGeometry
    public let direction: ConvolutionDirection
    public let allowTF32: Bool
    public let search: CUDAAlgorithmSearch

    public init(geometry: ConvolutionGeometry, direction: ConvolutionDirection, allowTF32: Bool, search: CUDAAlgorithmSearch) {
        self.geometry = geometry
        self.direction = direction
        self.allowTF32 = allowTF32
        self.search = search
    }

    public var description: String {
        "\(direction.rawValue) \(geometry) \(allowTF32 ? "tf32" : "fp32") \(search.rawValue)"
    }
}

/// An algorithm chosen for one key: what to run, with which math type and workspace.
public struct ConvolutionAlgorithmChoice: Sendable, Equatable {
    public let algorithm: Int32
    public let mathType: Int32
    public let workspaceBytes: Int
    /// Measured milliseconds (benchmarked searches), or -1.
    public let time: Float
}

public enum ConvolutionAlgorithmSelection {
    /// The math type set on the convolution descriptor before searching: cuDNN's default (which allows
    /// TF32 tensor cores on Ampere and later, as PyTorch's `allow_tf32`) or FMA-only fp32.
    ///
    /// `CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION` is not used: it lets cuDNN down-convert fp32 data to fp16,
    /// which is less precise than TF32.
    public static func searchMathType(allowTF32: Bool) -> Int32 {
        allowTF32 ? CuDNN.defaultMath : CuDNN.fmaMath
    }

    /// The math type to run a chosen algorithm with: the one its benchmark used, or FMA when TF32 is off.
    public static func runMathType(_ chosen: CuDNNAlgorithmPerformance, allowTF32: Bool) -> Int32 {
        allowTF32 ? chosen.mathType : CuDNN.fmaMath
    }

    /// Whether `algorithm` computes the convolution through a transform (FFT, tiled FFT, non-fused
    /// Winograd), whose rounding errors exceed fp32 accuracy (1e-5 relative): cuDNN's enum values per pass.
    public static func isTransform(_ algorithm: Int32, _ direction: ConvolutionDirection) -> Bool {
        switch direction {
        case .forward: [4, 5, 7].contains(algorithm)  // FFT, FFT_TILING, WINOGRAD_NONFUSED
        case .backwardData: [2, 3, 5].contains(algorithm)  // FFT, FFT_TILING, WINOGRAD_NONFUSED
        case .backwardFilter: [2, 5, 6].contains(algorithm)  // FFT, WINOGRAD_NONFUSED, FFT_TILING
        }
    }

    /// The algorithm to use among cuDNN's results: those that succeeded, fit the workspace, are
    /// deterministic when asked, and, when TF32 is off (fp32 accuracy), use no tensor-op math and no
    /// transform (``isTransform(_:_:)``); the fastest measured one (benchmarked searches) or the first
    /// (heuristic order).
    public static func choose(
        _ results: [CuDNNAlgorithmPerformance], direction: ConvolutionDirection, search: CUDAAlgorithmSearch, allowTF32: Bool,
        workspaceLimit: Int
    ) -> CuDNNAlgorithmPerformance? {
        let usable = results.filter { r in
            r.status == CuDNN.statusSuccess && r.memory >= 0 && r.memory <= workspaceLimit
                && (search != .deterministic || r.determinism == CuDNN.deterministic)
                && (allowTF32
                    || (r.mathType != CuDNN.tensorOpMath && r.mathType != CuDNN.tensorOpMathAllowConversion
                        && !isTransform(r.algorithm, direction)))
        }
        switch search {
        case .heuristic:
            return usable.first
        case .fastest, .deterministic:
            var best: CuDNNAlgorithmPerformance?
            for r in usable where r.time >= 0 && (best == nil || r.time < best!.time) { best = r }
            return best ?? usable.first
        }
    }

    /// One line per result, for errors when nothing fits.
    public static func summary(_ results: [CuDNNAlgorithmPerformance]) -> String {
        results.isEmpty
            ? "no results"
            : results.map {
                "algo \($0.algorithm): status \($0.status), \($0.time) ms, \($0.memory) bytes, math \($0.mathType), deterministic "
                    + "\($0.determinism)"
            }.joined(separator: "; ")
    }
}

/// cuDNN's view of a batch-normalization input: `[N, C, H, W]`, with `[N, C]` as `[N, C, 1, 1]`.
public enum BatchNormGeometry {
    /// The dims of a non-empty input (cuDNN rejects empty ones; the CPU backend accepts them).
    public static func dims(_ shape: Shape) throws -> [Int32] {
        guard shape.elementCount > 0 else {
            throw ResNeXtError.invalidArgument("batch normalization of an empty input \(shape)")
        }
        let d = shape.rank == 2 ? [shape[0], shape[1], 1, 1] : shape.dims
        guard d.count == 4, d.allSatisfy({ $0 <= Int(Int32.max) }) else {
            throw ResNeXtError.unsupported("batch normalization input \(shape) exceeds cuDNN's 32-bit tensor sizes")
        }
        return d.map { Int32($0) }
    }

    /// N·H·W: the number of values each channel's statistics average over.
    public static func valuesPerChannel(_ shape: Shape) -> Int {
        shape.rank >= 2 && shape[1] > 0 ? shape.elementCount / shape[1] : 0
    }
}

/// One column-major `C = α·op(A)·op(B) + β·C` (cuBLAS's `cublasSgemm`) over row-major tensors.
public struct GemmCall: Sendable, Equatable, CustomStringConvertible {
    /// Which tensor of the linear layer an operand is.
    public enum Operand: String, Sendable, Equatable { case input, weight, outputGradient }

    public let transA: Int32
    public let transB: Int32
    public let m: Int, n: Int, k: Int
    public let a: Operand, lda: Int
    public let b: Operand, ldb: Int
    public let ldc: Int

    public init(transA: Int32, transB: Int32, m: Int, n: Int, k: Int, a: Operand, lda: Int, b: Operand, ldb: Int, ldc: Int) {
        self.transA = transA
        self.transB = transB
        self.m = m
        self.n = n
        self.k = k
        self.a = a
        self.lda = lda
        self.b = b
        self.ldb = ldb
        self.ldc = ldc
    }

    public var description: String {
        "sgemm(\(transA == CuBLAS.opT ? "T" : "N"), \(transB == CuBLAS.opT ? "T" : "N"), m=\(m), n=\(n), k=\(k), A=\(a.rawValue) "
            + "lda=\(lda), B=\(b.rawValue) ldb=\(ldb), ldc=\(ldc))"
    }

    /// True when the product is empty (cuBLAS rejects nothing here, but there is nothing to run).
    public var isEmpty: Bool { m == 0 || n == 0 }
}

/// The linear layer's three products as column-major GEMMs. A row-major `[R, C]` buffer is the
/// column-major `C × R` matrix, its transpose; so `Y = X·Wᵀ` (row-major) is `Yᵀ = W·Xᵀ` (column-major).
public enum LinearGemm {
    /// `y [N, O] = x [N, K] · W[O, K]ᵀ`: column-major `yᵀ (O×N) = op_T(W buffer, K×O) · xᵀ (K×N)`.
    public static func forward(batch: Int, inFeatures: Int, outFeatures: Int) -> GemmCall {
        GemmCall(
            transA: CuBLAS.opT, transB: CuBLAS.opN, m: outFeatures, n: batch, k: inFeatures,
            a: .weight, lda: max(1, inFeatures), b: .input, ldb: max(1, inFeatures), ldc: max(1, outFeatures))
    }

    /// `dx [N, K] = dy [N, O] · W [O, K]`: column-major `dxᵀ (K×N) = Wᵀ (K×O) · dyᵀ (O×N)`.
    public static func backwardData(batch: Int, inFeatures: Int, outFeatures: Int) -> GemmCall {
        GemmCall(
            transA: CuBLAS.opN, transB: CuBLAS.opN, m: inFeatures, n: batch, k: outFeatures,
            a: .weight, lda: max(1, inFeatures), b: .outputGradient, ldb: max(1, outFeatures), ldc: max(1, inFeatures))
    }

    /// `dW [O, K] = dy [N, O]ᵀ · x [N, K]`: column-major `dWᵀ (K×O) = xᵀ (K×N) · op_T(dy buffer, O×N)`.
    public static func backwardWeights(batch: Int, inFeatures: Int, outFeatures: Int) -> GemmCall {
        GemmCall(
            transA: CuBLAS.opN, transB: CuBLAS.opT, m: inFeatures, n: outFeatures, k: batch,
            a: .input, lda: max(1, inFeatures), b: .outputGradient, ldb: max(1, outFeatures), ldc: max(1, inFeatures))
    }
}
