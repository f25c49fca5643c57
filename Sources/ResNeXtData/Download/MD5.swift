import Crypto
import ResNeXtCore
import ResNeXtIO

/// MD5 checksums of downloaded archives (checked against their published values), computed by
/// swift-crypto's `Insecure.MD5` (BoringSSL's MD5); this file only reads the file and spells the digest.
public enum MD5 {
    /// The MD5 digest of `bytes` as 32 lowercase hex digits.
    public static func hexDigest(_ bytes: [UInt8]) -> String {
        var hasher = Insecure.MD5()
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return NumberFormat.hex(hasher.finalize())
    }

    /// The MD5 digest of the file at `path` as 32 lowercase hex digits, read in 1 MiB chunks.
    /// - Throws: `ResNeXtError.io("<path>: <reason>")` when the file cannot be read.
    public static func hexDigest(ofFile path: String) throws -> String {
        var hasher = Insecure.MD5()
        try FileIO.forEachChunk(of: path, size: 1 << 20) { hasher.update(bufferPointer: $0) }
        return NumberFormat.hex(hasher.finalize())
    }
}
