import ArgumentParser
import ResNeXtCPU
import ResNeXtCUDA
import ResNeXtConformance
import ResNeXtCore
import ResNeXtIO
import ResNeXtReference

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// Checks the CUDA backend against the CPU backend on the GPU machine (which has no Swift toolchain to
/// run the test suite): every backend operation forward and backward on fresh random inputs, then a
/// short training run whose loss must fall.
struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check the CUDA backend against the CPU backend: every operation, forward and backward, then a short training run.",
        discussion: """
            Prints one line per check (PASS/FAIL, max |gpu − cpu| / max |cpu|), then "N passed, N failed". Exit status: 0 when \
            everything passed, 1 when a check failed, 2 when no GPU runtime could be loaded (the loader's message names every \
            file it tried and the RESNEXT_LIB* variable that overrides it). `--device cpu` checks the CPU backend against the float64 \
            reference (tolerance 1e-4): the first link of the chain float64 → CPU → CUDA.
            """)

    @Option(help: "The device under test: cuda, cuda:N (or cpu: the CPU backend against the float64 reference).")
    var device = "cuda"

    @OptionGroup var gpu: GPUOptions

    @Option(help: "Random seed of the inputs (default: from the clock, so each run checks fresh inputs; printed for reruns).")
    var seed: UInt64?

    @Option(help: "Training steps of the final run (0 skips it).")
    var steps = 60

    @Option(help: "Learning rate of the final run.")
    var lr: Float = 0.02

    @Flag(help: "Print the CUDA C source of every kernel and exit.")
    var printKernels = false

    func run() throws {
        if printKernels {
            print(Kernels.fullSource)
            return
        }
        let target: Device
        do {
            target = try Device(parsing: device)
        } catch {
            throw ValidationError("--device: \(error)")
        }
        let seed = self.seed ?? Self.clockSeed()
        let backend: any Backend
        let reference: any Backend
        var tolerance = gpu.tf32.value ? 1e-3 : 1e-5
        switch target {
        case .cpu:
            // The first link of the oracle chain: oneDNN against the float64 reference.
            backend = try CPUBackend()
            reference = ReferenceBackend()
            tolerance = 1e-4
        case .cuda(let index):
            do {
                let cuda = try CUDABackend(device: index, allowTF32: gpu.tf32.value, algorithmSearch: gpu.cudnn.search)
                if !cuda.allowTF32 { tolerance = 1e-5 }
                backend = cuda
                reference = try CPUBackend()
            } catch {
                FileIO.writeToStandardError("selftest: \(error)")
                throw ExitCode(2)
            }
        }
        print("selftest: \(backend.name)")
        print("reference: \(reference.name)")
        let tf32 = tolerance == 1e-3 ? " (TF32)" : ""
        print("seed \(seed) (rerun with --seed \(seed)); tolerance \(tolerance) on max |a − b| / max |b|\(tf32)")
        let cuda = backend as? CUDABackend
        let suite = ConformanceSuite(
            backend: backend, reference: reference, tolerance: tolerance, seed: seed,
            deviceAllocations: cuda.map { cuda in { cuda.allocatorStatistics.deviceAllocations } })
        suite.runAll(trainingSteps: steps, learningRate: lr)
        if let cuda {
            print("allocator: \(cuda.allocatorStatistics); \(cuda.cachedAlgorithmCount) cached cuDNN algorithm choices")
        }
        print("\(suite.passed) passed, \(suite.failed) failed")
        if suite.failed > 0 { throw ExitCode(1) }
    }

    static func clockSeed() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(truncatingIfNeeded: ts.tv_sec) &* 1_000_000_007 &+ UInt64(truncatingIfNeeded: ts.tv_nsec)
    }
}
