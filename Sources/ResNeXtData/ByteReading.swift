/// Small helpers for parsing binary data-set files (CIFAR, MNIST IDX).
enum ByteReader {
    /// The big-endian 32-bit unsigned integer at `offset` (the caller checks the bounds).
    static func uint32BigEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    /// Appends `[offset, offset + count)` of `source` to `destination` with a single copy.
    static func append(_ source: [UInt8], offset: Int, count: Int, to destination: inout [UInt8]) {
        source.withUnsafeBufferPointer { buffer in
            destination.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[offset..<(offset + count)]))
        }
    }

    /// 0–255 bytes to floats on the same scale.
    static func floats(_ bytes: ArraySlice<UInt8>) -> [Float] {
        [Float](unsafeUninitializedCapacity: bytes.count) { out, initialized in
            bytes.withUnsafeBufferPointer { src in
                for i in 0..<src.count { out[i] = Float(src[i]) }
            }
            initialized = bytes.count
        }
    }

    /// The non-empty lines of a text file (trimmed of spaces, tabs and carriage returns).
    static func nonEmptyLines(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: true)
            .map { line in
                var s = Substring(line)
                while let last = s.last, last == " " || last == "\t" || last == "\r" { s = s.dropLast() }
                while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
                return String(s)
            }
            .filter { !$0.isEmpty }
    }
}
