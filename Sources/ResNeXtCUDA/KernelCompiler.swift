import ResNeXtCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Grid and block sizes of a one-dimensional launch.
public struct LaunchConfiguration: Sendable, Equatable, CustomStringConvertible {
    public let gridX: UInt32
    public let blockX: UInt32

    public init(gridX: UInt32, blockX: UInt32) {
        self.gridX = gridX
        self.blockX = blockX
    }

    /// Default cap on blocks of a grid-stride launch (the backend uses 32 blocks per multiprocessor).
    public static let defaultMaxBlocks = 8192

    /// A grid-stride launch over `count` items: enough 256-thread blocks to give each item a thread, at
    /// most `maxBlocks` (the loop covers the rest). Nil when there is nothing to do (a grid of zero blocks
    /// is an error in CUDA). Sizes beyond 2³¹ are fine: the kernels index with 64-bit integers.
    public static func gridStride(
        count: Int, threadsPerBlock: Int = Kernels.threadsPerBlock,
        maxBlocks: Int = defaultMaxBlocks
    ) -> LaunchConfiguration? {
        guard count > 0 else { return nil }
        let blocks = count / threadsPerBlock + (count % threadsPerBlock == 0 ? 0 : 1)
        return LaunchConfiguration(gridX: UInt32(min(blocks, max(1, maxBlocks))), blockX: UInt32(threadsPerBlock))
    }

    /// One block per item (block-wide reductions), at most 65,535 blocks (the kernels loop over the rest).
    public static func blockPerItem(count: Int, threadsPerBlock: Int = Kernels.threadsPerBlock) -> LaunchConfiguration? {
        guard count > 0 else { return nil }
        return LaunchConfiguration(gridX: UInt32(min(count, 65_535)), blockX: UInt32(threadsPerBlock))
    }

    /// The configuration for `kernel` over `count` items.
    public static func forKernel(_ kernel: Kernel, count: Int, maxBlocks: Int = defaultMaxBlocks) -> LaunchConfiguration? {
        switch kernel.definition.style {
        case .gridStride: gridStride(count: count, maxBlocks: maxBlocks)
        case .gridStrideVector4: gridStride(count: count / 4 + (count % 4 == 0 ? 0 : 1), maxBlocks: maxBlocks)
        case .blockPerItem: blockPerItem(count: count)
        }
    }

    public var description: String { "<<<\(gridX), \(blockX)>>>" }
}

/// What NVRTC compiles a kernel set to: CUBIN (machine code) for a real architecture `sm_XY`, which any
/// driver of the same CUDA major version loads, or PTX for a virtual architecture `compute_XY`, which the
/// driver compiles itself and rejects when NVRTC is newer than the driver (CUDA_ERROR_UNSUPPORTED_PTX_VERSION).
public enum KernelTarget: Sendable, Equatable, CustomStringConvertible {
    case cubin(Int)
    case ptx(Int)

    /// The options passed to `nvrtcCompileProgram`: the architecture, C++17, and nothing that changes
    /// floating-point results (no `--use_fast_math`; FMA contraction as nvcc's default).
    public var options: [String] {
        switch self {
        case .cubin(let arch): ["--gpu-architecture=sm_\(arch)", "--std=c++17", "--fmad=true"]
        case .ptx(let arch): ["--gpu-architecture=compute_\(arch)", "--std=c++17", "--fmad=true"]
        }
    }

    /// "sm_90 CUBIN" or "compute_90 PTX".
    public var description: String {
        switch self {
        case .cubin(let arch): "sm_\(arch) CUBIN"
        case .ptx(let arch): "compute_\(arch) PTX"
        }
    }
}

