import ResNeXtCore

/// The ImageNet training transform computed from decoded bytes, for the loader's hot path.
///
/// Pixels stay interleaved as `SIMD4<Float>` (R, G, B, unused) from the crop to the last step, so each
/// step handles the three channels of a pixel together: the width pass reads the crop's bytes row by row,
/// the height pass runs along whole rows, one pass takes the channel means, and the last pass applies the
/// colour map (``ColorAffine``) and writes the normalised (and possibly mirrored) CHW result. Every value is computed with the same
/// operations, in
/// the same order, as the planar reference (``Transforms/imagenetTrain(_:rng:)``), so the results are
/// identical bit for bit (tested).
extension Transforms {
    /// ``imagenetTrain(_:rng:)`` of `image.planar()`: the same draws and the same values.
    public static func imagenetTrain(_ image: PackedImage, rng: inout RandomGenerator) -> Image {
        let count = 3 * 224 * 224
        let pixels = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            imagenetTrain(image, rng: &rng, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = count
        }
        return Image(channels: 3, height: 224, width: 224, pixels: pixels)
    }

    /// ``imagenetTrain(_:rng:)-(PackedImage,_)`` written into `dst` (3 × 224 × 224 values, CHW), e.g. straight
    /// into a batch.
    public static func imagenetTrain(_ image: PackedImage, rng: inout RandomGenerator, into dst: UnsafeMutableBufferPointer<Float>) {
        let size = 224
        precondition(dst.count == 3 * size * size, "imagenetTrain: \(dst.count) values for 3x\(size)x\(size)")
        guard let box = randomSizedCropBox(width: image.width, height: image.height, rng: &rng) else {
            var img = randomSizedCrop(image.planar(), box: nil, size: size)
            finishImageNetTrain(&img, rng: &rng)
            _ = dst.update(fromContentsOf: img.pixels)
            return
        }
        let (steps, shifts, flip) = drawImageNetTrainColor(rng: &rng)
        let (pixels, means) = resizedCrop(image, box: box, size: size)
        let plane = size * size
        pixels.withUnsafeBufferPointer { src in
            let color = ColorAffine(steps: steps, shifts: shifts, channelMeans: means, mean: imagenetMean, std: imagenetStd)
            @inline(__always) func final(_ i: Int) -> SIMD4<Float> { let v = src[i]; return color(v[0], v[1], v[2]) }
            do {
                let r = UnsafeMutableRawPointer(dst.baseAddress!), g = r + 4 * plane, b = r + 8 * plane
                for y in 0..<size {
                    var x = 0
                    while x + 4 <= size {  // four pixels → one 4-wide store per channel plane
                        let p0 = final(y * size + x), p1 = final(y * size + x + 1)
                        let p2 = final(y * size + x + 2), p3 = final(y * size + x + 3)
                        let o = 4 * (y * size + (flip ? size - 4 - x : x))
                        let (q0, q1, q2, q3) = flip ? (p3, p2, p1, p0) : (p0, p1, p2, p3)
                        r.storeBytes(of: SIMD4(q0[0], q1[0], q2[0], q3[0]), toByteOffset: o, as: SIMD4<Float>.self)
                        g.storeBytes(of: SIMD4(q0[1], q1[1], q2[1], q3[1]), toByteOffset: o, as: SIMD4<Float>.self)
                        b.storeBytes(of: SIMD4(q0[2], q1[2], q2[2], q3[2]), toByteOffset: o, as: SIMD4<Float>.self)
                        x += 4
                    }
                    while x < size {
                        let v = final(y * size + x)
                        let o = 4 * (y * size + (flip ? size - 1 - x : x))
                        r.storeBytes(of: v[0], toByteOffset: o, as: Float.self)
                        g.storeBytes(of: v[1], toByteOffset: o, as: Float.self)
                        b.storeBytes(of: v[2], toByteOffset: o, as: Float.self)
                        x += 1
                    }
                }
            }
        }
    }

    /// The crop `box` of `image` resized bicubically to `size × size` (``resizeBicubic(_:width:height:)``'s
    /// arithmetic), as interleaved pixels, row-major.
    /// Also returns the channel means of the result (``ColorAffine/channelMeans(rows:width:_:)``), taken as
    /// its rows are written.
    static func resizedCrop(_ image: PackedImage, box: CropBox, size: Int) -> (pixels: [SIMD4<Float>], means: [Double]) {
        let planW = CubicPlan(sourceLength: box.width, targetLength: size)
        let planH = CubicPlan(sourceLength: box.height, targetLength: size)
        var means = ColorAffine.MeanAccumulator()
        let out = resample(
            planW: planW, planH: planH, columns: 0..<size, rows: 0..<size,
            loadRow: { y, xs, into in
                loadRow(image, x: box.x + xs.lowerBound, y: box.y + y, count: xs.count, into: into + xs.lowerBound)
            },
            written: { row in
                means.add(row: size) { row[$0] }
            })
        return (out, means.means)
    }

    /// `byte / 255` in lane `c` (zeros elsewhere) at `[c · 256 + byte]`: a pixel is the sum of three entries
    /// (adding zeros is exact).
    private static let laneScale: [SIMD4<Float>] = (0..<3).flatMap { c in
        PackedImage.unitScale.map { v in SIMD4((0..<4).map { $0 == c ? v : 0 }) }
    }

    /// `count` pixels of image row `y` from column `x`, as `byte / 255`, into `out[0..<count]`.
    @inline(__always)
    static func loadRow(_ image: PackedImage, x: Int, y: Int, count: Int, into out: UnsafeMutablePointer<SIMD4<Float>>) {
        laneScale.withUnsafeBufferPointer { table in
            image.bytes.withUnsafeBufferPointer { bytes in
                let row = bytes.baseAddress! + (y * image.width + x) * 3
                for i in 0..<count {
                    let q = row + 3 * i
                    out[i] = (table[Int(q[0])] + table[256 + Int(q[1])]) + table[512 + Int(q[2])]
                }
            }
        }
    }
}

extension Transforms {
    /// The crop-and-resize step of ``imagenetTrain(_:rng:)-(PackedImage,_)`` alone (interleaved pixels), for tests.
    public static func resizedCropForTesting(_ image: PackedImage, box: CropBox, size: Int) -> [SIMD4<Float>] {
        resizedCrop(image, box: box, size: size).pixels
    }
}
