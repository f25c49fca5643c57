import CTurboJPEG
import ResNeXtCore
import ResNeXtTransforms

/// JPEG decoding through libjpeg-turbo's TurboJPEG API (see `ImageDecoder` for the contract).
///
/// One decompressor handle per call (`tjInitDecompress` is a small allocation next to a decode), so
/// this is safe to call from any number of loader threads at once.
enum JPEGDecoder {
    /// A TurboJPEG scaling factor `num / denom`.
    struct ScalingFactor: Sendable, Equatable {
        var num: Int
        var denom: Int

        /// `TJSCALED(dimension, factor)` (the C macro does not import into Swift).
        func scaled(_ dimension: Int) -> Int { (dimension * num + denom - 1) / denom }
    }

    /// TurboJPEG's scaling factors that do not enlarge, smallest first (1/8 ... 1/1 with libjpeg-turbo 2.x).
    static let reducingFactors: [ScalingFactor] = {
        var count: Int32 = 0
        var factors: [ScalingFactor] = []
        if let list = tjGetScalingFactors(&count) {
            for i in 0..<Int(max(count, 0)) {
                let factor = ScalingFactor(num: Int(list[i].num), denom: Int(list[i].denom))
                if factor.num > 0 && factor.denom > 0 && factor.num <= factor.denom { factors.append(factor) }
            }
        }
        if !factors.contains(ScalingFactor(num: 1, denom: 1)) { factors.append(ScalingFactor(num: 1, denom: 1)) }
        return factors.sorted { $0.num * $1.denom < $1.num * $0.denom }
    }()

    /// The smallest reducing factor whose scaled shorter side is `>= minShorterSide`; 1/1 when none is
    /// (or when `minShorterSide <= 0`).
    static func scalingFactor(width: Int, height: Int, minShorterSide: Int) -> ScalingFactor {
        let identity = ScalingFactor(num: 1, denom: 1)
        guard minShorterSide > 0 else { return identity }
        for factor in reducingFactors where min(factor.scaled(width), factor.scaled(height)) >= minShorterSide {
            return factor
        }
        return identity
    }

    /// Stop at the first libjpeg warning (it is an error for us anyway) and refuse progressive JPEGs with
    /// more than 500 scans (a denial-of-service guard of libjpeg-turbo ≥ 2.1).
    private static let flags = Int32(TJFLAG_STOPONWARNING) | Int32(TJFLAG_LIMITSCANS)

    static func decode(_ bytes: [UInt8], source: String, minShorterSide: Int) throws -> Image {
        try decodePacked(bytes, source: source, minShorterSide: minShorterSide).planar()
    }

    /// Decodes to 8-bit RGB (3 bytes per pixel).
    static func decodePacked(_ bytes: [UInt8], source: String, minShorterSide: Int) throws -> PackedImage {
        guard let handle = tjInitDecompress() else {
            throw ResNeXtError.io("\(source): cannot create a TurboJPEG decompressor: \(errorString(nil))")
        }
        defer { tjDestroy(handle) }

        return try bytes.withUnsafeBufferPointer { jpeg -> PackedImage in
            guard let jpegBase = jpeg.baseAddress else { throw ResNeXtError.io("\(source): empty file, not an image") }
            let jpegSize = UInt(jpeg.count)

            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
            guard tjDecompressHeader3(handle, jpegBase, jpegSize, &width, &height, &subsampling, &colorspace) == 0 else {
                throw failure(handle, source: source, stage: "invalid JPEG header")
            }
            // A datastream that ends before its frame header reads as "tables-only" JPEG: success, size 0x0.
            guard width > 0 && height > 0 else {
                throw ResNeXtError.io("\(source): JPEG data has no image (truncated before its frame header)")
            }
            try ImageDecoder.checkDimensions(width: Int(width), height: Int(height), source: source)

            let factor = scalingFactor(width: Int(width), height: Int(height), minShorterSide: minShorterSide)
            let outWidth = factor.scaled(Int(width)), outHeight = factor.scaled(Int(height))

            // libjpeg cannot convert CMYK/YCCK to RGB: take CMYK and convert here.
            let isCMYK = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
            let pixelFormat = isCMYK ? Int32(TJPF_CMYK.rawValue) : Int32(TJPF_RGB.rawValue)
            let stride = isCMYK ? 4 : 3

            let pixelCount = outWidth * outHeight
            var status: Int32 = 0
            var rgb = [UInt8](unsafeUninitializedCapacity: pixelCount * stride) { buffer, initialized in
                status = tjDecompress2(
                    handle, jpegBase, jpegSize, buffer.baseAddress,
                    Int32(outWidth), Int32(outWidth * stride), Int32(outHeight), pixelFormat, flags)
                initialized = pixelCount * stride
            }
            guard status == 0 else {
                throw failure(handle, source: source, stage: "corrupt or unsupported JPEG")
            }
            if isCMYK {
                rgb.withUnsafeMutableBufferPointer { p in
                    invertedCMYKToRGB(p, pixelCount: pixelCount)
                    for i in 0..<pixelCount { for c in 0..<3 { p[3 * i + c] = p[4 * i + c] } }  // 4 → 3 bytes per pixel
                }
                rgb.removeLast(pixelCount)
            }
            return PackedImage(width: outWidth, height: outHeight, bytes: rgb)
        }
    }

    /// Converts Adobe (inverted) CMYK to RGB in place (RGB in the first three bytes of each 4-byte pixel)
    /// exactly as Pillow does for CMYK JPEGs: unpack as "CMYK;I" (ink = 255 − stored), then
    /// `R = K' − K'·C/255` with `K' = 255 − ink K`, using Pillow's `MULDIV255` rounding.
    static func invertedCMYKToRGB(_ pixels: UnsafeMutableBufferPointer<UInt8>, pixelCount: Int) {
        @inline(__always) func mulDiv255(_ a: Int, _ b: Int) -> Int {
            let t = a * b + 128
            return ((t >> 8) + t) >> 8
        }
        let p = pixels.baseAddress!
        for i in 0..<pixelCount {
            let q = p + 4 * i
            let notBlack = Int(q[3])  // 255 − ink K = the stored (inverted) value
            for c in 0..<3 {
                let ink = 255 - Int(q[c])
                q[c] = UInt8(clamping: notBlack - mulDiv255(ink, notBlack))
            }
        }
    }

    /// The error for a failed TurboJPEG call, with TurboJPEG's message. (Not labelled fatal or warning:
    /// `tjGetErrorCode` reports a warning whenever one was emitted earlier, even for a later fatal error.)
    private static func failure(_ handle: tjhandle, source: String, stage: String) -> ResNeXtError {
        ResNeXtError.io("\(source): \(stage): \(errorString(handle))")
    }

    private static func errorString(_ handle: tjhandle?) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "unknown TurboJPEG error" }
        return String(cString: text)
    }
}
