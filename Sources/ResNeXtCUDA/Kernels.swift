/// The CUDA C kernels of the backend, compiled at run time by NVRTC for the device's architecture.
///
/// Each kernel's signature is data (``KernelParameter``s): the C signature is generated from it, and a
/// launch checks its arguments against it, so Swift and CUDA C cannot silently disagree about an
/// argument's type or position. Kernels are grouped in sets; each set is one NVRTC program and one
/// module, compiled the first time one of its kernels is launched.
public enum KernelSet: String, Sendable, CaseIterable {
    case elementwise, layout, pooling, loss, normalization, optimizer
}

/// How a kernel argument is passed (`cuLaunchKernel` copies each from a pointer to its value).
public enum KernelParameterKind: String, Sendable, Equatable {
    case pointer, int64, int32, float32, float64

    public var byteSize: Int {
        switch self {
        case .pointer, .int64, .float64: 8
        case .int32, .float32: 4
        }
    }
}

/// One parameter of a kernel: its C declaration and how Swift passes it.
public struct KernelParameter: Sendable, Equatable {
    public let kind: KernelParameterKind
    public let cType: String
    public let name: String

    public static func input(_ name: String) -> KernelParameter { .init(kind: .pointer, cType: "const float* __restrict__", name: name) }
    public static func output(_ name: String) -> KernelParameter { .init(kind: .pointer, cType: "float* __restrict__", name: name) }
    public static func inputInts(_ name: String) -> KernelParameter { .init(kind: .pointer, cType: "const int* __restrict__", name: name) }
    public static func outputInts(_ name: String) -> KernelParameter { .init(kind: .pointer, cType: "int* __restrict__", name: name) }
    public static func outputDoubles(_ name: String) -> KernelParameter { .init(kind: .pointer, cType: "double* __restrict__", name: name) }
    public static func int64(_ name: String) -> KernelParameter { .init(kind: .int64, cType: "long long", name: name) }
    public static func int32(_ name: String) -> KernelParameter { .init(kind: .int32, cType: "int", name: name) }
    public static func float(_ name: String) -> KernelParameter { .init(kind: .float32, cType: "float", name: name) }
}

/// A kernel argument as Swift passes it.
public enum KernelArgument: Sendable, Equatable {
    case pointer(CUdeviceptr)
    case int64(Int64)
    case int32(Int32)
    case float32(Float)
    case float64(Double)

    public static func count(_ n: Int) -> KernelArgument { .int64(Int64(n)) }
    public static func int(_ n: Int) -> KernelArgument { .int32(Int32(truncatingIfNeeded: n)) }

    public var kind: KernelParameterKind {
        switch self {
        case .pointer: .pointer
        case .int64: .int64
        case .int32: .int32
        case .float32: .float32
        case .float64: .float64
        }
    }

    /// The value's bytes in the low end of an 8-byte slot (little-endian), as the kernel reads them.
    public var slot: UInt64 {
        switch self {
        case .pointer(let p): p
        case .int64(let v): UInt64(bitPattern: v)
        case .int32(let v): UInt64(UInt32(bitPattern: v))
        case .float32(let v): UInt64(v.bitPattern)
        case .float64(let v): v.bitPattern
        }
    }
}

/// How a kernel is launched.
public enum KernelLaunchStyle: Sendable, Equatable {
    /// A grid-stride loop over a number of items, 256 threads a block.
    case gridStride
    /// One block of exactly 256 threads per item (block-wide reductions), grid-stride over items.
    case blockPerItem
    /// A grid-stride loop over groups of four items (`float4` loads and stores), 256 threads a block.
    case gridStrideVector4
}

