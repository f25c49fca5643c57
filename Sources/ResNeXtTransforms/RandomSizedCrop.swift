import ResNeXtCore

/// A crop window: top-left `(x, y)` (0-based) and its size.
public struct CropBox: Sendable, Equatable, Hashable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

extension Transforms {
    /// Draws the window of Inception-style `RandomSizedCrop` for an image of `width × height`; `nil` means all 10
    /// attempts failed and the caller falls back to `Scale` + `CenterCrop`.
    ///
    /// RNG draws per attempt, in this order: `areaFraction = rng.uniform(0.08, 1.0)`,
    /// `aspect = rng.uniform(3/4, 4/3)`, `swap = rng.uniform() < 0.5`. With `area = areaFraction · W · H`,
    /// `w = round(sqrt(area · aspect))`, `h = round(sqrt(area / aspect))` (half away from zero), swapped when
    /// `swap`. If `1 ≤ w ≤ W` and `1 ≤ h ≤ H`: `y = rng.integer(in: 0...(H − h))`, then
    /// `x = rng.integer(in: 0...(W − w))` (y first, as the original) and the box is returned; otherwise the next
    /// attempt starts (at most 10; a failed call draws exactly 30 uniforms).
    public static func randomSizedCropBox(width: Int, height: Int, rng: inout RandomGenerator) -> CropBox? {
        let area = Double(width * height)
        for _ in 0..<10 {
            let target = rng.uniform(0.08, 1.0) * area
            let aspect = rng.uniform(3.0 / 4.0, 4.0 / 3.0)
            var w = Int((target * aspect).squareRoot().rounded())
            var h = Int((target / aspect).squareRoot().rounded())
            if rng.uniform() < 0.5 { swap(&w, &h) }
            if w >= 1 && h >= 1 && h <= height && w <= width {
                let y = rng.integer(in: 0...(height - h))
                let x = rng.integer(in: 0...(width - w))
                return CropBox(x: x, y: y, width: w, height: h)
            }
        }
        return nil
    }

    /// Deterministic `RandomSizedCrop`: crops `box` (or, for `nil`, applies the fallback
    /// `Scale(size)` → `CenterCrop(size)`) and bicubic-resizes the crop to `size × size`.
    public static func randomSizedCrop(_ image: Image, box: CropBox?, size: Int) -> Image {
        guard let box else { return centerCrop(scaleShorterSide(image, to: size), size: size) }
        let window = crop(image, x: box.x, y: box.y, width: box.width, height: box.height)
        return resizeBicubic(window, width: size, height: size)
    }

    /// Inception-style `RandomSizedCrop(size)` (step 1 of ``imagenetTrain(_:rng:)``): a random window covering
    /// 8 %–100 % of the area with aspect ratio in [3/4, 4/3], resized bicubically to `size × size`.
    ///
    /// RNG draws: those of ``randomSizedCropBox(width:height:rng:)`` only.
    public static func randomSizedCrop(_ image: Image, size: Int, rng: inout RandomGenerator) -> Image {
        randomSizedCrop(image, box: randomSizedCropBox(width: image.width, height: image.height, rng: &rng), size: size)
    }
}
