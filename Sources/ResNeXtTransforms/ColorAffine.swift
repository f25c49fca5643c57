import ResNeXtCore

/// ColorJitter, Lighting and normalisation of the ImageNet training transform folded into one affine map
/// of each pixel, `out = A·(r, g, b) + offset`.
///
/// Every step is affine in the pixel: brightness `α·v`, contrast `α·v + (1 − α)·μ` with `μ` the mean grey
/// level of the image at that point, saturation `α·v + (1 − α)·gray(v)`, lighting `v + shift`, normalisation
/// `(v − mean) / std`. So the composition is affine too, and `μ` follows from the per-channel means of the
/// image before the steps (`gray` is linear). The map is composed in `Double` and applied in `Float`; the
/// result equals the step-by-step evaluation (``Transforms/colorJitter(_:steps:)`` then
/// ``Transforms/lighting(_:alphas:)`` then ``Transforms/normalize(_:mean:std:)``) up to float rounding
/// (tested to 1e-5), in one pass instead of six.
struct ColorAffine {
    /// Column `k` of `A` (lane `c` = output channel `c`; lane 3 unused).
    let columns: (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>)
    let offset: SIMD4<Float>

    static let grayWeights: [Double] = [0.299, 0.587, 0.114]

    /// - Parameter channelMeans: the per-channel means of the image the steps start from.
    init(
        steps: [(operation: ColorJitterOperation, alpha: Double)], shifts: [Float], channelMeans: [Double],
        mean: [Float], std: [Float]
    ) {
        var m: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        var c: [Double] = [0, 0, 0]
        let w = Self.grayWeights
        func gray(_ v: [Double]) -> Double { (w[0] * v[0] + w[1] * v[1]) + w[2] * v[2] }
        for (operation, alpha) in steps {
            let rest = 1 - alpha
            switch operation {
            case .brightness:
                m = m.map { $0.map { alpha * $0 } }
                c = c.map { alpha * $0 }
            case .contrast:
                let current = (0..<3).map { k in (0..<3).reduce(c[k]) { $0 + m[k][$1] * channelMeans[$1] } }
                let mu = gray(current)
                m = m.map { $0.map { alpha * $0 } }
                c = c.map { alpha * $0 + rest * mu }
            case .saturation:
                let grayRow = (0..<3).map { j in gray([m[0][j], m[1][j], m[2][j]]) }
                let grayOffset = gray(c)
                m = m.map { row in (0..<3).map { j in alpha * row[j] + rest * grayRow[j] } }
                c = c.map { alpha * $0 + rest * grayOffset }
            }
        }
        var a = [[Float]](repeating: [0, 0, 0], count: 3), b: [Float] = [0, 0, 0]
        for k in 0..<3 {
            let s = Double(std[k])
            for j in 0..<3 { a[k][j] = Float(m[k][j] / s) }
            let shifted: Double = c[k] + Double(shifts[k]) - Double(mean[k])
            b[k] = Float(shifted / s)
        }
        func column(_ j: Int) -> SIMD4<Float> { SIMD4(a[0][j], a[1][j], a[2][j], 0) }
        columns = (column(0), column(1), column(2))
        offset = SIMD4(b[0], b[1], b[2], 0)
    }

    /// The map applied to one pixel: lane `c` is `((A[c][0]·r + A[c][1]·g) + A[c][2]·b) + offset[c]`.
    @inline(__always)
    func callAsFunction(_ r: Float, _ g: Float, _ b: Float) -> SIMD4<Float> {
        ((columns.0 * r + columns.1 * g) + columns.2 * b) + offset
    }

    /// Per-channel means of `rows × width` pixels given by `pixel(y, x)`: each row summed in `Float` (four
    /// interleaved sums), the row sums added in `Double` (``MeanAccumulator``).
    @inline(__always)
    static func channelMeans(rows: Int, width: Int, _ pixel: (Int, Int) -> SIMD4<Float>) -> [Double] {
        var accumulator = MeanAccumulator()
        for y in 0..<rows { accumulator.add(row: width) { pixel(y, $0) } }
        return accumulator.means
    }

    /// Channel means built row by row, so that they can be taken while the rows are produced.
    struct MeanAccumulator {
        private var total = SIMD4<Double>.zero
        private var count = 0

        /// Adds a row: pixel `x` goes to partial sum `x mod 4` (in `Float`, in order), then
        /// `(s0 + s1) + (s2 + s3)` is added in `Double`.
        @inline(__always)
        mutating func add(row width: Int, _ pixel: (Int) -> SIMD4<Float>) {
            var s0 = SIMD4<Float>.zero, s1 = SIMD4<Float>.zero, s2 = SIMD4<Float>.zero, s3 = SIMD4<Float>.zero
            var x = 0
            while x + 4 <= width {
                s0 += pixel(x); s1 += pixel(x + 1); s2 += pixel(x + 2); s3 += pixel(x + 3)
                x += 4
            }
            if x < width { s0 += pixel(x) }
            if x + 1 < width { s1 += pixel(x + 1) }
            if x + 2 < width { s2 += pixel(x + 2) }
            let sum = (s0 + s1) + (s2 + s3)
            total += SIMD4<Double>(Double(sum[0]), Double(sum[1]), Double(sum[2]), 0)
            count += width
        }

        var means: [Double] { [total[0] / Double(count), total[1] / Double(count), total[2] / Double(count)] }
    }
}