/// Every kernel of the backend.
public enum Kernel: String, Sendable, CaseIterable {
    case reluForward = "relu_forward"
    case reluBackward = "relu_backward"
    case addTensors = "add_tensors"
    case addChannelBias = "add_channel_bias"
    case copyChannels = "copy_channels"
    case channelSum = "channel_sum"
    case maxPoolForward = "max_pool_forward"
    case maxPoolBackward = "max_pool_backward"
    case averagePoolForward = "avg_pool_forward"
    case averagePoolBackward = "avg_pool_backward"
    case softmaxCrossEntropy = "softmax_cross_entropy"
    case topKLarger = "top_k_larger"
    case batchNormInvStdToVariance = "bn_invstd_to_variance"
    case batchNormVarianceToInvStd = "bn_variance_to_invstd"
    case sgdStep = "sgd_step"
    case sgdStepAll = "sgd_step_all"

    public var name: String { rawValue }
    /// The kernel's definition (built once: launches read it).
    public var definition: KernelDefinition { Kernels.table[self]! }
}

/// A kernel's set, parameters, launch style and body (CUDA C).
public struct KernelDefinition: Sendable, Equatable {
    public let kernel: Kernel
    public let set: KernelSet
    public let parameters: [KernelParameter]
    public let style: KernelLaunchStyle
    public let body: String

    /// `extern "C" __global__ void name(params) {` + body + `}`.
    public var source: String {
        let params = parameters.map { "\($0.cType) \($0.name)" }.joined(separator: ",\n    ")
        return "extern \"C\" __global__ void \(kernel.name)(\n    \(params))\n{\n\(body)\n}\n"
    }
}

public enum Kernels {
    /// Threads per block of every kernel (the block reductions assume exactly this many).
    public static let threadsPerBlock = 256

    /// Every definition, built once.
    static let table = Dictionary(uniqueKeysWithValues: Kernel.allCases.map { ($0, definition($0)) })

    /// Helpers shared by every set. NVRTC compiles without system headers, so nothing is included:
    /// `expf`, `exp`, `log`, `sqrt`, `fmaxf` are NVRTC built-ins. `resnext_float4` is a 16-byte aligned
    /// group of four floats (CUDA's `float4`, declared here so that nothing depends on built-in types).
    public static let prelude = """
        // resnext-swift CUDA kernels, compiled at run time by NVRTC. Logical layout NCHW, float32.
        #define RESNEXT_THREADS \(threadsPerBlock)
        #define RESNEXT_FOR_EACH(i, n) \\
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \\
                 i += (long long)blockDim.x * gridDim.x)
        static __device__ __forceinline__ int resnext_min(int a, int b) { return a < b ? a : b; }
        static __device__ __forceinline__ int resnext_max(int a, int b) { return a > b ? a : b; }
        struct alignas(16) resnext_float4 { float x, y, z, w; };
        // ReLU that keeps NaN (as PyTorch's).
        static __device__ __forceinline__ float resnext_relu(float v) { return (v > 0.0f || v != v) ? v : 0.0f; }
        // torch optim.sgd on one element: g = grad + wd·θ; v = g (first step) or μ·v + (1 − dampening)·g; θ −= lr·(g + μ·v | v).
        static __device__ __forceinline__ void resnext_sgd(float* theta, const float grad, float* velocity, const float learningRate,
            const float momentum, const float keep, const float weightDecay, const int nesterov, const int firstStep) {
            const float g = grad + weightDecay * *theta;
            const float v = firstStep ? g : momentum * *velocity + keep * g;
            *velocity = v;
            *theta -= learningRate * (nesterov ? g + momentum * v : v);
        }

        """

    /// The definitions of one set, in a fixed order.
    public static func definitions(of set: KernelSet) -> [KernelDefinition] {
        Kernel.allCases.map(definition).filter { $0.set == set }
    }

    /// The full CUDA C source of one set: the prelude and every kernel of the set.
    public static func source(for set: KernelSet) -> String {
        "// kernel set: \(set.rawValue)\n" + prelude + definitions(of: set).map(\.source).joined(separator: "\n")
    }

    /// The prelude and every kernel of every set, as one compilable program (for inspection:
    /// `resnext selftest --print-kernels`).
    public static var fullSource: String {
        "// all kernel sets\n" + prelude + KernelSet.allCases.flatMap(definitions(of:)).map(\.source).joined(separator: "\n")
    }

    // MARK: Templates

