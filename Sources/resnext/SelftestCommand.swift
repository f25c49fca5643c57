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
            everything passed, 1 when a check failed, 2 when the backend could not start (the loader's message names every file it \
            tried and the RESNEXT_LIB* variable that overrides it). Tolerance 1e-5, convolutions 5e-3 with TF32 (PyTorch's TF32 \
            tolerance; `--tf32 false` checks them at 1e-5 without FFT or Winograd transforms). `--device cpu` checks the CPU \
            backend against the float64 reference (tolerance 1e-4): the first link of the chain float64 → CPU → CUDA.
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
        var tolerances = Tolerances(all: 1e-5)
        switch target {
        case .cpu:
            // The first link of the oracle chain: oneDNN against the float64 reference.
            backend = try CPUBackend()
            reference = ReferenceBackend()
            tolerances = Tolerances(all: 1e-4)
        case .cuda(let index):
            do {
                let cuda = try CUDABackend(device: index, allowTF32: gpu.tf32.value, algorithmSearch: gpu.cudnn.search)
                tolerances = Tolerances(cuda)
                backend = cuda
                reference = try CPUBackend()
            } catch {
                FileIO.writeToStandardError("selftest: \(error)")
                throw ExitCode(2)
            }
        }
        print("selftest: \(backend.name)")
        print("reference: \(reference.name)")
        print("seed \(seed) (rerun with --seed \(seed)); \(tolerances)")
        let cuda = backend as? CUDABackend
        let suite = ConformanceSuite(
            backend: backend, reference: reference, tolerance: tolerances.all, convolutionTolerance: tolerances.convolution,
            linearTolerance: tolerances.linear, seed: seed,
            deviceAllocations: cuda.map { cuda in { cuda.allocatorStatistics.deviceAllocations } })
        suite.runAll(trainingSteps: steps, learningRate: lr)
        if let cuda {
            print("allocator: \(cuda.allocatorStatistics); \(cuda.cachedAlgorithmCount) cached cuDNN algorithm choices")
            print("kernels: \(cuda.kernelTarget)")
        }
        print("\(suite.passed) passed, \(suite.failed) failed")
        if suite.failed > 0 { throw ExitCode(1) }
    }

    /// The tolerances on max |a − b| / max |b|: 1e-5 (fp32) for CUDA, except TF32 tensor-core products at
    /// PyTorch's TF32 tolerance 5e-3 (`tf32_on_and_off(5e-3)` in its tests); 1e-4 for the CPU against float64.
    struct Tolerances: CustomStringConvertible {
        static let tf32 = 5e-3
        var all: Double
        var convolution: Double
        var linear: Double

        init(all: Double) { (self.all, convolution, linear) = (all, all, all) }

        init(_ cuda: CUDABackend) {
            self.init(all: 1e-5)
            if cuda.allowTF32 { convolution = Self.tf32 }
            if cuda.allowTF32Matmul { linear = Self.tf32 }
        }

        var description: String {
            var text = "tolerance \(all) on max |a − b| / max |b|"
            if convolution != all { text += ", convolutions \(convolution) (TF32)" }
            if linear != all { text += ", linear \(linear) (TF32)" }
            return text
        }
    }

    static func clockSeed() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(truncatingIfNeeded: ts.tv_sec) &* 1_000_000_007 &+ UInt64(truncatingIfNeeded: ts.tv_nsec)
    }
}
