import ResNeXtCore

extension Transforms {
    /// CIFAR training transform (SPEC §3.2), in this order: normalise (0–255 scale stats) → horizontal flip with
    /// p 0.5 → zero-pad 4 → random 32×32 crop.
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
        randomCrop(normalize(image, mean: mnistMean, std: mnistStd),
                   width: image.width, height: image.height, padding: 2, rng: &rng)
    }

    /// MNIST evaluation transform: normalise only.
    public static func mnistEval(_ image: Image) -> Image {
        normalize(image, mean: mnistMean, std: mnistStd)
    }

    /// ImageNet training transform (SPEC §3.3), in this order: RandomSizedCrop(224) → ColorJitter(0.4, 0.4, 0.4)
    /// → Lighting(0.1) → normalise (ImageNet stats, [0, 1] scale) → horizontal flip with p 0.5.
    ///
    /// RNG draws, in this order: ``randomSizedCropBox(width:height:rng:)``,
    /// ``colorJitterSteps(brightness:contrast:saturation:rng:)`` (2 integers then 3 uniforms),
    /// 3 normals for ``lighting(_:alphaStd:rng:)``, one uniform for the flip.
    public static func imagenetTrain(_ image: Image, rng: inout RandomGenerator) -> Image {
        var img = randomSizedCrop(image, size: 224, rng: &rng)
        finishImageNetTrain(&img, rng: &rng)
        return img
    }

    /// Everything of the ImageNet training transform after the crop, in place: colour jitter, then lighting,
    /// normalisation and the flip in one pass (the same arithmetic as ``lighting(_:alphas:)`` followed by
    /// ``normalize(_:mean:std:)`` and ``horizontalFlip(_:)``).
    static func finishImageNetTrain(_ img: inout Image, rng: inout RandomGenerator) {
        let steps = colorJitterSteps(brightness: 0.4, contrast: 0.4, saturation: 0.4, rng: &rng)
        let shifts = lightingShifts((0..<3).map { _ in rng.normal(mean: 0, std: 0.1) })
        let flip = rng.uniform() < 0.5
        let plane = img.height * img.width, w = img.width
        img.pixels.withUnsafeMutableBufferPointer { p in
            let r = p.baseAddress!
            applyColorJitter(steps, r, r + plane, r + 2 * plane, count: plane)
            for c in 0..<3 {
                let base = r + c * plane, shift = shifts[c], m = imagenetMean[c], s = imagenetStd[c]
                if !flip {
                    for i in 0..<plane { base[i] = ((base[i] + shift) - m) / s }
                    continue
                }
                for y in 0..<img.height {
                    let row = base + y * w
                    for x in 0..<(w + 1) / 2 {
                        let left = row[x], right = row[w - 1 - x]
                        row[x] = ((right + shift) - m) / s
                        row[w - 1 - x] = ((left + shift) - m) / s
                    }
                }
            }
        }
    }

    /// Evaluation resize-and-crop for any sizes: Scale(`resize`) → normalise → CenterCrop(`crop`). No RNG.
    public static func evalResizeCrop(_ image: Image, resize: Int, crop: Int,
                                      mean: [Float] = imagenetMean, std: [Float] = imagenetStd) -> Image {
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
