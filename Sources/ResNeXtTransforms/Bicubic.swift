extension Transforms {
    /// Bicubic resize to `width × height` as torch/image `image.scale(img, w, h, 'bicubic')` (`scaleBicubic`, float
    /// images): the same sample positions, edge rules and interpolant, evaluated as four precomputed tap weights
    /// per output (``catmullRomWeights(_:)``), which differs from torch's nested evaluation by float rounding
    /// only (≤ 7e-7 on [0, 1] data; closer to the exact value than torch's).
    ///
    /// Separable: every row is resampled to the new width first, then every column to the new height. Along one
    /// axis of length `src` → `dst`: output `d < dst − 1` samples source coordinate `s = d · (src − 1)/(dst − 1)`
    /// ("align corners", computed in `Float` like torch) with the Catmull-Rom cubic (a = −0.5) through
    /// `p0…p3 = src[⌊s⌋ − 1 … ⌊s⌋ + 2]`; a missing `p0` is extrapolated as `2·p1 − p2`, a missing `p3` as
    /// `2·p2 − p1`. Output `dst − 1` is a copy of input `src − 1`. No anti-aliasing when shrinking, no clamping.
    /// Equal lengths are copied unchanged. Edge cases: a length-1 output is the last input sample (torch's
    /// rule); a length-1 input is replicated to every output (torch leaves its last output unset).
    public static func resizeBicubic(_ image: Image, width: Int, height: Int) -> Image {
        precondition(width >= 1 && height >= 1, "resizeBicubic: target \(width)x\(height)")
        precondition(image.width >= 1 && image.height >= 1, "resizeBicubic: empty source")
        if width == image.width && height == image.height { return image }
        let c = image.channels, sh = image.height, sw = image.width
        let planW = CubicPlan(sourceLength: sw, targetLength: width)
        let planH = CubicPlan(sourceLength: sh, targetLength: height)
        var out = Image(channels: c, height: height, width: width)
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                // Up to four channels at a time, one per lane of the interleaved resampler.
                for first in stride(from: 0, to: c, by: 4) {
                    let lanes = min(4, c - first)
                    let pixels = resample(planW: planW, planH: planH, columns: 0..<width, rows: 0..<height) { y, xs, into in
                        for x in xs {
                            var v = SIMD4<Float>.zero
                            for k in 0..<lanes { v[k] = src[((first + k) * sh + y) * sw + x] }
                            into[x] = v
                        }
                    }
                    for k in 0..<lanes {
                        let plane = dst.baseAddress! + (first + k) * height * width
                        for i in 0..<height * width { plane[i] = pixels[i][k] }
                    }
                }
            }
        }
        return out
    }

    /// torch `Scale(size)`: bicubic resize so the shorter side becomes `size`; the longer side becomes
    /// `Int(Double(long) / Double(short) · Double(size))` (truncated). Returned untouched when the shorter side
    /// already equals `size`.
    public static func scaleShorterSide(_ image: Image, to size: Int) -> Image {
        let (w, h) = shorterSideSize(width: image.width, height: image.height, to: size)
        return w == image.width && h == image.height ? image : resizeBicubic(image, width: w, height: h)
    }

    /// The size ``scaleShorterSide(_:to:)`` gives a `width × height` image (unchanged when its shorter side
    /// already is `size`).
    static func shorterSideSize(width w: Int, height h: Int, to size: Int) -> (width: Int, height: Int) {
        if (w <= h && w == size) || (h <= w && h == size) { return (w, h) }
        if w < h { return (size, Int(Double(h) / Double(w) * Double(size))) }
        return (Int(Double(w) / Double(h) * Double(size)), size)
    }
}