/// NVRTC options for a device.
public enum NVRTCOptions {
    /// The virtual architecture (10·major + minor) to compile PTX for: the device's own when NVRTC supports
    /// it, else the newest one NVRTC supports below it (the driver JIT-compiles that PTX for the device).
    public static func architecture(major: Int, minor: Int, supported: [Int]?) throws -> Int {
        guard major > 0, minor >= 0 else {
            throw ResNeXtError.invalidArgument("compute capability \(major).\(minor) is not valid")
        }
        let device = major * 10 + minor
        guard let supported, !supported.isEmpty else { return device }
        if supported.contains(device) { return device }
        guard let best = supported.filter({ $0 <= device }).max() else {
            let list = supported.sorted().map { "compute_\($0)" }.joined(separator: ", ")
            throw ResNeXtError.unsupported(
                "the GPU has compute capability \(major).\(minor), older than every architecture this NVRTC compiles for (\(list)); "
                    + "set RESNEXT_LIBNVRTC to an older NVRTC")
        }
        return best
    }

    /// The targets to try in order: CUBIN for the device's own architecture when NVRTC emits CUBIN and
    /// supports that architecture, then PTX (the only target otherwise) as the fallback.
    public static func targets(major: Int, minor: Int, supported: [Int]?, emitsCUBIN: Bool) throws -> [KernelTarget] {
        let ptx = try architecture(major: major, minor: minor, supported: supported)
        let device = major * 10 + minor
        let cubin = emitsCUBIN && (supported?.contains(device) ?? true)
        return (cubin ? [.cubin(device)] : []) + [.ptx(ptx)]
    }

    /// The options of the PTX target (the fallback).
    public static func options(major: Int, minor: Int, supported: [Int]? = nil) throws -> [String] {
        KernelTarget.ptx(try architecture(major: major, minor: minor, supported: supported)).options
    }
}

/// An opaque driver handle (module, function) that may cross threads.
struct DriverHandle: @unchecked Sendable {
    let raw: OpaquePointer
}

/// Compiles each kernel set with NVRTC on first use, loads it and keeps the module and functions. The
/// first target that compiles and loads is kept for every later set (CUBIN, else the PTX fallback).
final class KernelModules: @unchecked Sendable {
    let driver: DriverAPI
    let nvrtc: NVRTCAPI
    let targets: [KernelTarget]

    private struct Loaded {
        var modules: [KernelSet: DriverHandle] = [:]
        var functions: [Kernel: DriverHandle] = [:]
        /// Index into `targets` of the target in use.
        var target = 0
        /// Why earlier targets were given up.
        var fallbacks: [String] = []
    }
    private let loaded = Mutex(Loaded())

    init(driver: DriverAPI, nvrtc: NVRTCAPI, targets: [KernelTarget]) {
        precondition(!targets.isEmpty, "no kernel target")
        self.driver = driver
        self.nvrtc = nvrtc
        self.targets = targets
    }

    /// The target in use ("sm_90 CUBIN"), with the reason when an earlier one failed.
    var targetDescription: String {
        loaded.withLock { state in
            let current = targets[state.target].description
            return state.fallbacks.isEmpty ? current : "\(current), after \(state.fallbacks.joined(separator: "; "))"
        }
    }

    /// The loaded function of `kernel` (compiling and loading its set the first time). The caller has
    /// made the context current.
    func function(_ kernel: Kernel) throws -> OpaquePointer {
        try loaded.withLock { state in
            if let f = state.functions[kernel] { return f }
            let set = kernel.definition.set
            var errors = [String]()
            while true {
                let target = targets[state.target]
                do {
                    let module = try load(set, target)
                    state.modules[set] = DriverHandle(raw: module)
                    break
                } catch {
                    errors.append("\(target): \(error)")
                    guard state.target + 1 < targets.count else {
                        throw ResNeXtError.backend("kernel set \(set.rawValue) could not be built: \(errors.joined(separator: "; then "))")
                    }
                    state.fallbacks.append("\(target) failed (\(error))")
                    state.target += 1
                }
            }
            let module = state.modules[set]!.raw
            for definition in Kernels.definitions(of: set) {
                var f: OpaquePointer?
                try driver.check(
                    driver.cuModuleGetFunction(&f, module, definition.kernel.name), "cuModuleGetFunction(\(definition.kernel.name))")
                guard let f else { throw ResNeXtError.backend("cuModuleGetFunction(\(definition.kernel.name)) returned no function") }
                state.functions[definition.kernel] = DriverHandle(raw: f)
            }
            guard let f = state.functions[kernel] else { throw ResNeXtError.backend("kernel \(kernel.name) missing from its module") }
            return f
        }.raw
    }

