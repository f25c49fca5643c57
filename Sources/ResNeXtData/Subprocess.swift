#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ResNeXtCore

/// Runs external programs (curl, tar) with posix_spawn and waits for them (no Foundation).
enum Subprocess {
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
    /// executable); nil when there is none.
    static func findExecutable(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let searchPath = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = DataPath.join(directory.isEmpty ? "." : String(directory), name)
            if DataPath.isRegularFile(candidate) && access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Starts `executable` with `arguments` (argv[1...]), standard input from /dev/null and standard
    /// output/error inherited, and waits for it.
    /// - Throws: `ResNeXtError.io` when the process cannot be started.
    static func run(_ executable: String, _ arguments: [String]) throws -> Termination {
        var fileActions = posix_spawn_file_actions_t()
        guard posix_spawn_file_actions_init(&fileActions) == 0 else {
            throw ResNeXtError.io("\(executable): cannot prepare to start it")
        }
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        _ = posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)

        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }

        var pid: pid_t = 0
        let code = posix_spawn(&pid, executable, &fileActions, nil, &argv, environ)
        guard code == 0 else {
            throw ResNeXtError.io("\(executable): cannot start it: \(DataPath.describe(code))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno == EINTR { continue }
            throw ResNeXtError.io("\(executable): waitpid failed: \(DataPath.errnoDescription())")
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros that Swift does not import.
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}
