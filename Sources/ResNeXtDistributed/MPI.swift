import ResNeXtCore
import ResNeXtNN

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// Open MPI, loaded at run time (`libmpi.so.40`, Debian's `libopenmpi3`; `RESNEXT_LIBMPI` names another
/// path), so that the binary runs without MPI installed and only a job launched by `mpirun`/`srun` needs
/// it. Open MPI's predefined handles (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`, ...) are the addresses of
/// exported globals, looked up by name; `MPI_IN_PLACE` is `(void *) 1` and `MPI_STATUS_IGNORE` is null.
public final class MPI: Collectives, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// The library that was loaded.
    public let path: String
    let api: MPIFunctions

    /// Where a launcher placed this process.
    public struct Placement: Sendable, Equatable {
        public let rank: Int
        public let size: Int
        /// Index and count of the job's processes on this machine.
        public let localRank: Int
        public let localSize: Int
    }

    /// Where the launcher says this process runs, from Open MPI's `OMPI_COMM_WORLD_*`, or Slurm's
    /// `SLURM_PROCID`/`SLURM_NTASKS`/`SLURM_LOCALID` (`srun`); nil when not launched as a job.
    public static func launchedJob() -> Placement? {
        let schemes = [
            ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"),
            ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE")
        ]
        for (rankName, sizeName, localName, localSizeName) in schemes {
            if let rank = ProcessEnvironmentValue.int(rankName), let size = ProcessEnvironmentValue.int(sizeName), size >= 1,
                (0..<size).contains(rank)
            {
                return Placement(
                    rank: rank, size: size, localRank: ProcessEnvironmentValue.int(localName) ?? rank,
                    localSize: ProcessEnvironmentValue.int(localSizeName) ?? size)
            }
        }
        return nil
    }

    /// Loads Open MPI and initializes it (MPI_THREAD_FUNNELED: only the training thread calls MPI).
    /// - Throws: `ResNeXtError.unsupported` naming the library and the variable to set when it cannot be loaded.
    public init() throws {
        let candidates = ProcessEnvironmentValue.string("RESNEXT_LIBMPI").map { [$0] } ?? ["libmpi.so.40", "libmpi.so"]
        var failures: [String] = []
        var loaded: (String, UnsafeMutableRawPointer)?
        for candidate in candidates {
            // RTLD_GLOBAL: Open MPI's own plugins resolve libmpi's symbols through the global namespace.
            if let handle = dlopen(candidate, RTLD_NOW | RTLD_GLOBAL) {
                loaded = (candidate, handle)
                break
            }
            failures.append(dlerror().map { String(cString: $0) } ?? candidate)
        }
        guard let (path, handle) = loaded else {
            throw ResNeXtError.unsupported(
                "data-parallel training needs Open MPI: cannot load \(candidates.joined(separator: " or ")) "
                    + "(\(failures.joined(separator: "; "))); install openmpi-bin (scripts/setup.sh does) or set RESNEXT_LIBMPI")
        }
        self.path = path
        api = try MPIFunctions(handle: handle, library: path)
        var initialized: Int32 = 0
        _ = api.initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            try api.check(api.initThread(nil, nil, 1, &provided), "MPI_Init_thread")
        }
        var rank: Int32 = 0, size: Int32 = 0
        try api.check(api.commRank(api.commWorld, &rank), "MPI_Comm_rank")
        try api.check(api.commSize(api.commWorld, &size), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Ends MPI (call once, at the end of a successful run).
    public func finalize() { _ = api.finalize() }

    public func allReduceSum(_ values: inout [Double]) throws {
        let count = try api.count(values.count)
        try values.withUnsafeMutableBytes { buffer in
            try api.check(
                api.allreduce(MPIFunctions.inPlace, buffer.baseAddress, count, api.double, api.sum, api.commWorld), "MPI_Allreduce")
        }
    }

    public func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> any PendingReduction {
        let request = MPIRequest(api: api)
        try api.check(
            api.iallreduce(
                MPIFunctions.inPlace, buffer.baseAddress, try api.count(buffer.count), api.float, api.sum, api.commWorld, &request.handle),
            "MPI_Iallreduce")
        return request
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        try api.check(api.bcast(buffer.baseAddress, try api.count(buffer.count), api.byte, Int32(root), api.commWorld), "MPI_Bcast")
    }

    public func abort(_ message: String) -> Never {
        fputs("resnext: rank \(rank) of \(size): \(message); stopping the job\n", stderr)
        fflush(stderr)
        _ = api.abort(api.commWorld, 1)
        exit(1)
    }
}

/// One `MPI_Request` of a nonblocking reduction.
final class MPIRequest: PendingReduction {
    let api: MPIFunctions
    var handle: UnsafeMutableRawPointer?
    private var done = false

    init(api: MPIFunctions) { self.api = api }

    func poll() throws -> Bool {
        guard !done else { return true }
        var flag: Int32 = 0
        try api.check(api.test(&handle, &flag, nil), "MPI_Test")
        done = flag != 0
        return done
    }

    func wait() throws {
        guard !done else { return }
        try api.check(api.wait(&handle, nil), "MPI_Wait")
        done = true
    }
}

/// Environment values as numbers or strings.
enum ProcessEnvironmentValue {
    static func string(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
    static func int(_ name: String) -> Int? { string(name).flatMap { Int($0) } }
}
