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
        let resizer = PlaneResizer(sourceWidth: sw, sourceHeight: sh, width: width, height: height)
        var out = Image(channels: c, height: height, width: width)
        var columns = [Float](repeating: 0, count: sw * sh)
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                columns.withUnsafeMutableBufferPointer { cols in
                    for ch in 0..<c {
                        transpose(src.baseAddress! + ch * sh * sw, rows: sh, cols: sw, cols.baseAddress!)
                        resizer.resize(columns: cols.baseAddress!, into: dst.baseAddress! + ch * height * width)
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
}

/// ``Transforms/resizeBicubic(_:width:height:)`` of one plane, given transposed: rows first (along the
/// transposed plane's contiguous axis, so the loop vectorizes), transposed back, then columns.
final class PlaneResizer {
    let sourceHeight: Int
    let width: Int
    let height: Int
    private let planW: CubicPlan
    private let planH: CubicPlan
    private var resampled: [Float]
    private var rows: [Float]

    init(sourceWidth: Int, sourceHeight: Int, width: Int, height: Int) {
        self.sourceHeight = sourceHeight
        self.width = width
        self.height = height
        planW = CubicPlan(sourceLength: sourceWidth, targetLength: width)
        planH = CubicPlan(sourceLength: sourceHeight, targetLength: height)
        resampled = [Float](repeating: 0, count: width * sourceHeight)
        rows = [Float](repeating: 0, count: width * sourceHeight)
    }

    /// `columns`: the source plane transposed (`sourceWidth` rows of `sourceHeight` values); `out`: the
    /// `height × width` result.
    func resize(columns: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let sh = sourceHeight
        resampled.withUnsafeMutableBufferPointer { res in
            rows.withUnsafeMutableBufferPointer { r in
                planW.applyRows(columns, res.baseAddress!, width: sh)                   // (x, y) → (d, y)
                transpose(res.baseAddress!, rows: width, cols: sh, r.baseAddress!)      // → (y, d)
                planH.applyRows(r.baseAddress!, out, width: width)                      // → (e, d)
            }
        }
    }
}

/// The per-output source positions of one resampling axis (torch `scaleCubic_rowcol`).
struct CubicPlan {
    let sourceLength: Int
    let targetLength: Int
    /// `⌊s⌋` and the Catmull-Rom weights of `p0…p3` at `s − ⌊s⌋` for outputs `0 ..< targetLength − 1`.
    private(set) var index: [Int] = []
    private(set) var weights: [SIMD4<Float>] = []
    /// The outputs whose taps `index − 1 … index + 2` are all inside the source.
    private(set) var interiorOutputs: Range<Int> = 0..<0

    init(sourceLength: Int, targetLength: Int) {
        self.sourceLength = sourceLength
        self.targetLength = targetLength
        guard sourceLength > 1, sourceLength != targetLength, targetLength > 1 else { return }
        let scale = Float(sourceLength - 1) / Float(targetLength - 1)
        for d in 0..<targetLength - 1 {
            let s = Float(d) * scale
            let i = min(Int(s), sourceLength - 2)
            index.append(i)
            weights.append(catmullRomWeights(s - Float(i)))
        }
        let first = index.firstIndex { $0 > 0 } ?? index.count
        let end = index.lastIndex { $0 + 2 < sourceLength }.map { $0 + 1 } ?? first
        interiorOutputs = first..<max(first, end)
    }

    /// Resamples `sourceLength` rows of `width` values into `targetLength` rows: output row `d < m − 1` is
    /// `catmullRom` of source rows `index[d] − 1 … index[d] + 2` at `fraction[d]`, element by element (a missing
    /// first row is extrapolated as `2·r1 − r2`, a missing last one as `2·r2 − r1`); the last output row is a copy
    /// of the last source row; equal lengths copy, a single source row is replicated. Interior rows run a
    /// branch-free loop over the row (vectorized); only the few edge rows extrapolate per element.
    func applyRows(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, width: Int) {
        applyRows(dst, width: width) { src + $0 * width }
    }

    /// ``applyRows(_:_:width:)`` with source row `r` at `row(r)`, for the output rows `outputs` only (all by
    /// default; output `d` goes to row `d − outputs.lowerBound` of `dst`). Rows are asked for in
    /// nondecreasing order of their lowest index in use, at most four at a time, so a caller may compute them
    /// on demand into a ring of four rows (row `r` in slot `r mod 4`). `written(d)` follows each output row
    /// `d`, in order.
    func applyRows(_ dst: UnsafeMutablePointer<Float>, width: Int, outputs: Range<Int>? = nil, row: (Int) -> UnsafePointer<Float>,
                   written: (Int) -> Void = { _ in }) {
        let n = sourceLength, m = targetLength
        let range = outputs ?? 0..<m
        for d in range {
            let out = dst + (d - range.lowerBound) * width
            if n == m || n == 1 || d == m - 1 {   // a copy: equal lengths, a single source row, or the last output
                out.update(from: row(n == m ? d : n - 1), count: width)
                written(d)
                continue
            }
            let i = index[d], w = weights[d]
            if i > 0 && i + 2 < n {
                let r0 = row(i - 1), r1 = row(i), r2 = row(i + 1), r3 = row(i + 2)
                cubicRows(r0, r1, r2, r3, out, width, w)
                written(d)
                continue
            }
            let r0: UnsafePointer<Float>? = i > 0 ? row(i - 1) : nil
            let r1 = row(i), r2 = row(i + 1)
            let r3: UnsafePointer<Float>? = i + 2 < n ? row(i + 2) : nil
            for j in 0..<width {
                let p1 = r1[j], p2 = r2[j]
                let p0 = r0?[j] ?? 2 * p1 - p2
                let p3 = r3?[j] ?? 2 * p2 - p1
                out[j] = catmullRom(p0, p1, p2, p3, w)
            }
            written(d)
        }
    }
}

/// `out[j] = catmullRom(r0[j], r1[j], r2[j], r3[j], w)` for `j < count`.
@inline(never)
func cubicRows(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>,
               _ out: UnsafeMutablePointer<Float>, _ count: Int, _ w: SIMD4<Float>) {
    let (w0, w1, w2, w3) = (w[0], w[1], w[2], w[3])
    for j in 0..<count { out[j] = ((w0 * r0[j] + w1 * r1[j]) + w2 * r2[j]) + w3 * r3[j] }
}

/// `dst[c · rows + r] = src[r · cols + c]`: a `rows × cols` matrix transposed, in cache-sized tiles.
func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, _ dst: UnsafeMutablePointer<Float>) {
    let tile = 16
    for r0 in stride(from: 0, to: rows, by: tile) {
        let r1 = min(r0 + tile, rows)
        for c0 in stride(from: 0, to: cols, by: tile) {
            for c in c0..<min(c0 + tile, cols) {
                let column = dst + c * rows
                for r in r0..<r1 { column[r] = src[r * cols + c] }
            }
        }
    }
}

/// The weights of `p0…p3` in torch/image's `cubicInterpolate` (Catmull-Rom, a = −0.5) at `x`:
/// `p1 + x/2 · (a1 + x·(a2 + x·a3))` with `a1 = p2 − p0`, `a2 = 2p0 − 5p1 + 4p2 − p3`, `a3 = 3(p1 − p2) + p3 − p0`,
/// expanded per sample (in `Double`, rounded to `Float`). The interpolant is torch's; the float rounding of
/// the weighted sum differs from torch's evaluation order by an ulp or so.
func catmullRomWeights(_ x: Float) -> SIMD4<Float> {
    let t = Double(x)
    return SIMD4(Float(0.5 * t * (-1 + t * (2 - t))), Float(1 + 0.5 * t * t * (3 * t - 5)),
                 Float(0.5 * t * (1 + t * (4 - 3 * t))), Float(0.5 * t * t * (t - 1)))
}

/// `((w0·p0 + w1·p1) + w2·p2) + w3·p3`.
@inline(__always)
func catmullRom(_ p0: Float, _ p1: Float, _ p2: Float, _ p3: Float, _ w: SIMD4<Float>) -> Float {
    ((w[0] * p0 + w[1] * p1) + w[2] * p2) + w[3] * p3
}
