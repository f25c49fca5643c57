import ResNeXtCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The project's one file-system layer, on POSIX calls (no Foundation): whole-file reads, chunked reads,
/// crash-safe writes and appends here; paths, directories, listing and removal in FileIO+Directories.swift.
/// Every error is a `ResNeXtError.io` whose message starts with the path at fault.
public enum FileIO {
    /// Reads the whole file at `path`.
    /// - Throws: `ResNeXtError.io("<path>: <reason>")`, e.g. "<path>: No such file or directory".
    public static func readAll(_ path: String) throws -> [UInt8] {
        guard !path.isEmpty else { throw ResNeXtError.invalidArgument("readAll: empty path") }
        let fd = try openForReading(path)
        defer { _ = close(fd) }

        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ResNeXtError.io("\(path): \(errnoReason())") }
        if info.st_mode & S_IFMT == S_IFDIR { throw ResNeXtError.io("\(path): Is a directory") }
        let expected = max(0, Int(info.st_size))

        // Read straight into the array's storage; files that report no size (or grow) get chunked reads.
        var bytes = try [UInt8](unsafeUninitializedCapacity: expected) { buffer, count in
            count = 0
            while count < expected {
                let n = try readSome(fd, buffer.baseAddress! + count, expected - count, path: path)
                if n == 0 { break }
                count += n
            }
        }
        if bytes.count == expected {
            try readChunks(fd, path: path, size: 65_536) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// Reads the file at `path` from start to end in chunks of up to `size` bytes, handing each to `body`
    /// (the buffer is only valid during the call): for files too large to hold at once.
    /// - Throws: `ResNeXtError.io("<path>: <reason>")` when the file cannot be opened or read; what `body` throws.
    public static func forEachChunk(
        of path: String, size: Int = 1 << 20,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard !path.isEmpty else { throw ResNeXtError.invalidArgument("forEachChunk: empty path") }
        let fd = try openForReading(path)
        defer { _ = close(fd) }
        try readChunks(fd, path: path, size: max(1, size), body)
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
            let failure = bytes.withUnsafeBytes { writeFully(fd, $0) }
            guard failure == 0 else {
                throw ResNeXtError.io("\(path): cannot write \(temp): \(reason(failure))")
            }
            guard fsync(fd) == 0 else {
                throw ResNeXtError.io("\(path): cannot fsync \(temp): \(errnoReason())")
            }
            fdOpen = false
            guard close(fd) == 0 else {
                throw ResNeXtError.io("\(path): cannot close \(temp): \(errnoReason())")
            }
            try rename(temp, over: path)
        } catch {
            if fdOpen { _ = close(fd) }
            _ = unlink(temp)
            throw error
        }
        try syncDirectory(containing: path)
    }

    /// Appends `bytes` to the file at `path`, creating it (mode 0644) when missing. The file is opened in
    /// append mode for this one write, so lines from several appends never interleave within a line.
    /// - Throws: `ResNeXtError.io("<path>: <reason>")`.
    public static func appendAll(_ bytes: [UInt8], to path: String) throws {
        guard !path.isEmpty else { throw ResNeXtError.invalidArgument("appendAll: empty path") }
        let fd = retryOnInterrupt { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw ResNeXtError.io("\(path): \(errnoReason())") }
        let failure = bytes.withUnsafeBytes { writeFully(fd, $0) }
        let closed = close(fd) == 0 ? 0 : errno
        if failure != 0 { throw ResNeXtError.io("\(path): \(reason(failure))") }
        if closed != 0 { throw ResNeXtError.io("\(path): \(reason(closed))") }
    }

    /// Appends `text` and a newline to the file at `path` (see ``appendAll(_:to:)``).
    public static func appendLine(_ text: String, to path: String) throws {
        try appendAll(Array((text + "\n").utf8), to: path)
    }

    /// Writes `text` and a newline to standard error, unbuffered; failures are ignored (there is nowhere
    /// left to report them).
    public static func writeToStandardError(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { writeFully(2, $0) }
    }

    // MARK: - Helpers

    private static func openForReading(_ path: String) throws -> Int32 {
        let fd = retryOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw ResNeXtError.io("\(path): \(errnoReason())") }
        return fd
    }

    /// One `read` into `buffer`, retried after interrupts; 0 at the end of the file.
    private static func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, path: String) throws -> Int {
        while true {
            let n = read(fd, buffer, count)
            if n >= 0 { return n }
            if errno != EINTR { throw ResNeXtError.io("\(path): \(errnoReason())") }
        }
    }

    /// Reads `fd` to its end in chunks of `size` bytes.
    private static func readChunks(_ fd: Int32, path: String, size: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var chunk = [UInt8](repeating: 0, count: size)
        try chunk.withUnsafeMutableBytes { buffer in
            while true {
                let n = try readSome(fd, buffer.baseAddress!, buffer.count, path: path)
                if n == 0 { return }
                try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
        }
    }

    /// Writes all of `raw` to `fd`, continuing after short writes and interrupts; 0, or the errno of the failure.
    private static func writeFully(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Int32 {
        var written = 0
        while written < raw.count {
            let n = write(fd, raw.baseAddress! + written, raw.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            written += n
        }
        return 0
    }

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

    static func retryOnInterrupt(_ body: () -> Int32) -> Int32 {
        while true {
            let result = body()
            if result >= 0 || errno != EINTR { return result }
        }
    }

    static func errnoReason() -> String { reason(errno) }

    /// The text of an errno value, e.g. "No such file or directory".
    static func reason(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}
