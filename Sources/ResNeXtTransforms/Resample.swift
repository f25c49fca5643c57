extension Transforms {
    /// Output rows `rows` × columns `columns` of the `planH` × `planW` bicubic resampling of interleaved pixels
    /// (up to four channels, one per lane), row-major. `loadRow(y, xs, into)` writes source row `y`'s pixels
    /// `xs` to `into[xs]`; only the columns the window reads are asked for. The height pass runs along whole
    /// rows; its input rows (width-pass results) are made when first needed into a ring of four, each once,
    /// so the working set stays in cache. `written` sees each output row as it is finished, in order.
    static func resample(
        planW: CubicPlan, planH: CubicPlan, columns: Range<Int>, rows: Range<Int>,
        loadRow: (Int, Range<Int>, UnsafeMutablePointer<SIMD4<Float>>) -> Void,
        written: (UnsafePointer<SIMD4<Float>>) -> Void = { _ in }
    ) -> [SIMD4<Float>] {
        let width = columns.count
        var out = [SIMD4<Float>](unsafeUninitializedCapacity: rows.count * width) { $1 = rows.count * width }  // all written
        var ring = [SIMD4<Float>](repeating: .zero, count: 4 * width)
        var held = [-1, -1, -1, -1]
        let span = planW.sourceSpan(of: columns)
        var source = [SIMD4<Float>](repeating: .zero, count: planW.sourceLength)
        ring.withUnsafeMutableBufferPointer { ringBuffer in
            source.withUnsafeMutableBufferPointer { sourceBuffer in
                out.withUnsafeMutableBufferPointer { outBuffer in
                    let dst = UnsafeMutableRawPointer(outBuffer.baseAddress!).assumingMemoryBound(to: Float.self)
                    planH.applyRows(
                        dst, width: 4 * width, outputs: rows,
                        row: { y in
                            let slot = ringBuffer.baseAddress! + (y % 4) * width
                            if held[y % 4] != y {
                                loadRow(y, span, sourceBuffer.baseAddress!)
                                planW.resamplePixels(sourceBuffer.baseAddress!, slot, outputs: columns)
                                held[y % 4] = y
                            }
                            return UnsafeRawPointer(slot).assumingMemoryBound(to: Float.self)
                        },
                        written: { d in
                            written(UnsafePointer(outBuffer.baseAddress! + (d - rows.lowerBound) * width))
                        })
                }
            }
        }
        return out
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

    /// Resamples rows of `width` values: output row `d < m − 1` is `catmullRom` of source rows
    /// `index[d] − 1 … index[d] + 2` element by element (a missing first row extrapolated as `2·r1 − r2`, a
    /// missing last one as `2·r2 − r1`; interior rows run a branch-free, vectorized loop); the last output row
    /// is a copy of the last source row; equal lengths copy, a single source row is replicated. Source row `r`
    /// is at `row(r)`; only the output rows `outputs` are made (all by default; output `d` goes to row
    /// `d − outputs.lowerBound` of `dst`). Rows are asked for in
    /// nondecreasing order of their lowest index in use, at most four at a time, so a caller may compute them
    /// on demand into a ring of four rows (row `r` in slot `r mod 4`). `written(d)` follows each output row
    /// `d`, in order.
    func applyRows(
        _ dst: UnsafeMutablePointer<Float>, width: Int, outputs: Range<Int>? = nil, row: (Int) -> UnsafePointer<Float>,
        written: (Int) -> Void = { _ in }
    ) {
        let n = sourceLength, m = targetLength
        let range = outputs ?? 0..<m
        for d in range {
            let out = dst + (d - range.lowerBound) * width
            if n == m || n == 1 || d == m - 1 {  // a copy: equal lengths, a single source row, or the last output
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
func cubicRows(
    _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>,
    _ out: UnsafeMutablePointer<Float>, _ count: Int, _ w: SIMD4<Float>
) {
    let (w0, w1, w2, w3) = (w[0], w[1], w[2], w[3])
    for j in 0..<count { out[j] = ((w0 * r0[j] + w1 * r1[j]) + w2 * r2[j]) + w3 * r3[j] }
}

/// The weights of `p0…p3` in torch/image's `cubicInterpolate` (Catmull-Rom, a = −0.5) at `x`:
/// `p1 + x/2 · (a1 + x·(a2 + x·a3))` with `a1 = p2 − p0`, `a2 = 2p0 − 5p1 + 4p2 − p3`, `a3 = 3(p1 − p2) + p3 − p0`,
/// expanded per sample (in `Double`, rounded to `Float`). The interpolant is torch's; the float rounding of
/// the weighted sum differs from torch's evaluation order by an ulp or so.
func catmullRomWeights(_ x: Float) -> SIMD4<Float> {
    let t = Double(x)
    return SIMD4(
        Float(0.5 * t * (-1 + t * (2 - t))), Float(1 + 0.5 * t * t * (3 * t - 5)),
        Float(0.5 * t * (1 + t * (4 - 3 * t))), Float(0.5 * t * t * (t - 1)))
}

/// `((w0·p0 + w1·p1) + w2·p2) + w3·p3`.
@inline(__always)
func catmullRom(_ p0: Float, _ p1: Float, _ p2: Float, _ p3: Float, _ w: SIMD4<Float>) -> Float {
    ((w[0] * p0 + w[1] * p1) + w[2] * p2) + w[3] * p3
}

extension CubicPlan {
    /// The source positions that outputs `outputs` read.
    func sourceSpan(of outputs: Range<Int>) -> Range<Int> {
        let n = sourceLength, m = targetLength
        guard !outputs.isEmpty else { return 0..<0 }
        if n == m { return outputs }
        if n == 1 { return 0..<1 }
        let first = outputs.lowerBound == m - 1 ? n - 1 : max(0, index[outputs.lowerBound] - 1)
        let last = outputs.upperBound == m ? n - 1 : min(n - 1, index[outputs.upperBound - 1] + 2)
        return first..<last + 1
    }

    /// The axis resampled on `sourceLength` interleaved pixels into `targetLength` (the rules of
    /// ``applyRows(_:width:outputs:row:written:)``, one pixel per element), for the outputs `outputs` only
    /// (all by default; output `d` goes to `dst[d − outputs.lowerBound]`).
    func resamplePixels(_ src: UnsafePointer<SIMD4<Float>>, _ dst: UnsafeMutablePointer<SIMD4<Float>>, outputs: Range<Int>? = nil) {
        let n = sourceLength, m = targetLength
        let range = outputs ?? 0..<m
        let out = dst - range.lowerBound
        if n == m || n == 1 {
            for d in range { out[d] = src[n == 1 ? 0 : d] }
            return
        }
        index.withUnsafeBufferPointer { index in
            weights.withUnsafeBufferPointer { weights in
                @inline(__always) func output(_ d: Int, _ p0: SIMD4<Float>, _ p1: SIMD4<Float>, _ p2: SIMD4<Float>, _ p3: SIMD4<Float>) {
                    let w = weights[d]
                    out[d] = ((w[0] * p0 + w[1] * p1) + w[2] * p2) + w[3] * p3
                }
                // `index` never decreases: the outputs whose four taps all exist form one run.
                let interior = interiorOutputs.clamped(to: range)
                for d in interior {
                    let i = index[d]
                    output(d, src[i - 1], src[i], src[i + 1], src[i + 2])
                }
                let edges =
                    (range.lowerBound..<max(range.lowerBound, interior.lowerBound)).map { $0 }
                    + (max(interior.upperBound, range.lowerBound)..<min(range.upperBound, m - 1)).map { $0 }
                for d in edges {
                    let i = index[d]
                    let p1 = src[i], p2 = src[i + 1]
                    output(d, i > 0 ? src[i - 1] : 2 * p1 - p2, p1, p2, i + 2 < n ? src[i + 2] : 2 * p2 - p1)
                }
            }
        }
        if range.contains(m - 1) { out[m - 1] = src[n - 1] }
    }
}
