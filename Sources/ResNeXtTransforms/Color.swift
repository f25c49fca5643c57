import ResNeXtCore

/// One colour-jitter operation (torch `Brightness`, `Contrast`, `Saturation`).
public enum ColorJitterOperation: Int, Sendable, CaseIterable {
    /// Blend with an all-zero image: `img · α`.
    case brightness = 0
    /// Blend with a constant image equal to the mean of the greyscale image.
    case contrast = 1
    /// Blend with the greyscale image.
    case saturation = 2
}

extension Transforms {
    /// Greyscale `0.299 R + 0.587 G + 0.114 B` of a 3-channel image, as one `height × width` plane.
    public static func grayscale(_ image: Image) -> [Float] {
        precondition(image.channels == 3, "grayscale: needs 3 channels, got \(image.channels)")
        let plane = image.height * image.width
        var gray = [Float](repeating: 0, count: plane)
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<plane {
                let r: Float = 0.299 * p[i], g: Float = 0.587 * p[plane + i], b: Float = 0.114 * p[2 * plane + i]
                gray[i] = (r + g) + b
            }
        }
        return gray
    }

    /// Applies `steps` in order, each blending `img · α + (1 − α) · other` (no clamping). The contrast step's
    /// mean grey level is ``grayMean(_:_:_:count:)``.
    public static func colorJitter(_ image: Image, steps: [(operation: ColorJitterOperation, alpha: Double)]) -> Image {
        precondition(image.channels == 3, "colorJitter: needs 3 channels, got \(image.channels)")
        var img = image
        let plane = image.height * image.width
        img.pixels.withUnsafeMutableBufferPointer { p in
            applyColorJitter(steps, p.baseAddress!, p.baseAddress! + plane, p.baseAddress! + 2 * plane, count: plane)
        }
        return img
    }

    /// The colour-jitter steps in place on three planes of `count` values (R, G, B), one pass per step
    /// (two for contrast: the mean, then the blend).
    static func applyColorJitter(
        _ steps: [(operation: ColorJitterOperation, alpha: Double)], _ r: UnsafeMutablePointer<Float>,
        _ g: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, count: Int
    ) {
        for (operation, alpha) in steps {
            let a = Float(alpha), rest = Float(1 - alpha)
            switch operation {
            case .brightness:  // blend with black
                for p in [r, g, b] { for i in 0..<count { p[i] = p[i] * a } }
            case .contrast:  // blend with the mean grey level
                let mean = grayMean(r, g, b, count: count)
                for p in [r, g, b] { for i in 0..<count { p[i] = p[i] * a + rest * mean } }
            case .saturation:  // blend with the greyscale image
                for i in 0..<count {
                    let gray = ((0.299 as Float) * r[i] + (0.587 as Float) * g[i]) + (0.114 as Float) * b[i]
                    r[i] = r[i] * a + rest * gray
                    g[i] = g[i] * a + rest * gray
                    b[i] = b[i] * a + rest * gray
                }
            }
        }
    }

    /// The mean of the greyscale `(0.299 R + 0.587 G) + 0.114 B` (in `Float`, as ``grayscale(_:)``), summed in
    /// `Double` over 8 interleaved partial sums (element `i` goes to sum `i mod 8`, in order; then
    /// `((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`), rounded to `Float`. Torch sums sequentially in
    /// double; the two agree to ~1e-16 before the final rounding.
    static func grayMean(_ r: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var sums = [Double](repeating: 0, count: 8)
        for i in 0..<count { sums[i % 8] += Double(((0.299 as Float) * r[i] + (0.587 as Float) * g[i]) + (0.114 as Float) * b[i]) }
        let total = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]))
        return Float(total / Double(count))
    }

    /// Deterministic colour jitter: `order` lists operation indices (0 brightness, 1 contrast, 2 saturation) in
    /// the order applied; `alphas[k]` is the α of operation `k`.
    public static func colorJitter(_ image: Image, alphas: [Double], order: [Int]) -> Image {
        precondition(alphas.count == 3 && order.allSatisfy { (0..<3).contains($0) }, "colorJitter: bad alphas/order")
        return colorJitter(image, steps: order.map { (ColorJitterOperation(rawValue: $0)!, alphas[$0]) })
    }

    /// Draws the steps of `ColorJitter(brightness, contrast, saturation)`; operations with a zero variance are
    /// left out (as the original).
    ///
    /// RNG draws, in this order: a random order of the `n` kept operations by Fisher–Yates — starting from the
    /// kept list in brightness, contrast, saturation order, for `i` from `n − 1` down to 1:
    /// `j = rng.integer(in: 0...i)`, swap positions `i` and `j` — then, for each operation in the drawn order,
    /// `α = 1 + rng.uniform(−v, v)` with its variance `v`. (The three blends are linear and commute, since the
    /// grey weights sum to 1, so the order only changes float rounding.)
    public static func colorJitterSteps(
        brightness: Double, contrast: Double, saturation: Double,
        rng: inout RandomGenerator
    ) -> [(operation: ColorJitterOperation, alpha: Double)] {
        var kept = [(ColorJitterOperation, Double)]()
        for (op, v) in [(ColorJitterOperation.brightness, brightness), (.contrast, contrast), (.saturation, saturation)]
        where v != 0 { kept.append((op, v)) }
        var i = kept.count - 1
        while i > 0 {
            kept.swapAt(i, rng.integer(in: 0...i))
            i -= 1
        }
        return kept.map { op, v in (op, 1 + rng.uniform(-v, v)) }
    }

    /// torch `ColorJitter`: brightness, contrast and saturation blends in a random order per image (step 2 of
    /// ``imagenetTrain(_:rng:)``).
    ///
    /// RNG draws: those of ``colorJitterSteps(brightness:contrast:saturation:rng:)``.
    public static func colorJitter(
        _ image: Image, brightness: Double, contrast: Double, saturation: Double,
        rng: inout RandomGenerator
    ) -> Image {
        colorJitter(
            image,
            steps: colorJitterSteps(
                brightness: brightness, contrast: contrast,
                saturation: saturation, rng: &rng))
    }

    /// Deterministic AlexNet PCA lighting: adds `Σ_j eigvec[i][j] · alphas[j] · eigval[j]` to channel `i`.
    public static func lighting(_ image: Image, alphas: [Double]) -> Image {
        precondition(image.channels == 3 && alphas.count == 3, "lighting: needs 3 channels and 3 alphas")
        var out = image
        let plane = image.height * image.width
        let shifts = lightingShifts(alphas)
        out.pixels.withUnsafeMutableBufferPointer { p in
            for c in 0..<3 {
                for i in c * plane..<(c + 1) * plane { p[i] += shifts[c] }
            }
        }
        return out
    }

    /// The per-channel shift of ``lighting(_:alphas:)``: `Σ_j (eigvec[c][j] · α_j) · eigval[j]`, in `Float`.
    static func lightingShifts(_ alphas: [Double]) -> [Float] {
        (0..<3).map { c in
            var shift: Float = 0
            for j in 0..<3 { shift += lightingEigenvectors[c][j] * Float(alphas[j]) * lightingEigenvalues[j] }
            return shift
        }
    }

    /// AlexNet PCA lighting noise (step 3 of ``imagenetTrain(_:rng:)``), on the [0, 1] scale before normalisation.
    ///
    /// RNG draws: `alphas[j] = rng.normal(mean: 0, std: alphaStd)` for j = 0, 1, 2 in order; none (and the image
    /// is returned unchanged) when `alphaStd == 0`.
    public static func lighting(_ image: Image, alphaStd: Double, rng: inout RandomGenerator) -> Image {
        if alphaStd == 0 { return image }
        let alphas = (0..<3).map { _ in rng.normal(mean: 0, std: alphaStd) }
        return lighting(image, alphas: alphas)
    }
}
