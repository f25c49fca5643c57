import ResNeXtCPU
import ResNeXtCUDA
import ResNeXtCore

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

@inline(__always) func _exp(_ x: Double) -> Double { exp(x) }

/// The backend a `--device` value asks for: `auto` takes CUDA when a GPU runtime loads, else the CPU
/// (appending a one-line note); `cpu`, `cuda`, `cuda:N` are explicit (a missing GPU runtime is an error).
func makeBackend(
    device: String, threads: Int?, tf32: Bool = true, search: CUDAAlgorithmSearch = .fastest,
    autoDevice: Int = 0, notices: inout [String]
) throws -> any Backend {
    if device == "auto" {
        do {
            return try CUDABackend(device: autoDevice, allowTF32: tf32, algorithmSearch: search)
        } catch {
            notices.append("running on the CPU: \(error)")
            return try CPUBackend(threads: threads)
        }
    }
    switch try Device(parsing: device) {
    case .cpu: return try CPUBackend(threads: threads)
    case .cuda(let index): return try CUDABackend(device: index, allowTF32: tf32, algorithmSearch: search)
    }
}
