#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import ResNeXtCore

/// MD5 checksums of downloaded archives (checked against their published values), computed by
/// swift-crypto's `Insecure.MD5` (BoringSSL's MD5); this file only reads the file and spells the digest.
public enum MD5 {
    /// The MD5 digest of `bytes` as 32 lowercase hex digits.
    public static func hexDigest(_ bytes: [UInt8]) -> String {
        var hasher = Insecure.MD5()
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hex(hasher.finalize())
    }

    /// The MD5 digest of the file at `path` as 32 lowercase hex digits, read in 1 MiB chunks.
    /// - Throws: `ResNeXtError.io("<path>: <reason>")` when the file cannot be read.
    public static func hexDigest(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ResNeXtError.io("\(path): \(DataPath.errnoDescription())") }
        defer { _ = close(fd) }
        var hasher = Insecure.MD5()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ResNeXtError.io("\(path): \(DataPath.errnoDescription())")
            }
            if n == 0 { break }
            chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hex(hasher.finalize())
    }

    /// Lowercase hex spelling of a digest's bytes.
    static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in digest {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