    /// A grid-stride loop over `n` elements running `statement` for element `i`.
    static func elementwise(_ kernel: Kernel, _ set: KernelSet, _ parameters: [KernelParameter], _ statement: String) -> KernelDefinition {
        KernelDefinition(
            kernel: kernel, set: set, parameters: parameters + [.int64("n")], style: .gridStride,
            body: "    RESNEXT_FOR_EACH(i, n) {\n        \(statement)\n    }")
    }

    /// A loop over `n` elements of the pointers `pointers` (all float) as groups of four when every pointer
    /// is 16-byte aligned, then over the rest one by one (all of them when one pointer is not aligned):
    /// `vector` handles `resnext_float4` values named `<pointer>4[i]`, `scalar` element `k`.
    static func vectorized(
        _ kernel: Kernel, _ set: KernelSet, _ parameters: [KernelParameter], vector: String, scalar: String
    ) -> KernelDefinition {
        let names = parameters.map(\.name)
        let aligned = names.map { "(unsigned long long)\($0)" }.joined(separator: " | ")
        let casts = parameters.map { p in
            p.cType.hasPrefix("const")
                ? "const resnext_float4* \(p.name)4 = (const resnext_float4*)\(p.name);"
                : "resnext_float4* \(p.name)4 = (resnext_float4*)\(p.name);"
        }.joined(separator: "\n    ")
        return KernelDefinition(
            kernel: kernel, set: set, parameters: parameters + [.int64("n")], style: .gridStrideVector4,
            body: """
                    const long long n4 = ((\(aligned)) & 15ull) ? 0 : n / 4;
                    \(casts)
                    RESNEXT_FOR_EACH(i, n4) {
                        \(vector)
                    }
                    RESNEXT_FOR_EACH(i, n - 4 * n4) {
                        const long long k = 4 * n4 + i;
                        \(scalar)
                    }
                """)
    }

    /// The window geometry parameters shared by the pooling kernels.
    static let poolGeometry: [KernelParameter] = [
        .int64("planes"), .int32("height"), .int32("width"), .int32("outHeight"), .int32("outWidth"),
        .int32("kernelH"), .int32("kernelW"), .int32("strideH"), .int32("strideW"), .int32("padH"), .int32("padW")
    ]

    /// Decomposes output index `i` into (plane, oh, ow) and the clipped window [hStart, hEnd) × [wStart, wEnd).
    static let outputWindow = """
                const int ow = (int)(i % outWidth);
                const int oh = (int)((i / outWidth) % outHeight);
                const long long plane = i / ((long long)outWidth * outHeight);
                const int h0 = oh * strideH - padH, w0 = ow * strideW - padW;
                const int hStart = resnext_max(h0, 0), wStart = resnext_max(w0, 0);
                const int hEnd = resnext_min(h0 + kernelH, height), wEnd = resnext_min(w0 + kernelW, width);
        """

    /// Decomposes input index `i` into (plane, h, w) and the range of output windows that contain it.
    static let inputWindows = """
                const int w = (int)(i % width);
                const int h = (int)((i / width) % height);
                const long long plane = i / ((long long)width * height);
                const int ohStart = (h + padH < kernelH) ? 0 : (h + padH - kernelH) / strideH + 1;
                const int ohEnd = resnext_min((h + padH) / strideH + 1, outHeight);
                const int owStart = (w + padW < kernelW) ? 0 : (w + padW - kernelW) / strideW + 1;
                const int owEnd = resnext_min((w + padW) / strideW + 1, outWidth);
                const long long outBase = plane * outHeight * outWidth;
        """

    /// The divisor of the average-pooling window starting at (h0, w0): the window clipped to the padded
    /// input (kernelH·kernelW in floor mode) when padding counts, else the number of real inputs.
    static let averageDivisor = """
                        int hEndPadded = resnext_min(h0 + kernelH, height + padH), wEndPadded = resnext_min(w0 + kernelW, width + padW);
                        const int poolSize = (hEndPadded - h0) * (wEndPadded - w0);
                        const int hs = resnext_max(h0, 0), ws = resnext_max(w0, 0);
                        const int he = resnext_min(hEndPadded, height), we = resnext_min(wEndPadded, width);
                        const int divisor = countIncludesPadding ? poolSize : (he - hs) * (we - ws);
        """

