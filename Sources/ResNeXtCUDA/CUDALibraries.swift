import ResNeXtCore
import Synchronization

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// One shared library the CUDA backend loads at run time: the file names tried in order and the
/// environment variable that replaces them with one full path.
public struct CUDALibrarySpec: Sendable, Hashable {
    /// What the library is, as the error message names it ("no GPU runtime found: ...").
    public let what: String
    /// File names (sonames, or full paths) tried in order with `dlopen`.
    public let candidates: [String]
    /// Environment variable that, when set, is the only path tried.
    public let variable: String
    /// The file name to name in "set VARIABLE to the full path of ..." (the first candidate).
    public var primaryName: String { candidates.first ?? "the library" }

    public init(what: String, candidates: [String], variable: String) {
        self.what = what
        self.candidates = candidates
        self.variable = variable
    }

    /// The CUDA driver (`libcuda.so.1`, installed with the NVIDIA driver; never the `-dev` `libcuda.so`).
    public static let driver = CUDALibrarySpec(what: "GPU runtime", candidates: ["libcuda.so.1"], variable: "RESNEXT_LIBCUDA")
    /// NVRTC, the run-time CUDA C compiler (CUDA 13, 12 or 11.2+).
    public static let nvrtc = CUDALibrarySpec(
        what: "NVRTC",
        candidates: [
            "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so",
            "/usr/local/cuda/lib64/libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.12"
        ],
        variable: "RESNEXT_LIBNVRTC")
    /// cuDNN 9 (its `libcudnn.so.9` front library loads the sub-libraries itself).
    public static let cudnn = CUDALibrarySpec(
        what: "cuDNN", candidates: ["libcudnn.so.9", "/usr/local/cuda/lib64/libcudnn.so.9"],
        variable: "RESNEXT_LIBCUDNN")
    /// cuBLAS (CUDA 13, 12 or 11).
    public static let cublas = CUDALibrarySpec(
        what: "cuBLAS",
        candidates: [
            "libcublas.so.13", "libcublas.so.12", "libcublas.so.11",
            "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12",
            "/usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13"
        ],
        variable: "RESNEXT_LIBCUBLAS")

    public static let all: [CUDALibrarySpec] = [driver, nvrtc, cudnn, cublas]
}

/// The process environment, read with `getenv`.
public enum ProcessEnvironment {
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}

/// A library opened with `dlopen`. It is never closed: the CUDA libraries register exit handlers and
/// keep threads, so unloading them is unsafe (and `dlopen` reference-counts repeated opens).
public final class DynamicLibrary: @unchecked Sendable {
    /// The path or soname that was opened.
    public let path: String
    public let spec: CUDALibrarySpec
    private let handle: UnsafeMutableRawPointer

    private init(path: String, spec: CUDALibrarySpec, handle: UnsafeMutableRawPointer) {
        self.path = path
        self.spec = spec
        self.handle = handle
    }

    /// The last `dlerror()` text (clearing it), or a placeholder.
    static func lastError() -> String {
        guard let text = dlerror() else { return "no error text" }
        return String(cString: text)
    }

    /// Opens the library: the path in `spec.variable` when set (and only that), else each candidate in
    /// turn. Fails with one message naming every file tried, each `dlerror` text and the variable.
    public static func open(_ spec: CUDALibrarySpec, environment: (String) -> String? = ProcessEnvironment.value) throws -> DynamicLibrary {
        let override = environment(spec.variable).flatMap { $0.isEmpty ? nil : $0 }
        let candidates = override.map { [$0] } ?? spec.candidates
        var errors = [String]()
        for candidate in candidates {
            if let handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) {
                return DynamicLibrary(path: candidate, spec: spec, handle: handle)
            }
            let text = lastError()
            if !errors.contains(text) { errors.append(text) }
        }
        throw ResNeXtError.unsupported(loadFailureMessage(spec, tried: candidates, overridden: override != nil, errors: errors))
    }

    /// The message for a library that could not be loaded (exposed for tests and for `selftest`).
    public static func loadFailureMessage(_ spec: CUDALibrarySpec, tried: [String], overridden: Bool, errors: [String]) -> String {
        let names = tried.joined(separator: ", ")
        let source = overridden ? " (given by \(spec.variable))" : ""
        let hint =
            overridden
            ? "set \(spec.variable) to the full path of \(spec.primaryName), or unset it to search "
                + "\(spec.candidates.joined(separator: ", "))"
            : "set \(spec.variable) to its path"
        return "no \(spec.what) found: could not load \(names)\(source) (dlerror: \(errors.joined(separator: "; "))); \(hint)"
    }

    /// The address of `name`, or nil.
    public func address(_ name: String) -> UnsafeMutableRawPointer? {
        _ = dlerror()
        return dlsym(handle, name)
    }

    /// The function `name` as the `@convention(c)` type `T`, or a clear error naming the library and symbol.
    public func symbol<T>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let pointer = address(name) else {
            throw ResNeXtError.unsupported(
                "\(path) (\(spec.what)) has no symbol \(name) (dlerror: \(DynamicLibrary.lastError())); "
                    + "it is too old or not the library expected: set \(spec.variable) to the full path of a newer \(spec.primaryName)")
        }
        precondition(MemoryLayout<T>.size == MemoryLayout<UnsafeMutableRawPointer>.size, "\(T.self) is not a C function pointer type")
        return unsafeBitCast(pointer, to: T.self)
    }

    /// The function `name` as `T` when the library has it (for calls newer versions added).
    public func optionalSymbol<T>(_ name: String, as type: T.Type = T.self) -> T? {
        guard let pointer = address(name) else { return nil }
        return unsafeBitCast(pointer, to: T.self)
    }
}

/// Every CUDA library the backend needs, loaded and resolved into typed function pointers.
public struct CUDALibraries: Sendable {
    public let driver: DriverAPI
    public let nvrtc: NVRTCAPI
    public let cudnn: CuDNNAPI
    public let cublas: CuBLASAPI

    /// Loads the four libraries (driver first, so a machine without a GPU driver gets "no GPU runtime
    /// found") and resolves every symbol the backend calls.
    public static func load(environment: (String) -> String? = ProcessEnvironment.value) throws -> CUDALibraries {
        let driver = try DriverAPI(try DynamicLibrary.open(.driver, environment: environment))
        let nvrtc = try NVRTCAPI(try DynamicLibrary.open(.nvrtc, environment: environment))
        let cudnn = try CuDNNAPI(try DynamicLibrary.open(.cudnn, environment: environment))
        let cublas = try CuBLASAPI(try DynamicLibrary.open(.cublas, environment: environment))
        return CUDALibraries(driver: driver, nvrtc: nvrtc, cudnn: cudnn, cublas: cublas)
    }

    private static let cache = Mutex<CUDALibraries?>(nil)

    /// The libraries of this process, loaded once from the process environment (a failure is not cached,
    /// so a later call after fixing the environment succeeds).
    public static func shared() throws -> CUDALibraries {
        if let loaded = cache.withLock({ $0 }) { return loaded }
        let loaded = try load()
        cache.withLock { $0 = $0 ?? loaded }
        return loaded
    }

    /// Nil when every library loads; else the loader's message (for `selftest` and for skipping tests).
    public static func unavailableReason(environment: (String) -> String? = ProcessEnvironment.value) -> String? {
        do {
            _ = try load(environment: environment)
            return nil
        } catch let error as ResNeXtError {
            if case .unsupported(let message) = error { return message }
            return error.description
        } catch {
            return "\(error)"
        }
    }
}
