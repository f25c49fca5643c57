import ResNeXtCUDA
import ResNeXtCore
import ResNeXtDistributed

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// How `resnext` becomes a data-parallel job: launched by `mpirun`/`srun` (one process per device, each a
/// rank of MPI_COMM_WORLD), or started by `-nGPU N` itself, which runs the same command line under
/// `mpirun -np N`.
enum DataParallelLaunch {
    /// The device this rank trains on: under a job, `cuda` becomes `cuda:<local rank>` (and `auto` tries
    /// that GPU, see ``autoDevice(job:)``); the CPU stays the CPU.
    static func device(_ device: String, job: MPI.Placement?) -> String {
        guard let job, job.size > 1, device == "cuda" else { return device }
        return "cuda:\(job.localRank)"
    }

    /// The GPU `--device auto` tries: this rank's local index under a job, else 0.
    static func autoDevice(job: MPI.Placement?) -> Int { job.map { $0.size > 1 ? $0.localRank : 0 } ?? 0 }

    /// Whether a CUDA runtime and a GPU are there (what `--device auto` would pick).
    static func gpuAvailable() -> Bool { (try? CUDABackend(device: 0)) != nil }

    /// CPU threads of one rank when not given: the machine's cores shared among the job's ranks on it.
    static func computeThreads(_ given: Int?, job: MPI.Placement?) -> Int? {
        guard given == nil, let job, job.localSize > 1 else { return given }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) / job.localSize)
    }

    /// Runs this process's command line again as `mpirun -np ranks` (never returns on success).
    /// - Throws: `ValidationError`-like `ResNeXtError.unsupported` with the exact command to run when
    ///   `mpirun` is not installed or cannot be started.
    static func relaunch(ranks: Int) throws -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let executable = selfExecutable() ?? CommandLine.arguments[0]
        var command = ["mpirun"]
        if getuid() == 0 { command.append("--allow-run-as-root") }
        command += ["--oversubscribe", "-np", String(ranks), executable] + arguments
        let manual = (["mpirun", "-np", String(ranks), "resnext"] + arguments).joined(separator: " ")
        guard let mpirun = findInPath("mpirun") else {
            throw ResNeXtError.unsupported(
                "-nGPU \(ranks) starts \(ranks) processes with Open MPI's mpirun, which is not installed (apt-get install "
                    + "openmpi-bin; scripts/setup.sh does); then run: \(manual)")
        }
        print("starting \(ranks) ranks: \(command.joined(separator: " "))")
        fflush(stdout)
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        execv(mpirun, &argv)
        let reason = String(cString: strerror(errno))
        throw ResNeXtError.unsupported("cannot start \(mpirun): \(reason); run: \(manual)")
    }

    /// The running executable's path (`/proc/self/exe`), so every rank runs this very binary.
    static func selfExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The first executable `name` on `PATH`.
    static func findInPath(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }
}
