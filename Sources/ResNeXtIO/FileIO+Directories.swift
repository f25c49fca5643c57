import ResNeXtCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Paths, file status, directory listing, creation, renaming and removal.
extension FileIO {
    // MARK: - Paths

    /// `directory/name`, without doubling a trailing slash; `name` alone when `directory` is empty.
    public static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The last path component, ignoring trailing slashes ("a/b/" → "b").
    public static func lastComponent(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }

    // MARK: - Status

    /// A file's device and inode: equal for two paths that reach the same file (what `find -L`
    /// compares to detect symbolic-link loops).
    public struct FileIdentity: Hashable, Sendable {
        public var device: UInt64
        public var inode: UInt64
    }

    /// What `stat` says about a path.
    public struct FileStatus: Sendable {
        public var isDirectory: Bool
        public var isRegularFile: Bool
        public var identity: FileIdentity
    }

    /// The status of `path`, following symbolic links; nil when there is none (missing file, broken
    /// link, no permission to look).
    public static func status(_ path: String) -> FileStatus? {
        var info = stat()
        guard !path.isEmpty, stat(path, &info) == 0 else { return nil }
        let type = info.st_mode & S_IFMT
        return FileStatus(
            isDirectory: type == S_IFDIR, isRegularFile: type == S_IFREG,
            identity: FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
    }

    /// True when something (file, directory, ...) exists at `path`, following symbolic links.
    public static func fileExists(_ path: String) -> Bool { status(path) != nil }

    /// True when `path` exists and is a directory (following symbolic links).
    public static func isDirectory(_ path: String) -> Bool { status(path)?.isDirectory == true }

    /// True when `path` exists and is a regular file (following symbolic links).
    public static func isRegularFile(_ path: String) -> Bool { status(path)?.isRegularFile == true }

    /// True when this process may execute `path` (`access(path, X_OK)`).
    public static func isExecutable(_ path: String) -> Bool { !path.isEmpty && access(path, X_OK) == 0 }

    /// Throws unless `path` is a directory (following symbolic links).
    /// - Parameter what: how the error names it, e.g. "image folder root".
    /// - Throws: `ResNeXtError.io("<path>: <what> not found: <reason>")` or `"<path>: <what> is not a directory"`.
    public static func requireDirectory(_ path: String, what: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ResNeXtError.io("\(path): \(what) not found: \(errnoReason())")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw ResNeXtError.io("\(path): \(what) is not a directory")
        }
    }

    // MARK: - Listing

    /// One name in a directory, with the type the listing reports.
    public struct DirectoryEntry: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case regularFile, directory, symbolicLink, other
            /// The file system does not report types in listings: ask ``FileIO/status(_:)``.
            case unknown
        }

        public var name: String
        /// The entry itself, not what a symbolic link points to.
        public var kind: Kind
    }

    /// The entries of `directory` except "." and "..", in the order the file system lists them.
    /// - Throws: `ResNeXtError.io` naming the directory when it cannot be opened or read, or naming the
    ///   file whose name is not valid UTF-8.
    public static func listDirectory(_ directory: String) throws -> [DirectoryEntry] {
        guard let stream = opendir(directory) else {
            throw ResNeXtError.io("\(directory): cannot open directory: \(errnoReason())")
        }
        defer { _ = closedir(stream) }
        var result: [DirectoryEntry] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw ResNeXtError.io("\(directory): cannot read directory: \(errnoReason())") }
                return result
            }
            let kind: DirectoryEntry.Kind =
                switch Int32(entry.pointee.d_type) {
                case Int32(DT_REG): .regularFile
                case Int32(DT_DIR): .directory
                case Int32(DT_LNK): .symbolicLink
                case Int32(DT_UNKNOWN): .unknown
                default: .other
                }
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw -> String? in
                String(validatingCString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard let name else {
                let lossy = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                throw ResNeXtError.io("\(directory): file name '\(lossy)' is not valid UTF-8 (rename it)")
            }
            if name == "." || name == ".." { continue }
            result.append(DirectoryEntry(name: name, kind: kind))
        }
    }

    // MARK: - Creating, renaming, removing

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
            if let existing = status(prefix) {
                if existing.isDirectory { continue }
                throw ResNeXtError.io("\(path): \(prefix) exists and is not a directory")
            }
            throw ResNeXtError.io("\(path): cannot create directory \(prefix): \(reason(code))")
        }
    }

    /// Creates `path` if needed and proves a file can be written in it, so a run fails before its first
    /// epoch rather than at its first checkpoint.
    public static func checkWritableDirectory(_ path: String) throws {
        try makeDirectories(path)
        let probe = join(path, ".resnext-write-test")
        try writeAtomically([], to: probe)
        unlink(probe)
    }

    /// Renames `source` to `destination` in one step (`rename(2)`), replacing a file or an empty
    /// directory there.
    /// - Throws: `ResNeXtError.io("<destination>: cannot rename <source> over it: <reason>")`.
    public static func rename(_ source: String, over destination: String) throws {
        guard posixRename(source, destination) == 0 else {
            throw ResNeXtError.io("\(destination): cannot rename \(source) over it: \(errnoReason())")
        }
    }

    /// The process's peak resident set (VmHWM in /proc/self/status), in MiB; 0 where unavailable.
    public static func peakResidentMiB() -> Double {
        guard let status = try? readAll("/proc/self/status") else { return 0 }
        let line = String(decoding: status, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        return line.flatMap { Double($0.filter(\.isNumber)) }.map { $0 / 1024 } ?? 0
    }

    /// Removes `path` and, for a directory, everything below it (like `rm -rf`; symbolic links are
    /// removed, never followed). Missing paths are fine; other failures are ignored (best-effort cleanup).
    public static func removeTree(_ path: String) {
        var info = stat()
        guard !path.isEmpty, lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for entry in (try? listDirectory(path)) ?? [] { removeTree(join(path, entry.name)) }
            _ = rmdir(path)
        } else {
            _ = unlink(path)
        }
    }
}

/// `rename(2)`, reachable under another name inside `FileIO`, whose own `rename(_:over:)` hides it there.
private func posixRename(_ source: String, _ destination: String) -> Int32 { rename(source, destination) }