    // MARK: Definitions

    public static func definition(_ kernel: Kernel) -> KernelDefinition {
        switch kernel {
        case .reluForward:
            return vectorized(
                kernel, .elementwise, [.input("x"), .output("y")],
                vector: "resnext_float4 v = x4[i]; v.x = resnext_relu(v.x); v.y = resnext_relu(v.y); v.z = resnext_relu(v.z); "
                    + "v.w = resnext_relu(v.w); y4[i] = v;",
                scalar: "y[k] = resnext_relu(x[k]);")
        case .reluBackward:
            return vectorized(
                kernel, .elementwise, [.input("dy"), .input("y"), .output("dx")],
                vector: "const resnext_float4 g = dy4[i], o = y4[i]; resnext_float4 r; r.x = o.x > 0.0f ? g.x : 0.0f; "
                    + "r.y = o.y > 0.0f ? g.y : 0.0f; r.z = o.z > 0.0f ? g.z : 0.0f; r.w = o.w > 0.0f ? g.w : 0.0f; dx4[i] = r;",
                scalar: "dx[k] = y[k] > 0.0f ? dy[k] : 0.0f;")
        case .addTensors:
            return vectorized(
                kernel, .elementwise, [.input("a"), .input("b"), .output("out")],
                vector: "const resnext_float4 p = a4[i], q = b4[i]; resnext_float4 r; r.x = p.x + q.x; r.y = p.y + q.y; "
                    + "r.z = p.z + q.z; r.w = p.w + q.w; out4[i] = r;",
                scalar: "out[k] = a[k] + b[k];")
        case .addChannelBias:
            // y[n, c, ...] += bias[c] for y viewed as [*, channels, plane].
            return KernelDefinition(
                kernel: kernel, set: .elementwise,
                parameters: [.output("y"), .input("bias"), .int64("n"), .int64("channels"), .int64("plane")],
                style: .gridStride,
                body: "    RESNEXT_FOR_EACH(i, n) {\n        y[i] += bias[(i / plane) % channels];\n    }")
        case .copyChannels:
            // dst[b, dstOffset + c, p] = src[b, srcOffset + c, p] for c < channels: concatenation and split.
            return KernelDefinition(
                kernel: kernel, set: .layout,
                parameters: [
                    .input("src"), .output("dst"), .int64("batch"), .int64("srcChannels"), .int64("srcOffset"),
                    .int64("dstChannels"), .int64("dstOffset"), .int64("channels"), .int64("plane")
                ],
                style: .gridStride,
                body: """
                        const long long n = batch * channels * plane;
                        RESNEXT_FOR_EACH(i, n) {
                            const long long p = i % plane;
                            const long long c = (i / plane) % channels;
                            const long long b = i / (plane * channels);
                            dst[(b * dstChannels + dstOffset + c) * plane + p] = src[(b * srcChannels + srcOffset + c) * plane + p];
                        }
                    """)
        case .channelSum:
            // out[c] = Σ_{b, p} x[b, c, p], one block per channel, accumulated in double.
            return KernelDefinition(
                kernel: kernel, set: .layout,
                parameters: [.input("x"), .output("out"), .int64("batch"), .int64("channels"), .int64("plane")],
                style: .blockPerItem,
                body: """
                        __shared__ double partial[RESNEXT_THREADS];
                        const long long count = batch * plane;
                        for (long long c = blockIdx.x; c < channels; c += gridDim.x) {
                            double sum = 0.0;
                            for (long long j = threadIdx.x; j < count; j += blockDim.x) {
                                const long long b = j / plane, p = j % plane;
                                sum += (double)x[(b * channels + c) * plane + p];
                            }
                            partial[threadIdx.x] = sum;
                            __syncthreads();
                            for (int stride = RESNEXT_THREADS / 2; stride > 0; stride >>= 1) {
                                if ((int)threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
                                __syncthreads();
                            }
                            if (threadIdx.x == 0) out[c] = (float)partial[0];
                            __syncthreads();
                        }
                    """)
        case .maxPoolForward:
            // indices[i] = h·width + w of the maximum inside its plane (first maximum wins; NaN propagates).
            return KernelDefinition(
                kernel: kernel, set: .pooling,
                parameters: [.input("x"), .output("y"), .outputInts("indices")] + poolGeometry,
                style: .gridStride,
                body: """
                        const long long n = planes * outHeight * outWidth;
                        RESNEXT_FOR_EACH(i, n) {
                    \(outputWindow)
                            const float* xp = x + plane * height * width;
                            int best = hStart * width + wStart;
                            float bestValue = xp[best];
                            for (int h = hStart; h < hEnd; ++h) {
                                for (int w = wStart; w < wEnd; ++w) {
                                    const float v = xp[h * width + w];
                                    if (v > bestValue || (v != v && bestValue == bestValue)) { bestValue = v; best = h * width + w; }
                                }
                            }
                            y[i] = bestValue;
                            indices[i] = best;
                        }
                    """)
        case .maxPoolBackward:
            // Gathers, per input element, the gradients of the windows whose maximum it was (deterministic).
            return KernelDefinition(
                kernel: kernel, set: .pooling,
                parameters: [.input("dy"), .inputInts("indices"), .output("dx")] + poolGeometry,
                style: .gridStride,
                body: """
                        const long long n = planes * height * width;
                        RESNEXT_FOR_EACH(i, n) {
                    \(inputWindows)
                            const int local = h * width + w;
                            float sum = 0.0f;
                            for (int oh = ohStart; oh < ohEnd; ++oh) {
                                for (int ow = owStart; ow < owEnd; ++ow) {
                                    const long long o = outBase + (long long)oh * outWidth + ow;
                                    if (indices[o] == local) sum += dy[o];
                                }
                            }
                            dx[i] = sum;
                        }
                    """)
        case .averagePoolForward:
            return KernelDefinition(
                kernel: kernel, set: .pooling,
                parameters: [.input("x"), .output("y")] + poolGeometry + [.int32("countIncludesPadding")],
                style: .gridStride,
                body: """
                        const long long n = planes * outHeight * outWidth;
                        RESNEXT_FOR_EACH(i, n) {
                    \(outputWindow)
                            const float* xp = x + plane * height * width;
                            float sum = 0.0f;
                            for (int h = hStart; h < hEnd; ++h) {
                                for (int w = wStart; w < wEnd; ++w) sum += xp[h * width + w];
                            }
                            {
                    \(averageDivisor)
                                y[i] = sum / (float)divisor;
                            }
                        }
                    """)
        case .averagePoolBackward:
            return KernelDefinition(
                kernel: kernel, set: .pooling,
                parameters: [.input("dy"), .output("dx")] + poolGeometry + [.int32("countIncludesPadding")],
                style: .gridStride,
                body: """
                        const long long n = planes * height * width;
                        RESNEXT_FOR_EACH(i, n) {
                    \(inputWindows)
                            float sum = 0.0f;
                            for (int oh = ohStart; oh < ohEnd; ++oh) {
                                for (int ow = owStart; ow < owEnd; ++ow) {
                                    const int h0 = oh * strideH - padH, w0 = ow * strideW - padW;
                    \(averageDivisor)
                                    sum += dy[outBase + (long long)oh * outWidth + ow] / (float)divisor;
                                }
                            }
                            dx[i] = sum;
                        }
                    """)
        case .softmaxCrossEntropy:
            // Per row: rowLoss = logsumexp − logit[label]; gradient = (softmax − onehot) / rows (double internally).
            return KernelDefinition(
                kernel: kernel, set: .loss,
                parameters: [
                    .input("logits"), .inputInts("labels"), .output("gradient"), .outputDoubles("rowLoss"),
                    .int64("rows"), .int64("classes")
                ],
                style: .gridStride,
                body: """
                        RESNEXT_FOR_EACH(r, rows) {
                            const float* row = logits + r * classes;
                            float* g = gradient + r * classes;
                            float maxValue = row[0];
                            for (long long c = 1; c < classes; ++c) maxValue = fmaxf(maxValue, row[c]);
                            double sum = 0.0;
                            for (long long c = 0; c < classes; ++c) sum += exp((double)(row[c] - maxValue));
                            const double logSum = log(sum) + (double)maxValue;
                            const int label = labels[r];
                            rowLoss[r] = logSum - (double)row[label];
                            for (long long c = 0; c < classes; ++c) {
                                const double p = exp((double)row[c] - logSum);
                                g[c] = (float)((p - (c == label ? 1.0 : 0.0)) / (double)rows);
                            }
                        }
                    """)
        case .topKLarger:
            // larger[r] = how many logits of row r rank above the label's: strictly larger ones and NaNs (NaN ranks
            // highest, as in torch.topk); a NaN label logit ranks last (never correct).
            return KernelDefinition(
                kernel: kernel, set: .loss,
                parameters: [.input("logits"), .inputInts("labels"), .outputInts("larger"), .int64("rows"), .int64("classes")],
                style: .gridStride,
                body: """
                        RESNEXT_FOR_EACH(r, rows) {
                            const float* row = logits + r * classes;
                            const float target = row[labels[r]];
                            int count = 0;
                            if (isnan(target)) {
                                count = (int)classes;
                            } else {
                                for (long long c = 0; c < classes; ++c) count += (row[c] > target || isnan(row[c])) ? 1 : 0;
                            }
                            larger[r] = count;
                        }
                    """)
        case .batchNormInvStdToVariance:
            // cuDNN saves 1/sqrt(var + eps); the statistics keep the biased variance.
            return elementwise(
                kernel, .normalization, [.input("invStd"), .output("variance"), .float("epsilon")],
                "const double s = (double)invStd[i]; const double v = 1.0 / (s * s) - (double)epsilon; variance[i] = v > 0.0 ? (float)v : "
                    + "0.0f;"
            )
        case .batchNormVarianceToInvStd:
            return elementwise(
                kernel, .normalization, [.input("variance"), .output("invStd"), .float("epsilon")],
                "invStd[i] = (float)(1.0 / sqrt((double)variance[i] + (double)epsilon));")
        case .sgdStep:
            return elementwise(
                kernel, .optimizer,
                [
                    .output("parameter"), .input("gradient"), .output("velocity"), .float("learningRate"), .float("momentum"),
                    .float("keep"), .float("weightDecay"), .int32("nesterov"), .int32("firstStep")
                ],
                """
                resnext_sgd(parameter + i, gradient[i], velocity + i, learningRate, momentum, keep, weightDecay, nesterov, firstStep);
                """)
        case .sgdStepAll:
            // Every parameter in one launch: element i of the concatenation belongs to tensor t, the last with
            // offsets[t] <= i (binary search over `tensors` + 1 offsets).
            return elementwise(
                kernel, .optimizer,
                [
                    .init(kind: .pointer, cType: "float* const* __restrict__", name: "parameters"),
                    .init(kind: .pointer, cType: "const float* const* __restrict__", name: "gradients"),
                    .init(kind: .pointer, cType: "float* const* __restrict__", name: "velocities"),
                    .init(kind: .pointer, cType: "const long long* __restrict__", name: "offsets"), .int32("tensors"),
                    .float("learningRate"), .float("momentum"), .float("keep"), .float("weightDecay"), .int32("nesterov"),
                    .int32("firstStep")
                ],
                """
                int lo = 0, hi = tensors - 1;
                        while (lo < hi) { const int mid = (lo + hi + 1) >> 1; if (offsets[mid] <= i) lo = mid; else hi = mid - 1; }
                        const long long j = i - offsets[lo];
                        resnext_sgd(parameters[lo] + j, gradients[lo][j], velocities[lo] + j, learningRate, momentum, keep, weightDecay,
                                    nesterov, firstStep);
                """)
        }
    }
}
