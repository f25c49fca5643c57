extension Transforms {
    /// Per-channel `(x − mean[c]) / std[c]` (torch `ColorNormalize`); `mean` and `std` have one entry per channel.
    public static func normalize(_ image: Image, mean: [Float], std: [Float]) -> Image {
        precondition(
            mean.count == image.channels && std.count == image.channels,
            "normalize: \(mean.count) means / \(std.count) stds for \(image.channels) channels")
        var out = image
        let plane = image.height * image.width
        out.pixels.withUnsafeMutableBufferPointer { p in
            for c in 0..<image.channels {
                let m = mean[c], s = std[c]
                for i in c * plane..<(c + 1) * plane { p[i] = (p[i] - m) / s }
            }
        }
        return out
    }

    /// Mirrors the image left–right (torch `image.hflip`).
    public static func horizontalFlip(_ image: Image) -> Image {
        var out = image
        let w = image.width
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for row in 0..<image.channels * image.height {
                    let base = row * w
                    for x in 0..<w { dst[base + x] = src[base + w - 1 - x] }
                }
            }
        }
        return out
    }

    /// Surrounds the image with `padding` zero pixels on every side.
    public static func zeroPad(_ image: Image, by padding: Int) -> Image {
        precondition(padding >= 0, "zeroPad: negative padding \(padding)")
        if padding == 0 { return image }
        let h = image.height + 2 * padding, w = image.width + 2 * padding
        var out = Image(channels: image.channels, height: h, width: w)
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for c in 0..<image.channels {
                    for y in 0..<image.height {
                        let s = (c * image.height + y) * image.width
                        let d = (c * h + y + padding) * w + padding
                        for x in 0..<image.width { dst[d + x] = src[s + x] }
                    }
                }
            }
        }
        return out
    }

    /// The `width × height` window whose top-left pixel is `(x, y)` (0-based; end exclusive, as torch `image.crop`).
    public static func crop(_ image: Image, x: Int, y: Int, width: Int, height: Int) -> Image {
        precondition(
            x >= 0 && y >= 0 && width >= 0 && height >= 0
                && x + width <= image.width && y + height <= image.height,
            "crop: window \(width)x\(height) at (\(x), \(y)) outside \(image.width)x\(image.height)")
        var out = Image(channels: image.channels, height: height, width: width)
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for c in 0..<image.channels {
                    for row in 0..<height {
                        let s = (c * image.height + y + row) * image.width + x
                        let d = (c * height + row) * width
                        for i in 0..<width { dst[d + i] = src[s + i] }
                    }
                }
            }
        }
        return out
    }

    /// The central `size × size` window, top-left at `(ceil((W − size)/2), ceil((H − size)/2))` (torch `CenterCrop`).
    public static func centerCrop(_ image: Image, size: Int) -> Image {
        precondition(
            size <= image.width && size <= image.height,
            "centerCrop: \(size) larger than \(image.width)x\(image.height)")
        return crop(image, x: (image.width - size + 1) / 2, y: (image.height - size + 1) / 2, width: size, height: size)
    }

    /// Ten `size × size` crops (torch `TenCrop`): for the image and then its horizontal mirror, in this order:
    /// centre (as ``centerCrop(_:size:)``), top-left, top-right, bottom-left, bottom-right.
    public static func tenCrop(_ image: Image, size: Int) -> [Image] {
        precondition(
            size <= image.width && size <= image.height,
            "tenCrop: \(size) larger than \(image.width)x\(image.height)")
        let w = image.width, h = image.height
        var crops = [Image]()
        crops.reserveCapacity(10)
        for img in [image, horizontalFlip(image)] {
            crops.append(centerCrop(img, size: size))
            crops.append(crop(img, x: 0, y: 0, width: size, height: size))
            crops.append(crop(img, x: w - size, y: 0, width: size, height: size))
            crops.append(crop(img, x: 0, y: h - size, width: size, height: size))
            crops.append(crop(img, x: w - size, y: h - size, width: size, height: size))
        }
        return crops
    }
}
