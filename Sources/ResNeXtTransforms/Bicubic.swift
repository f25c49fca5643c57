extension Transforms {
    /// Bicubic resize to `width × height`, exactly as torch/image `image.scale(img, w, h, 'bicubic')`
    /// (`scaleBicubic`, float images).
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
        var tmp = [Float](repeating: 0, count: c * sh * width)
        var out = Image(channels: c, height: height, width: width)
        let planW = CubicPlan(sourceLength: sw, targetLength: width)
        let planH = CubicPlan(sourceLength: sh, targetLength: height)
        image.pixels.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { t in
                for row in 0..<c * sh {   // rows first: (c, y) → width
                    planW.apply(src.baseAddress! + row * sw, 1, t.baseAddress! + row * width, 1)
                }
            }
        }
        tmp.withUnsafeBufferPointer { t in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for ch in 0..<c {         // then columns, a whole output row at a time (contiguous, vectorizable)
                    planH.applyRows(t.baseAddress! + ch * sh * width, dst.baseAddress! + ch * height * width, width: width)
                }
            }
        }
        return out
    }

    /// torch `Scale(size)`: bicubic resize so the shorter side becomes `size`; the longer side becomes
    /// `Int(Double(long) / Double(short) · Double(size))` (truncated). Returned untouched when the shorter side
    /// already equals `size`.
    public static func scaleShorterSide(_ image: Image, to size: Int) -> Image {
        let w = image.width, h = image.height
        if (w <= h && w == size) || (h <= w && h == size) { return image }
        if w < h {
            return resizeBicubic(image, width: size, height: Int(Double(h) / Double(w) * Double(size)))
        }
        return resizeBicubic(image, width: Int(Double(w) / Double(h) * Double(size)), height: size)
    }
}

/// The per-output source positions of one resampling axis (torch `scaleCubic_rowcol`).
struct CubicPlan {
    let sourceLength: Int
    let targetLength: Int
    /// `⌊s⌋` and `s − ⌊s⌋` for outputs `0 ..< targetLength − 1`.
    private var index: [Int] = []
    private var fraction: [Float] = []

    init(sourceLength: Int, targetLength: Int) {
        self.sourceLength = sourceLength
        self.targetLength = targetLength
        guard sourceLength > 1, sourceLength != targetLength, targetLength > 1 else { return }
        let scale = Float(sourceLength - 1) / Float(targetLength - 1)
        for d in 0..<targetLength - 1 {
            let s = Float(d) * scale
            let i = min(Int(s), sourceLength - 2)
            index.append(i)
            fraction.append(s - Float(i))
        }
    }

    /// Resamples `sourceLength` values at stride `srcStride` into `targetLength` values at stride `dstStride`.
    func apply(_ src: UnsafePointer<Float>, _ srcStride: Int, _ dst: UnsafeMutablePointer<Float>, _ dstStride: Int) {
        let n = sourceLength, m = targetLength
        if n == m {
            for i in 0..<m { dst[i * dstStride] = src[i * srcStride] }
            return
        }
        if n == 1 {
            for i in 0..<m { dst[i * dstStride] = src[0] }
            return
        }
        for d in 0..<index.count {
            let i = index[d]
            let p1 = src[i * srcStride]
            let p2 = src[(i + 1) * srcStride]
            let p0: Float = i > 0 ? src[(i - 1) * srcStride] : 2 * p1 - p2
            let p3: Float = i + 2 < n ? src[(i + 2) * srcStride] : 2 * p2 - p1
            dst[d * dstStride] = catmullRom(p0, p1, p2, p3, fraction[d])
        }
        dst[(m - 1) * dstStride] = src[(n - 1) * srcStride]
    }

    /// Resamples along the slow axis: output row `d` of `width` values from source rows around
    /// `index[d]` — the same arithmetic as ``apply(_:_:_:_:)`` on every column, in row order.
    func applyRows(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, width: Int) {
        let n = sourceLength, m = targetLength
        if n == m || n == 1 {
            for d in 0..<m { (dst + d * width).update(from: src + (n == 1 ? 0 : d) * width, count: width) }
            return
        }
        for d in 0..<index.count {
            let i = index[d], x = fraction[d]
            let r1 = src + i * width, r2 = src + (i + 1) * width
            let r0: UnsafePointer<Float>? = i > 0 ? src + (i - 1) * width : nil
            let r3: UnsafePointer<Float>? = i + 2 < n ? src + (i + 2) * width : nil
            let out = dst + d * width
            for j in 0..<width {
                let p1 = r1[j], p2 = r2[j]
                let p0 = r0?[j] ?? 2 * p1 - p2
                let p3 = r3?[j] ?? 2 * p2 - p1
                out[j] = catmullRom(p0, p1, p2, p3, x)
            }
        }
        (dst + (m - 1) * width).update(from: src + (n - 1) * width, count: width)
    }
}

/// torch/image `cubicInterpolate`, with its float temporaries and its double `0.5 · x · (…)` step.
@inline(__always)
func catmullRom(_ p0: Float, _ p1: Float, _ p2: Float, _ p3: Float, _ x: Float) -> Float {
    let a1: Float = p2 - p0
    let a2: Float = ((2 * p0 - 5 * p1) + 4 * p2) - p3
    let a3: Float = (3 * (p1 - p2) + p3) - p0
    let inner: Float = a1 + x * (a2 + x * a3)
    return Float(Double(p1) + 0.5 * Double(x) * Double(inner))
}