    /// Compiles `set` for `target` and loads it as a module.
    private func load(_ set: KernelSet, _ target: KernelTarget) throws -> OpaquePointer {
        let image = try compile(set, target)
        var module: OpaquePointer?
        let status = image.withUnsafeBufferPointer { driver.cuModuleLoadData(&module, UnsafeRawPointer($0.baseAddress)) }
        if status == DriverAPI.unsupportedPTXVersion, case .ptx = target {
            let v = nvrtc.version()
            throw ResNeXtError.backend(
                "cuModuleLoadData(kernel set \(set.rawValue)) failed: \(driver.describe(status)); NVRTC \(v.major).\(v.minor) "
                    + "(\(nvrtc.library.path)) is newer than the driver: set RESNEXT_LIBNVRTC to an NVRTC no newer than the driver's "
                    + "CUDA version")
        }
        try driver.check(status, "cuModuleLoadData(kernel set \(set.rawValue), \(target))")
        guard let module else { throw ResNeXtError.backend("cuModuleLoadData(kernel set \(set.rawValue)) returned no module") }
        return module
    }

    /// The CUBIN or PTX (NUL-terminated) of one kernel set; compile errors carry NVRTC's log.
    func compile(_ set: KernelSet, _ target: KernelTarget) throws -> [CChar] {
        let source = Kernels.source(for: set)
        let name = "resnext_\(set.rawValue).cu"
        let options = target.options
        var program: OpaquePointer?
        try nvrtc.check(nvrtc.nvrtcCreateProgram(&program, source, name, 0, nil, nil), "nvrtcCreateProgram(\(name))")
        defer { _ = nvrtc.nvrtcDestroyProgram(&program) }
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        let status = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer {
            nvrtc.nvrtcCompileProgram(program, Int32($0.count), $0.baseAddress)
        }
        if status != 0 {
            throw ResNeXtError.backend(
                "nvrtcCompileProgram(\(name), \(options.joined(separator: " "))) failed: \(nvrtc.describe(status))\n\(log(program))")
        }
        var size = 0
        switch target {
        case .cubin:
            guard let getSize = nvrtc.nvrtcGetCUBINSize, let get = nvrtc.nvrtcGetCUBIN else {
                throw ResNeXtError.backend("\(nvrtc.library.path) has no nvrtcGetCUBIN")
            }
            try nvrtc.check(getSize(program, &size), "nvrtcGetCUBINSize(\(name))")
            var cubin = [CChar](repeating: 0, count: max(size, 1))
            try nvrtc.check(get(program, &cubin), "nvrtcGetCUBIN(\(name))")
            return cubin
        case .ptx:
            try nvrtc.check(nvrtc.nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize(\(name))")
            var ptx = [CChar](repeating: 0, count: max(size, 1))
            try nvrtc.check(nvrtc.nvrtcGetPTX(program, &ptx), "nvrtcGetPTX(\(name))")
            return ptx
        }
    }

    private func log(_ program: OpaquePointer?) -> String {
        var size = 0
        guard nvrtc.nvrtcGetProgramLogSize(program, &size) == 0, size > 1 else { return "(no compiler log)" }
        var text = [CChar](repeating: 0, count: size)
        guard nvrtc.nvrtcGetProgramLog(program, &text) == 0 else { return "(no compiler log)" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Unloads every module (the context must be current).
    func unloadAll() {
        let modules = loaded.withLock { state -> [DriverHandle] in
            let all = Array(state.modules.values)
            state.modules.removeAll()
            state.functions.removeAll()
            return all
        }
        for m in modules { _ = driver.cuModuleUnload(m.raw) }
    }
}
