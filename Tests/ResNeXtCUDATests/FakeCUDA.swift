import Foundation
import ResNeXtCUDA
import ResNeXtCore
import XCTest

/// A fake CUDA driver, NVRTC, cuDNN and cuBLAS in one shared library, built here with the system C++
/// compiler: device memory is host memory, the backend's real kernel sources run as C++ on the CPU, and
/// cuDNN and cuBLAS are naive loops behind the real C prototypes, with tagged descriptors (an argument in
/// the wrong place fails with CUDNN_STATUS_BAD_PARAM), bounds-checked copies and GEMM operands, a
/// benchmark that poisons its output buffer, and one algorithm that fails without its workspace. The
/// CUDA backend's whole host side (loading, marshalling, descriptors, algorithm search, workspaces,
/// launches, the allocator) runs against it on machines without a GPU. What it cannot show is how the
/// real libraries behave; `resnext selftest` on a GPU does.
///
/// Two builds: the current stack, and a legacy one (`-DFAKE_LEGACY`: an NVRTC without CUBIN, a cuDNN
/// without cuDNN 9's error strings, sub-library checks and CUDA version), for the backend's fallbacks.
/// Test hooks: `fakecuda_counter(name)` counts calls (uploads, module loads, descriptors), and
/// `fakecuda_fail(name, status)` makes a named call fail until `fakecuda_reset()`.
enum FakeCUDA {
    /// The built libraries, or why there are none (no C++20 compiler).
    static let library: Result<String, FakeCUDAUnavailable> = build(legacy: false)
    static let legacyLibrary: Result<String, FakeCUDAUnavailable> = build(legacy: true)

    struct FakeCUDAUnavailable: Error, CustomStringConvertible {
        let description: String
        /// No compiler here (skip), rather than a fake that does not compile (fail).
        var skip = true
    }

    /// The path of the fake library, or an XCTSkip.
    static func path(legacy: Bool = false) throws -> String {
        switch legacy ? legacyLibrary : library {
        case .success(let path): return path
        case .failure(let reason) where reason.skip: throw XCTSkip("fake CUDA unavailable: \(reason)")
        case .failure(let reason): throw ResNeXtError.backend("fake CUDA: \(reason)")
        }
    }

    /// The RESNEXT_LIB* variables pointing at the fake.
    static func environment(legacy: Bool = false) throws -> [String: String] {
        let p = try path(legacy: legacy)
        return [
            "RESNEXT_LIBCUDA": p, "RESNEXT_LIBNVRTC": p, "RESNEXT_LIBCUDNN": p, "RESNEXT_LIBCUBLAS": p, "RESNEXT_CUDNN_WORKSPACE_MB": "64"
        ]
    }

    static func libraries(legacy: Bool = false) throws -> CUDALibraries {
        let env = try environment(legacy: legacy)
        return try CUDALibraries.load(environment: { env[$0] })
    }

    /// A test hook of the fake (`fakecuda_*`) as a C function.
    static func hook<T>(_ name: String, legacy: Bool = false, as type: T.Type = T.self) throws -> T {
        let spec = CUDALibrarySpec(what: "fake CUDA", candidates: [try path(legacy: legacy)], variable: "RESNEXT_FAKE_CUDA")
        return try DynamicLibrary.open(spec, environment: { _ in nil }).symbol(name)
    }

    /// How often the fake saw `name` since the last ``reset(legacy:)``.
    static func counter(_ name: String, legacy: Bool = false) throws -> Int {
        Int(try hook("fakecuda_counter", legacy: legacy, as: (@convention(c) (UnsafePointer<CChar>?) -> Int).self)(name))
    }

    /// Makes the fake's call `name` return `status` until ``reset(legacy:)``.
    static func fail(_ name: String, status: Int32, legacy: Bool = false) throws {
        try hook("fakecuda_fail", legacy: legacy, as: (@convention(c) (UnsafePointer<CChar>?, Int32) -> Void).self)(name, status)
    }

    /// Clears the counters and injected failures.
    static func reset(legacy: Bool = false) throws {
        try hook("fakecuda_reset", legacy: legacy, as: (@convention(c) () -> Void).self)()
    }

