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

    /// Applies `steps` in order, each blending `img · α + (1 − α) · other` (no clamping).
    public static func colorJitter(_ image: Image, steps: [(operation: ColorJitterOperation, alpha: Double)]) -> Image {
        precondition(image.channels == 3, "colorJitter: needs 3 channels, got \(image.channels)")
        var img = image
        let plane = image.height * image.width
        for (operation, alpha) in steps {
            let a = Float(alpha), b = Float(1 - alpha)
            let gray = operation == .brightness ? [] : grayscale(img)
            var mean: Float = 0
            if operation == .contrast {
                var sum = 0.0
                for v in gray { sum += Double(v) }
                mean = Float(sum / Double(plane))
            }
            img.pixels.withUnsafeMutableBufferPointer { p in
                switch operation {
                case .brightness:   // blend with black
                    for i in 0..<3 * plane { p[i] = p[i] * a }
                case .contrast:     // blend with the mean grey level
                    for i in 0..<3 * plane { p[i] = p[i] * a + b * mean }
                case .saturation:   // blend with the greyscale image
                    gray.withUnsafeBufferPointer { g in
                        for c in 0..<3 {
                            let q = p.baseAddress! + c * plane
                            for i in 0..<plane { q[i] = q[i] * a + b * g[i] }
                        }
                    }
                }
            }
        }
        return img
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
    public static func colorJitterSteps(brightness: Double, contrast: Double, saturation: Double,
                                        rng: inout RandomGenerator) -> [(operation: ColorJitterOperation, alpha: Double)] {
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

    /// torch `ColorJitter`: brightness, contrast and saturation blends in a random order per image (SPEC §3.3 step 2).
    ///
    /// RNG draws: those of ``colorJitterSteps(brightness:contrast:saturation:rng:)``.
    public static func colorJitter(_ image: Image, brightness: Double, contrast: Double, saturation: Double,
                                   rng: inout RandomGenerator) -> Image {
        colorJitter(image, steps: colorJitterSteps(brightness: brightness, contrast: contrast,
                                                   saturation: saturation, rng: &rng))
    }

    /// Deterministic AlexNet PCA lighting: adds `Σ_j eigvec[i][j] · alphas[j] · eigval[j]` to channel `i`.
    public static func lighting(_ image: Image, alphas: [Double]) -> Image {
        precondition(image.channels == 3 && alphas.count == 3, "lighting: needs 3 channels and 3 alphas")
        var out = image
        let plane = image.height * image.width
        out.pixels.withUnsafeMutableBufferPointer { p in
            for c in 0..<3 {
                var shift: Float = 0
                for j in 0..<3 { shift += lightingEigenvectors[c][j] * Float(alphas[j]) * lightingEigenvalues[j] }
                for i in c * plane..<(c + 1) * plane { p[i] += shift }
            }
        }
        return out
    }

    /// AlexNet PCA lighting noise (SPEC §3.3 step 3), on the [0, 1] scale before normalisation.
    ///
    /// RNG draws: `alphas[j] = rng.normal(mean: 0, std: alphaStd)` for j = 0, 1, 2 in order; none (and the image
    /// is returned unchanged) when `alphaStd == 0`.
    public static func lighting(_ image: Image, alphaStd: Double, rng: inout RandomGenerator) -> Image {
        if alphaStd == 0 { return image }
        let alphas = (0..<3).map { _ in rng.normal(mean: 0, std: alphaStd) }
        return lighting(image, alphas: alphas)
    }
}
