import Dispatch
import ResNeXtCore
import ResNeXtIO
import Subprocess
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs external programs (curl, tar) through swift-subprocess and waits for them.
///
/// swift-subprocess's `run` is `async`; the CIFAR download and everything above it (data set setup, the
/// trainer, the command line) are synchronous, so `run` starts the child from a detached task and blocks
/// the calling thread until the task reports back. Call it from ordinary threads only, not from inside a
/// Swift concurrency task: there it would hold one of the cooperative pool's few threads while it waits.
enum ExternalProgram {
    /// How a child process ended.
    enum Termination: Equatable {
        case exited(Int32)
        case signaled(Int32)

        var succeeded: Bool { self == .exited(0) }

        var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }

    /// The full path of `name` found on `$PATH` (or `name` itself when it contains a slash and is
    /// executable); nil when there is none. (An empty `$PATH` entry means the current directory, as in
    /// the shell; swift-subprocess's own lookup skips such entries, so the project keeps this one and
    /// hands swift-subprocess the full path.)
    static func findExecutable(_ name: String) -> String? {
        if name.contains("/") { return FileIO.isExecutable(name) ? name : nil }
        let searchPath = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = FileIO.join(directory.isEmpty ? "." : String(directory), name)
            if FileIO.isRegularFile(candidate) && FileIO.isExecutable(candidate) { return candidate }
        }
        return nil
    }

    /// Starts `executable` with `arguments` (argv[1...]), standard input from /dev/null and standard
    /// output/error inherited, and waits for it.
    /// - Throws: `ResNeXtError.io` when the process cannot be started.
    static func run(_ executable: String, _ arguments: [String]) throws -> Termination {
        let status: TerminationStatus
        do {
            status = try waitFor {
                try await Subprocess.run(
                    .path(FilePath(executable)), arguments: Arguments(arguments), input: .none,
                    output: .currentStandardOutput, error: .currentStandardError
                ).terminationStatus
            }
        } catch {
            throw ResNeXtError.io("\(executable): cannot start it: \(error)")
        }
        switch status {
        case .exited(let code): return .exited(code)
        case .signaled(let signal): return .signaled(signal)
        }
    }

    /// Where a detached task leaves its result for the thread that waits for it.
    private final class Completion<Value: Sendable>: Sendable {
        let result = Mutex<Result<Value, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
    }

    /// Runs `body` in a detached task and blocks the calling thread until it has finished.
    private static func waitFor<Value: Sendable>(_ body: @escaping @Sendable () async throws -> Value) throws -> Value {
        let completion = Completion<Value>()
        Task.detached {
            let result: Result<Value, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            completion.result.withLock { $0 = result }
            completion.done.signal()
        }
        completion.done.wait()
        return try completion.result.withLock { $0! }.get()
    }
}