    /// `kernel(*(T0*)p[0], ...)` for each kernel: how the fake cuLaunchKernel calls the C++-compiled kernels.
    static var trampolines: String {
        var out = ""
        for kernel in Kernel.allCases {
            let arguments = kernel.definition.parameters.enumerated().map { i, p in
                "*(\(p.cType.split(separator: " ").filter { $0 != "__restrict__" }.joined(separator: " "))*)p[\(i)]"
            }.joined(separator: ", ")
            out += "static void tramp_\(kernel.name)(void** p) { \(kernel.name)(\(arguments)); }\n"
        }
        out += "static KernelEntry kernelTable[] = {\n"
        for kernel in Kernel.allCases {
            out += "    {\"\(kernel.name)\", tramp_\(kernel.name), \(kernel.definition.style == .blockPerItem)},\n"
        }
        return out + "};\nstatic int kernelCount = \(Kernel.allCases.count);\n"
    }

    static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A C++20 compiler with <barrier>, or nil.
    static func compiler(in dir: String) -> String? {
        let probe = dir + "probe.cpp"
        try? "#include <barrier>\nint main() { std::barrier<> b(1); b.arrive_and_wait(); }\n".write(
            toFile: probe, atomically: true, encoding: .utf8)
        return ["/usr/bin/g++", "/usr/bin/clang++", "/usr/bin/c++"].filter { FileManager.default.isExecutableFile(atPath: $0) }
            .first { run($0, ["-std=c++20", "-pthread", probe, "-o", dir + "probe"]).status == 0 }
    }

    private static func build(legacy: Bool) -> Result<String, FakeCUDAUnavailable> {
        let dir = NSTemporaryDirectory() + "resnext-fake-cuda-\(getpid())\(legacy ? "-legacy" : "")/"
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try emulation.write(toFile: dir + "emu.h", atomically: true, encoding: .utf8)
            try Kernels.fullSource.write(toFile: dir + "kernels.cu", atomically: true, encoding: .utf8)
            try trampolines.write(toFile: dir + "trampolines.inc", atomically: true, encoding: .utf8)
            try (driverSource + cudnnSource).write(toFile: dir + "fakecuda.cpp", atomically: true, encoding: .utf8)
        } catch {
            return .failure(FakeCUDAUnavailable(description: "cannot write to \(dir): \(error)"))
        }
        guard let compiler = compiler(in: dir) else {
            return .failure(FakeCUDAUnavailable(description: "no C++20 compiler with <barrier>"))
        }
        let library = dir + "libfakecuda.so"
        let flags = ["-std=c++20", "-O2", "-fPIC", "-shared", "-pthread"] + (legacy ? ["-DFAKE_LEGACY"] : [])
        let result = run(compiler, flags + ["-I", dir, dir + "fakecuda.cpp", "-o", library])
        guard result.status == 0 else {
            // The kernel sources are generated: a compile failure here is a real failure, reported by the tests.
            return .failure(FakeCUDAUnavailable(description: "the fake does not compile:\n\(result.output)", skip: false))
        }
        return .success(library)
    }

    /// CUDA's built-ins for CPU emulation: grid-stride kernels run thread by thread; block kernels with
    /// one std::thread per CUDA thread and a barrier for __syncthreads.
    static let emulation = #"""
        #pragma once
        #include <cmath>
        #include <cstdio>
        #include <cstdlib>
        #include <thread>
        #include <barrier>
        #include <vector>
        #include <random>
        #include <algorithm>
        using std::isnan;   // a global device function in CUDA
        struct Dim3 { unsigned x = 1, y = 1, z = 1; };
        inline thread_local Dim3 threadIdx, blockIdx;
        inline Dim3 blockDim, gridDim;
        inline std::barrier<>* g_barrier = nullptr;
        inline void __syncthreads() { g_barrier->arrive_and_wait(); }
        #define __global__
        #define __device__
        #define __forceinline__ inline
        #define __restrict__ __restrict
        #define __shared__ static
        """#
}
