/// An 8-bit RGB image as a decoder produces it: 3 interleaved bytes per pixel, rows of `3 · width` bytes.
/// Its float form (``planar()``) is what the original's `image.load(path, 3, 'float')` gave: `byte / 255`, CHW.
public struct PackedImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `3 · width · height` bytes; pixel `(y, x)` channel `c` is at `(y · width + x) · 3 + c`.
    public let bytes: [UInt8]

    public init(width: Int, height: Int, bytes: [UInt8]) {
        precondition(
            width >= 1 && height >= 1 && bytes.count == 3 * width * height,
            "PackedImage: \(bytes.count) bytes for \(width)x\(height) RGB")
        self.width = width
        self.height = height
        self.bytes = bytes
    }

    /// `byte / 255` for every byte value.
    public static let unitScale: [Float] = (0...255).map { Float($0) / 255 }

    /// The 3-channel float image, values `byte / 255`, CHW.
    public func planar() -> Image {
        let plane = width * height
        let pixels = [Float](unsafeUninitializedCapacity: 3 * plane) { out, initialized in
            Self.unitScale.withUnsafeBufferPointer { table in
                bytes.withUnsafeBufferPointer { src in
                    for i in 0..<plane {
                        out[i] = table[Int(src[3 * i])]
                        out[plane + i] = table[Int(src[3 * i + 1])]
                        out[2 * plane + i] = table[Int(src[3 * i + 2])]
                    }
                }
            }
            initialized = 3 * plane
        }
        return Image(channels: 3, height: height, width: width, pixels: pixels)
    }
}
