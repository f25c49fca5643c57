import ResNeXtCore

/// The evaluation transform computed from decoded bytes: only the centre window of the resize is computed.
extension Transforms {
    /// ``evalResizeCrop(_:resize:crop:mean:std:)`` of `image.planar()`, bit for bit: Scale(`resize`) →
    /// normalise → CenterCrop(`crop`), resampling only the `crop × crop` window the centre crop keeps
    /// (the width pass only for its columns, the height pass only for its rows, computed on demand).
    public static func evalResizeCrop(_ image: PackedImage, resize: Int, crop: Int,
                                      mean: [Float] = imagenetMean, std: [Float] = imagenetStd) -> Image {
        let (width, height) = shorterSideSize(width: image.width, height: image.height, to: resize)
        precondition(crop <= width && crop <= height, "evalResizeCrop: \(crop) larger than \(width)x\(height)")
        let columns = (width - crop + 1) / 2 ..< (width - crop + 1) / 2 + crop   // centerCrop's window
        let rows = (height - crop + 1) / 2 ..< (height - crop + 1) / 2 + crop
        let planW = CubicPlan(sourceLength: image.width, targetLength: width)
        let planH = CubicPlan(sourceLength: image.height, targetLength: height)
        let window = resample(image, origin: (0, 0), planW: planW, planH: planH, columns: columns, rows: rows) { _ in }
        let plane = crop * crop
        var out = Image(channels: 3, height: crop, width: crop, pixels: [Float](unsafeUninitializedCapacity: 3 * plane) { $1 = 3 * plane })
        out.pixels.withUnsafeMutableBufferPointer { dst in
            for c in 0..<3 {
                let m = mean[c], s = std[c], base = dst.baseAddress! + c * plane
                for i in 0..<plane { base[i] = (window[i][c] - m) / s }
            }
        }
        return out
    }

    /// ``imagenetEval(_:)`` of `image.planar()`, bit for bit: Scale(256) → normalise → CenterCrop(224).
    public static func imagenetEval(_ image: PackedImage) -> Image {
        evalResizeCrop(image, resize: 256, crop: 224)
    }

    /// The size ``scaleShorterSide(_:to:)`` gives a `width × height` image (unchanged when its shorter side
    /// already is `size`).
    static func shorterSideSize(width w: Int, height h: Int, to size: Int) -> (width: Int, height: Int) {
        if (w <= h && w == size) || (h <= w && h == size) { return (w, h) }
        if w < h { return (size, Int(Double(h) / Double(w) * Double(size))) }
        return (Int(Double(w) / Double(h) * Double(size)), size)
    }
}
