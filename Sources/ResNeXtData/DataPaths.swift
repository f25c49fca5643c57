#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ResNeXtCore

/// File-system helpers for the data-set readers and downloads (POSIX, no Foundation).
enum DataPath {
    /// `directory/name`, without doubling a trailing slash.
    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// The last path component, ignoring trailing slashes.
    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
    }

    /// True when `path` exists and is a directory (following symbolic links).
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return !path.isEmpty && stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// True when `path` exists and is a regular file (following symbolic links).
    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return !path.isEmpty && stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    /// The text for the current `errno`.
    static func errnoDescription() -> String { describe(errno) }

    /// The text for an errno value.
    static func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    /// Names in `directory` (without "." and "..").
    static func entries(_ directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes `path` and, for a directory, everything below it (like `rm -rf`; symbolic links are
    /// removed, never followed). Missing paths are fine; other failures are ignored (best-effort cleanup).
    static func removeTree(_ path: String) {
        var info = stat()
        guard !path.isEmpty, lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            for name in entries(path) { removeTree(join(path, name)) }
            _ = rmdir(path)
        } else {
            _ = unlink(path)
        }
    }

    /// Writes a message line to standard error (unbuffered, no Foundation).
    static func printError(_ message: String) {
        let line = message + "\n"
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}
