#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ResNeXtCore

/// Whole-file reads and crash-safe writes on POSIX file descriptors (no Foundation).
public enum FileIO {
    /// Reads the whole file at `path`.
    /// - Throws: `ResNeXtError.io("<path>: <reason>")`, e.g. "<path>: No such file or directory".
    public static func readAll(_ path: String) throws -> [UInt8] {
        guard !path.isEmpty else { throw ResNeXtError.invalidArgument("readAll: empty path") }
        let fd = retryOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw ResNeXtError.io("\(path): \(errnoReason())") }
        defer { _ = close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ResNeXtError.io("\(path): \(errnoReason())") }
        if info.st_mode & S_IFMT == S_IFDIR { throw ResNeXtError.io("\(path): Is a directory") }
        let expected = max(0, Int(info.st_size))

        // Read straight into the array's storage; files that report no size (or grow) get chunked reads.
        var bytes = try [UInt8](unsafeUninitializedCapacity: expected) { buffer, count in
            count = 0
            while count < expected {
                let n = read(fd, buffer.baseAddress! + count, expected - count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ResNeXtError.io("\(path): \(errnoReason())")
                }
                if n == 0 { break }
                count += n
            }
        }
        if bytes.count == expected {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ResNeXtError.io("\(path): \(errnoReason())")
                }
                if n == 0 { break }
                bytes.append(contentsOf: chunk[0..<n])
            }
        }
        return bytes
    }

    /// Replaces the file at `path` with `bytes` so that readers see either the old or the new
    /// contents: writes `<path>.tmp-<pid>`, fsyncs it, renames it over `path`, then fsyncs the directory.
    /// - Throws: `ResNeXtError.io` naming `path` (the temporary file is removed on failure).
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        guard !path.isEmpty, !path.hasSuffix("/") else {
            throw ResNeXtError.invalidArgument("writeAtomically: '\(path)' is not a file path")
        }
        let temp = "\(path).tmp-\(getpid())"
        let fd = retryOnInterrupt { open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard fd >= 0 else {
            throw ResNeXtError.io("\(path): cannot create temporary file \(temp): \(errnoReason())")
        }
        var fdOpen = true
        do {
            try bytes.withUnsafeBytes { raw in
                var written = 0
                while written < raw.count {
                    let n = write(fd, raw.baseAddress! + written, raw.count - written)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw ResNeXtError.io("\(path): cannot write \(temp): \(errnoReason())")
                    }
                    written += n
                }
            }
            guard fsync(fd) == 0 else {
                throw ResNeXtError.io("\(path): cannot fsync \(temp): \(errnoReason())")
            }
            fdOpen = false
            guard close(fd) == 0 else {
                throw ResNeXtError.io("\(path): cannot close \(temp): \(errnoReason())")
            }
            guard rename(temp, path) == 0 else {
                throw ResNeXtError.io("\(path): cannot rename \(temp) over it: \(errnoReason())")
            }
        } catch {
            if fdOpen { _ = close(fd) }
            _ = unlink(temp)
            throw error
        }
        try syncDirectory(containing: path)
    }

    /// True when something (file, directory, ...) exists at `path`, following symbolic links.
    public static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return !path.isEmpty && stat(path, &info) == 0
    }

    /// Creates `path` and any missing parent directories (like `mkdir -p`); succeeds if it already exists.
    /// - Throws: `ResNeXtError.io` naming `path` when a component is not a directory or cannot be created.
    public static func makeDirectories(_ path: String) throws {
        guard !path.isEmpty else { throw ResNeXtError.invalidArgument("makeDirectories: empty path") }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
            prefix += component
            if mkdir(prefix, 0o755) == 0 { continue }
            let code = errno
            var info = stat()
            if stat(prefix, &info) == 0 {
                if info.st_mode & S_IFMT == S_IFDIR { continue }
                throw ResNeXtError.io("\(path): \(prefix) exists and is not a directory")
            }
            throw ResNeXtError.io("\(path): cannot create directory \(prefix): \(reason(code))")
        }
    }

    /// Creates `path` if needed and proves a file can be written in it, so a run fails before its first
    /// epoch rather than at its first checkpoint.
    public static func checkWritableDirectory(_ path: String) throws {
        try makeDirectories(path)
        let probe = path + "/.resnext-write-test"
        try writeAtomically([], to: probe)
        unlink(probe)
    }

    // MARK: - Helpers

    /// Flushes the directory entry created by a rename; file systems that cannot sync directories are tolerated.
    private static func syncDirectory(containing path: String) throws {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = retryOnInterrupt { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { return }
        defer { _ = close(fd) }
        if fsync(fd) != 0 && errno != EINVAL && errno != EROFS {
            throw ResNeXtError.io("\(path): cannot fsync directory \(directory): \(errnoReason())")
        }
    }

    private static func retryOnInterrupt(_ body: () -> Int32) -> Int32 {
        while true {
            let result = body()
            if result >= 0 || errno != EINTR { return result }
        }
    }

    private static func errnoReason() -> String { reason(errno) }

    private static func reason(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}
