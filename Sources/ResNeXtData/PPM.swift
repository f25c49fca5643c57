import ResNeXtCore
import ResNeXtTransforms

/// Binary Netpbm images: PPM (`P6`, RGB) and PGM (`P5`, grey, expanded to three equal channels).
///
/// Header: magic, width, height, maxval separated by whitespace, with `#` comments running to the end of
/// the line; then exactly one whitespace byte and the raster. Samples are one byte for maxval ≤ 255 and
/// two big-endian bytes above; value = sample / maxval (so maxval 255 gives exactly `pixel / 255`).
/// Samples above maxval, short rasters and malformed headers throw; bytes after the raster are ignored.
enum PNMDecoder {
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0B || byte == 0x0C || byte == 0x0D
    }

    static func decode(_ bytes: [UInt8], source: String) throws -> Image {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"),
            bytes[1] == UInt8(ascii: "6") || bytes[1] == UInt8(ascii: "5")
        else {
            throw ResNeXtError.io("\(source): not a binary PPM/PGM image")
        }
        let channels = bytes[1] == UInt8(ascii: "6") ? 3 : 1
        let kind = channels == 3 ? "PPM" : "PGM"
        var position = 2

        func number(_ field: String) throws -> Int {
            // Skip whitespace and comments.
            while position < bytes.count {
                if isWhitespace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 0x0A && bytes[position] != 0x0D { position += 1 }
                } else {
                    break
                }
            }
            var value = 0
            var digits = 0
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
                value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                digits += 1
                position += 1
                if value > 1_000_000_000 {
                    throw ResNeXtError.io("\(source): \(kind) header: \(field) is too large")
                }
            }
            guard digits > 0 else {
                throw ResNeXtError.io("\(source): \(kind) header: missing or malformed \(field)")
            }
            return value
        }

        let width = try number("width")
        let height = try number("height")
        let maxval = try number("maxval")
        guard position < bytes.count, isWhitespace(bytes[position]) else {
            throw ResNeXtError.io("\(source): \(kind) header: expected one whitespace byte after maxval")
        }
        position += 1
        try ImageDecoder.checkDimensions(width: width, height: height, source: source)
        guard (1...65_535).contains(maxval) else {
            throw ResNeXtError.io("\(source): \(kind) header: maxval \(maxval) is not in 1...65535")
        }

        let bytesPerSample = maxval > 255 ? 2 : 1
        let samples = width * height * channels
        let available = bytes.count - position
        guard available >= samples * bytesPerSample else {
            throw ResNeXtError.io(
                "\(source): truncated \(kind): \(width)x\(height) needs \(samples * bytesPerSample) "
                    + "bytes of pixel data, found \(available)")
        }

        if maxval == 255 {  // exactly the bytes / 255
            let raster = bytes[position..<(position + samples)]
            return PackedImage(width: width, height: height, bytes: channels == 3 ? Array(raster) : raster.flatMap { [$0, $0, $0] })
                .planar()
        }

        let plane = width * height
        let scale = Float(maxval)
        var pixels = [Float](repeating: 0, count: 3 * plane)
        var badSample = false
        bytes.withUnsafeBufferPointer { buffer in
            pixels.withUnsafeMutableBufferPointer { out in
                let raster = buffer.baseAddress! + position
                for i in 0..<plane {
                    for c in 0..<channels {
                        let s = i * channels + c
                        let sample =
                            bytesPerSample == 1
                            ? Int(raster[s]) : Int(raster[2 * s]) << 8 | Int(raster[2 * s + 1])
                        if sample > maxval { badSample = true }
                        out[c * plane + i] = Float(sample) / scale
                    }
                    if channels == 1 {
                        out[plane + i] = out[i]
                        out[2 * plane + i] = out[i]
                    }
                }
            }
        }
        if badSample {
            throw ResNeXtError.io("\(source): \(kind) has samples above its maxval \(maxval)")
        }
        return Image(channels: 3, height: height, width: width, pixels: pixels)
    }
}
