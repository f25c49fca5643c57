import ResNeXtCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension FileIO {
    /// Removes the temporary files that ``writeAtomically(_:to:)`` leaves behind when its process dies
    /// (`<name>.tmp-<pid>`) from `directory`, when no process with that pid is alive (`kill(pid, 0)`
    /// fails with ESRCH); files of live processes are kept.
    /// - Returns: how many files were removed.
    /// - Throws: `ResNeXtError.io` naming the directory when it cannot be listed.
    @discardableResult
    public static func removeStaleTemporaryFiles(in directory: String) throws -> Int {
        var removed = 0
        for entry in try listDirectory(directory) where entry.kind != .directory {
            guard let marker = entry.name.ranges(of: ".tmp-").last else { continue }
            let digits = entry.name[marker.upperBound...]
            guard !digits.isEmpty, digits.allSatisfy({ ("0"..."9").contains($0) }), let pid = pid_t(digits), pid > 0 else { continue }
            guard kill(pid, 0) != 0, errno == ESRCH else { continue }
            if unlink(join(directory, entry.name)) == 0 { removed += 1 }
        }
        return removed
    }

    /// An exclusive lock on a directory: its `.lock` file held with `flock(LOCK_EX | LOCK_NB)` (the
    /// holder's pid written into it) until this object is released or the process ends.
    public final class DirectoryLock: Sendable {
        /// The directory locked, and its lock file.
        public let directory: String
        public let path: String
        private let fd: Int32

        init(directory: String, path: String, fd: Int32) {
            self.directory = directory
            self.path = path
            self.fd = fd
        }

        deinit { _ = close(fd) }
    }

    /// Takes `directory`'s lock (see ``DirectoryLock``) without waiting.
    /// - Throws: `ResNeXtError.io` naming the directory (and the holder's pid when the lock file has it)
    ///   when another process or object holds it, or when the lock file cannot be created.
    public static func lockDirectory(_ directory: String) throws -> DirectoryLock {
        let path = join(directory, ".lock")
        let fd = retryOnInterrupt { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw ResNeXtError.io("\(directory): cannot create lock file \(path): \(errnoReason())") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            defer { _ = close(fd) }
            guard code == EWOULDBLOCK else {
                throw ResNeXtError.io("\(directory): cannot lock \(path): \(reason(code))")
            }
            let text = String(decoding: (try? readAll(path)) ?? [], as: UTF8.self)
            let holder = Int(text.split(whereSeparator: \.isWhitespace).first ?? "").map { " by pid \($0)" } ?? ""
            throw ResNeXtError.io(
                "\(directory): the directory is in use\(holder) (another training run holds \(path)); use another -save directory")
        }
        // Record the holder's pid (best effort: the lock itself is what counts).
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        return DirectoryLock(directory: directory, path: path, fd: fd)
    }
}
