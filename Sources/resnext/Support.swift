#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Writes a line to standard error.
func printError(_ text: String) {
    fputs(text + "\n", stderr)
}

func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

@inline(__always) func _exp(_ x: Double) -> Double { exp(x) }
