import ResNeXtCore
import ResNeXtIO
import ResNeXtTransforms

/// Decodes image files into 3-channel RGB `Image`s with values `pixel / 255` in [0, 1] (CHW), the form
/// the original's `image.load(path, 3, 'float')` produced.
///
/// The format is sniffed from the content, never from the file name (ImageNet has files whose
/// extension lies): JPEG (starts `FF D8 FF`) through libjpeg-turbo's TurboJPEG API, binary PPM (`P6`)
/// and PGM (`P5`) by hand. Everything else (PNG, BMP, GIF, unknown data) and every damaged file
/// throws `ResNeXtError.io("<source>: <what>")`, so a loader can count and skip it; nothing crashes.
///
/// - JPEG: baseline and progressive, any chroma subsampling. Grayscale JPEGs come out as three equal
///   channels (TurboJPEG converts). CMYK/YCCK JPEGs, which libjpeg cannot convert to RGB, are decoded
///   to CMYK and converted like Pillow does (Adobe's inverted CMYK assumed, `R = K' · C' / 255` on the
///   stored values, with Pillow's rounding). Decoding uses libjpeg's accurate integer IDCT and fancy
///   upsampling (the defaults, same as Pillow), so results match Pillow within ±1/255.
///   Any libjpeg warning ("Corrupt JPEG data: premature end of data segment", ...) is an error: a
///   truncated JPEG is rejected instead of coming back padded with grey.
/// - PPM/PGM: maxval 1...65535 (two big-endian bytes per sample above 255); value = sample / maxval.
///   Comments (`#`) in the header are allowed; data after the first image is ignored.
/// - Dimensions above `maxSide` per side or `maxPixels` in all are rejected before anything is allocated.
public enum ImageDecoder {
    /// The largest accepted width or height.
    public static let maxSide = 65_535
    /// The largest accepted width · height (of the stored image, before any reduced-size decoding).
    public static let maxPixels = 200_000_000

    /// The image formats the decoder recognises by their first bytes.
    public enum Format: String, Sendable, Equatable {
        case jpeg, ppm, pgm, png, bmp, gif, unknown
    }

    /// The format of `bytes`, from their first bytes only.
    public static func format(of bytes: [UInt8]) -> Format {
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 3 && bytes[0] == UInt8(ascii: "P") && (PNMDecoder.isWhitespace(bytes[2]) || bytes[2] == UInt8(ascii: "#")) {
            if bytes[1] == UInt8(ascii: "6") { return .ppm }
            if bytes[1] == UInt8(ascii: "5") { return .pgm }
        }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return .png }
        if bytes.starts(with: [0x42, 0x4D]) { return .bmp }
        if bytes.starts(with: [0x47, 0x49, 0x46, 0x38]) { return .gif }
        return .unknown
    }

    /// Decodes a whole image file held in memory.
    /// - Parameter source: names the data in error messages (normally its path).
    /// - Returns: channels 3, values in [0, 1], CHW.
    /// - Throws: `ResNeXtError.io("<source>: <what>")` for unsupported, damaged or oversized images.
    public static func decode(_ bytes: [UInt8], source: String) throws -> Image {
        try decode(bytes, source: source, minShorterSide: 0)
    }

    /// Like `decode(_:source:)`, but lets a JPEG be decoded at a reduced size: among TurboJPEG's scaling
    /// factors not above 1 (`tjGetScalingFactors`: 1/8, 1/4, 3/8, ..., 7/8, 1), the smallest whose
    /// scaled shorter side (`ceil(side · factor)`) is still `>= minShorterSide` is used; an image whose
    /// shorter side is already below `minShorterSide` is decoded at full size. The DCT-domain scaling is
    /// much cheaper than decoding everything and resizing afterwards (e.g. before `Scale(256)` of a
    /// 2000-pixel photo), but it is a different resampling from the original's, so use it only where bit
    /// parity with the original pipeline does not matter. `minShorterSide <= 0` and non-JPEG formats
    /// decode at full size.
    public static func decode(_ bytes: [UInt8], source: String, minShorterSide: Int) throws -> Image {
        switch format(of: bytes) {
        case .jpeg:
            return try JPEGDecoder.decode(bytes, source: source, minShorterSide: minShorterSide)
        case .ppm, .pgm:
            return try PNMDecoder.decode(bytes, source: source)
        case .png:
            throw ResNeXtError.io("\(source): PNG images are not supported (only JPEG and binary PPM/PGM)")
        case .bmp:
            throw ResNeXtError.io("\(source): BMP images are not supported (only JPEG and binary PPM/PGM)")
        case .gif:
            throw ResNeXtError.io("\(source): GIF images are not supported (only JPEG and binary PPM/PGM)")
        case .unknown:
            if bytes.isEmpty { throw ResNeXtError.io("\(source): empty file, not an image") }
            let head = bytes.prefix(8).map { hexByte($0) }.joined(separator: " ")
            throw ResNeXtError.io("\(source): not a JPEG, PPM or PGM image (starts with \(head))")
        }
    }

    /// Decodes to 8-bit RGB when that is the image's exact form (`decode` gives `byte / 255` of it): JPEGs,
    /// possibly at a reduced size as `decode(_:source:minShorterSide:)`. Returns nil for every other format;
    /// `decode` then gives the float image or the error.
    public static func decodePacked(_ bytes: [UInt8], source: String, minShorterSide: Int = 0) throws -> PackedImage? {
        guard format(of: bytes) == .jpeg else { return nil }
        return try JPEGDecoder.decodePacked(bytes, source: source, minShorterSide: minShorterSide)
    }

    /// Reads and decodes the image file at `path` (errors name the path).
    public static func decodeFile(_ path: String) throws -> Image {
        try decodeFile(path, minShorterSide: 0)
    }

    /// Reads and decodes the image file at `path`, a JPEG possibly at a reduced size (see
    /// `decode(_:source:minShorterSide:)`).
    public static func decodeFile(_ path: String, minShorterSide: Int) throws -> Image {
        let bytes = try FileIO.readAll(path)
        return try decode(bytes, source: path, minShorterSide: minShorterSide)
    }

    // MARK: - Shared helpers

    /// Throws unless `width × height` is a sane size to allocate.
    static func checkDimensions(width: Int, height: Int, source: String) throws {
        guard width > 0, height > 0 else {
            throw ResNeXtError.io("\(source): invalid image size \(width)x\(height)")
        }
        guard width <= maxSide, height <= maxSide, width * height <= maxPixels else {
            throw ResNeXtError.io(
                "\(source): image size \(width)x\(height) is too large "
                    + "(at most \(maxSide) per side and \(maxPixels) pixels)")
        }
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits: [Character] = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
    }
}
