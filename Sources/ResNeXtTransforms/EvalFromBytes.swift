import ResNeXtCore

/// The evaluation transform computed from decoded bytes: only the centre window of the resize is computed.
extension Transforms {
    /// ``evalResizeCrop(_:resize:crop:mean:std:)`` of `image.planar()`, bit for bit: Scale(`resize`) →
    /// normalise → CenterCrop(`crop`), resampling only the `crop × crop` window the centre crop keeps
    /// (the width pass only for its columns, the height pass only for its rows, computed on demand).
    public static func evalResizeCrop(
        _ image: PackedImage, resize: Int, crop: Int,
        mean: [Float] = imagenetMean, std: [Float] = imagenetStd
    ) -> Image {
        let count = 3 * crop * crop
        let pixels = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            evalResizeCrop(
                image, resize: resize, crop: crop, mean: mean, std: std, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = count
        }
        return Image(channels: 3, height: crop, width: crop, pixels: pixels)
    }

    /// ``evalResizeCrop(_:resize:crop:mean:std:)-(PackedImage,_,_,_,_)`` written into `dst` (3 × crop × crop
    /// values, CHW).
    public static func evalResizeCrop(
        _ image: PackedImage, resize: Int, crop: Int, mean: [Float] = imagenetMean,
        std: [Float] = imagenetStd, into dst: UnsafeMutableBufferPointer<Float>
    ) {
        precondition(dst.count == 3 * crop * crop, "evalResizeCrop: \(dst.count) values for 3x\(crop)x\(crop)")
        let (width, height) = shorterSideSize(width: image.width, height: image.height, to: resize)
        precondition(crop <= width && crop <= height, "evalResizeCrop: \(crop) larger than \(width)x\(height)")
        let columns = (width - crop + 1) / 2..<(width - crop + 1) / 2 + crop  // centerCrop's window
        let rows = (height - crop + 1) / 2..<(height - crop + 1) / 2 + crop
        let planW = CubicPlan(sourceLength: image.width, targetLength: width)
        let planH = CubicPlan(sourceLength: image.height, targetLength: height)
        let window = resample(planW: planW, planH: planH, columns: columns, rows: rows) { y, xs, into in
            loadRow(image, x: xs.lowerBound, y: y, count: xs.count, into: into + xs.lowerBound)
        }
        let plane = crop * crop
        for c in 0..<3 {
            let m = mean[c], s = std[c], base = dst.baseAddress! + c * plane
            for i in 0..<plane { base[i] = (window[i][c] - m) / s }
        }
    }

    /// ``imagenetEval(_:)`` of `image.planar()`, bit for bit: Scale(256) → normalise → CenterCrop(224).
    public static func imagenetEval(_ image: PackedImage) -> Image {
        evalResizeCrop(image, resize: 256, crop: 224)
    }

    /// ``imagenetEval(_:)-(PackedImage)`` written into `dst` (3 × 224 × 224 values, CHW).
    public static func imagenetEval(_ image: PackedImage, into dst: UnsafeMutableBufferPointer<Float>) {
        evalResizeCrop(image, resize: 256, crop: 224, into: dst)
    }
}
