import ResNeXtCore

extension Transforms {
    /// Mirrors the image with probability `probability` (torch `HorizontalFlip`).
    ///
    /// RNG draws: exactly one `rng.uniform()`; the image is flipped iff it is `< probability`.
    public static func randomHorizontalFlip(
        _ image: Image, probability: Double = 0.5,
        rng: inout RandomGenerator
    ) -> Image {
        rng.uniform() < probability ? horizontalFlip(image) : image
    }

    /// Zero-pads by `padding`, then takes a random `width × height` window (torch `RandomCrop(size, padding)`).
    ///
    /// RNG draws, in this order: `x = rng.integer(in: 0...(W + 2·padding − width))`, then
    /// `y = rng.integer(in: 0...(H + 2·padding − height))`; none at all when the padded image already has the
    /// crop size (it is returned as is, like the original).
    public static func randomCrop(
        _ image: Image, width: Int, height: Int, padding: Int = 0,
        rng: inout RandomGenerator
    ) -> Image {
        let padded = zeroPad(image, by: padding)
        precondition(
            width <= padded.width && height <= padded.height,
            "randomCrop: \(width)x\(height) larger than padded \(padded.width)x\(padded.height)")
        if padded.width == width && padded.height == height { return padded }
        let x = rng.integer(in: 0...(padded.width - width))
        let y = rng.integer(in: 0...(padded.height - height))
        return crop(padded, x: x, y: y, width: width, height: height)
    }

    /// Square ``randomCrop(_:width:height:padding:rng:)``: offsets uniform in `{0…2·padding}` (for a `size`-sized
    /// input) on each axis; draws x first, then y.
    public static func randomCrop(_ image: Image, size: Int, padding: Int = 0, rng: inout RandomGenerator) -> Image {
        randomCrop(image, width: size, height: size, padding: padding, rng: &rng)
    }
}
