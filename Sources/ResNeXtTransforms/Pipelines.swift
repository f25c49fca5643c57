import ResNeXtCore

extension Transforms {
    /// CIFAR training transform (the original's `datasets/cifar10.lua`), in this order: normalise (0–255 scale
    /// stats) → horizontal flip with p 0.5 → zero-pad 4 → random 32×32 crop.
    ///
    /// RNG draws, in this order: one `rng.uniform()` (flip iff `< 0.5`), then crop `x`, then crop `y`
    /// (`rng.integer(in: 0...8)` each for a 32×32 input).
    public static func cifarTrain(_ image: Image, mean: [Float], std: [Float], rng: inout RandomGenerator) -> Image {
        let flipped = randomHorizontalFlip(normalize(image, mean: mean, std: std), probability: 0.5, rng: &rng)
        return randomCrop(flipped, size: 32, padding: 4, rng: &rng)
    }

    /// CIFAR evaluation transform: normalise only.
    public static func cifarEval(_ image: Image, mean: [Float], std: [Float]) -> Image {
        normalize(image, mean: mean, std: std)
    }

    /// MNIST training transform: normalise with ``mnistMean``/``mnistStd`` → zero-pad 2 → random crop back to
    /// the original size. No flip (digits are not mirror-symmetric).
    ///
    /// RNG draws: crop `x`, then crop `y` (`rng.integer(in: 0...4)` each).
    public static func mnistTrain(_ image: Image, rng: inout RandomGenerator) -> Image {
        randomCrop(
            normalize(image, mean: mnistMean, std: mnistStd),
            width: image.width, height: image.height, padding: 2, rng: &rng)
    }

    /// MNIST evaluation transform: normalise only.
    public static func mnistEval(_ image: Image) -> Image {
        normalize(image, mean: mnistMean, std: mnistStd)
    }

    /// ImageNet training transform (the original's `datasets/imagenet.lua`), in this order: RandomSizedCrop(224)
    /// → ColorJitter(0.4, 0.4, 0.4) → Lighting(0.1) → normalise (ImageNet stats, [0, 1] scale) → horizontal flip
    /// with p 0.5. The three colour stages run as one affine map per pixel (`ColorAffine`): the composition of
    /// ``colorJitter(_:steps:)``, ``lighting(_:alphas:)`` and ``normalize(_:mean:std:)`` up to float rounding.
    ///
    /// RNG draws, in this order: ``randomSizedCropBox(width:height:rng:)``,
    /// ``colorJitterSteps(brightness:contrast:saturation:rng:)`` (2 integers then 3 uniforms),
    /// 3 normals for ``lighting(_:alphaStd:rng:)``, one uniform for the flip.
    public static func imagenetTrain(_ image: Image, rng: inout RandomGenerator) -> Image {
        var img = randomSizedCrop(image, size: 224, rng: &rng)
        finishImageNetTrain(&img, rng: &rng)
        return img
    }

    /// Everything of the ImageNet training transform after the crop, in place: its draws, then colour jitter,
    /// lighting and normalisation as one affine map per pixel (``ColorAffine``), written mirrored when flipped.
    static func finishImageNetTrain(_ img: inout Image, rng: inout RandomGenerator) {
        let (steps, shifts, flip) = drawImageNetTrainColor(rng: &rng)
        let w = img.width, h = img.height, plane = w * h
        img.pixels.withUnsafeMutableBufferPointer { p in
            let r = p.baseAddress!, g = r + plane, b = r + 2 * plane
            let means = ColorAffine.channelMeans(rows: h, width: w) { y, x in SIMD4(r[y * w + x], g[y * w + x], b[y * w + x], 0) }
            let color = ColorAffine(steps: steps, shifts: shifts, channelMeans: means, mean: imagenetMean, std: imagenetStd)
            for y in 0..<h {
                let row = y * w
                for x in 0..<(flip ? (w + 1) / 2 : w) {
                    let i = row + x, j = flip ? row + w - 1 - x : i
                    let u = color(r[i], g[i], b[i]), v = color(r[j], g[j], b[j])
                    (r[i], g[i], b[i]) = flip ? (v[0], v[1], v[2]) : (u[0], u[1], u[2])
                    if flip { (r[j], g[j], b[j]) = (u[0], u[1], u[2]) }
                }
            }
        }
    }

    /// The draws after the crop, in order: the jitter steps, the lighting (as per-channel shifts), the flip.
    static func drawImageNetTrainColor(rng: inout RandomGenerator)
        -> (steps: [(operation: ColorJitterOperation, alpha: Double)], shifts: [Float], flip: Bool)
    {
        let steps = colorJitterSteps(brightness: 0.4, contrast: 0.4, saturation: 0.4, rng: &rng)
        let shifts = lightingShifts((0..<3).map { _ in rng.normal(mean: 0, std: 0.1) })
        return (steps, shifts, rng.uniform() < 0.5)
    }

    /// Evaluation resize-and-crop for any sizes: Scale(`resize`) → normalise → CenterCrop(`crop`). No RNG.
    public static func evalResizeCrop(
        _ image: Image, resize: Int, crop: Int,
        mean: [Float] = imagenetMean, std: [Float] = imagenetStd
    ) -> Image {
        centerCrop(normalize(scaleShorterSide(image, to: resize), mean: mean, std: std), size: crop)
    }

    /// ImageNet evaluation transform: Scale(256) → normalise → CenterCrop(224). No RNG.
    public static func imagenetEval(_ image: Image) -> Image {
        evalResizeCrop(image, resize: 256, crop: 224)
    }

    /// ImageNet ten-crop evaluation: Scale(256) → normalise → TenCrop(224) (order as ``tenCrop(_:size:)``). No RNG.
    public static func imagenetTenCrop(_ image: Image) -> [Image] {
        tenCrop(normalize(scaleShorterSide(image, to: 256), mean: imagenetMean, std: imagenetStd), size: 224)
    }
}
