import ResNeXtCore

/// The ImageNet training transform computed from decoded bytes, for the loader's hot path.
///
/// Pixels stay interleaved as `SIMD4<Float>` (R, G, B, unused) from the crop to the last step, so each
/// step handles the three channels of a pixel together: the width pass reads the crop's bytes row by row,
/// the height pass runs along whole rows, the colour steps work per pixel, and the last pass writes the
/// normalised (and possibly mirrored) CHW result. Every value is computed with the same operations, in
/// the same order, as the planar reference (``Transforms/imagenetTrain(_:rng:)``), so the results are
/// identical bit for bit (tested).
extension Transforms {
    /// ``imagenetTrain(_:rng:)`` of `image.planar()`: the same draws and the same values.
    public static func imagenetTrain(_ image: PackedImage, rng: inout RandomGenerator) -> Image {
        let size = 224
        guard let box = randomSizedCropBox(width: image.width, height: image.height, rng: &rng) else {
            var img = randomSizedCrop(image.planar(), box: nil, size: size)
            finishImageNetTrain(&img, rng: &rng)
            return img
        }
        let steps = colorJitterSteps(brightness: 0.4, contrast: 0.4, saturation: 0.4, rng: &rng)
        let shifts = lightingShifts((0..<3).map { _ in rng.normal(mean: 0, std: 0.1) })
        let flip = rng.uniform() < 0.5

        var pixels = resizedCrop(image, box: box, size: size)
        pixels.withUnsafeMutableBufferPointer { p in
            applyColorJitter(steps, p.baseAddress!, count: size * size)
        }
        // Every element below is written before it is read: no zero-filling.
        var out = Image(channels: 3, height: size, width: size, pixels: [Float](unsafeUninitializedCapacity: 3 * size * size) { $1 = 3 * size * size })
        let plane = size * size
        let shift = SIMD4<Float>(shifts[0], shifts[1], shifts[2], 0)
        let mean = SIMD4<Float>(imagenetMean[0], imagenetMean[1], imagenetMean[2], 0)
        let std = SIMD4<Float>(imagenetStd[0], imagenetStd[1], imagenetStd[2], 1)
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                let r = dst.baseAddress!, g = r + plane, b = r + 2 * plane
                for y in 0..<size {
                    for x in 0..<size {
                        let v = ((src[y * size + x] + shift) - mean) / std
                        let o = y * size + (flip ? size - 1 - x : x)
                        r[o] = v[0]
                        g[o] = v[1]
                        b[o] = v[2]
                    }
                }
            }
        }
        return out
    }

    /// The crop `box` of `image` resized bicubically to `size × size` (``resizeBicubic(_:width:height:)``'s
    /// arithmetic), as interleaved pixels, row-major.
    static func resizedCrop(_ image: PackedImage, box: CropBox, size: Int) -> [SIMD4<Float>] {
        let planW = CubicPlan(sourceLength: box.width, targetLength: size)
        let planH = CubicPlan(sourceLength: box.height, targetLength: size)
        if box.width == size && box.height == size { // resizeBicubic returns such a crop unchanged
            var out = [SIMD4<Float>](repeating: .zero, count: size * size)
            for y in 0..<size { loadRow(image, box: box, y: y, into: &out, at: y * size) }
            return out
        }
        // Width pass: each crop row → `size` pixels.
        var rows = [SIMD4<Float>](unsafeUninitializedCapacity: box.height * size) { $1 = box.height * size }   // all written
        var source = [SIMD4<Float>](repeating: .zero, count: box.width)
        rows.withUnsafeMutableBufferPointer { rowsBuffer in
            for y in 0..<box.height {
                loadRow(image, box: box, y: y, into: &source, at: 0)
                source.withUnsafeBufferPointer { src in
                    planW.resamplePixels(src.baseAddress!, rowsBuffer.baseAddress! + y * size)
                }
            }
        }
        // Height pass along whole rows of floats.
        var out = [SIMD4<Float>](unsafeUninitializedCapacity: size * size) { $1 = size * size }   // all written
        rows.withUnsafeBufferPointer { rowsBuffer in
            out.withUnsafeMutableBufferPointer { outBuffer in
                let src = UnsafeRawPointer(rowsBuffer.baseAddress!).assumingMemoryBound(to: Float.self)
                let dst = UnsafeMutableRawPointer(outBuffer.baseAddress!).assumingMemoryBound(to: Float.self)
                planH.applyRows(src, dst, width: 4 * size)
            }
        }
        return out
    }

    /// Crop row `y` as pixels `byte / 255` into `out[start...]`.
    @inline(__always)
    private static func loadRow(_ image: PackedImage, box: CropBox, y: Int, into out: inout [SIMD4<Float>], at start: Int) {
        PackedImage.unitScale.withUnsafeBufferPointer { table in
            image.bytes.withUnsafeBufferPointer { bytes in
                out.withUnsafeMutableBufferPointer { o in
                    let row = bytes.baseAddress! + ((box.y + y) * image.width + box.x) * 3
                    for x in 0..<box.width {
                        o[start + x] = SIMD4(table[Int(row[3 * x])], table[Int(row[3 * x + 1])], table[Int(row[3 * x + 2])], 0)
                    }
                }
            }
        }
    }

    /// ``applyColorJitter(_:_:_:_:count:)`` on interleaved pixels.
    static func applyColorJitter(_ steps: [(operation: ColorJitterOperation, alpha: Double)], _ p: UnsafeMutablePointer<SIMD4<Float>>,
                                 count: Int) {
        for (operation, alpha) in steps {
            let a = Float(alpha), rest = Float(1 - alpha)
            switch operation {
            case .brightness:
                for i in 0..<count { p[i] = p[i] * a }
            case .contrast:
                let mean = grayMean(UnsafePointer(p), count: count)
                for i in 0..<count { p[i] = p[i] * a + rest * mean }
            case .saturation:
                for i in 0..<count {
                    let v = p[i]
                    let gray = ((0.299 as Float) * v[0] + (0.587 as Float) * v[1]) + (0.114 as Float) * v[2]
                    p[i] = v * a + rest * gray
                }
            }
        }
    }

    /// ``grayMean(_:_:_:count:)`` of interleaved pixels (the same sums in the same order).
    static func grayMean(_ p: UnsafePointer<SIMD4<Float>>, count: Int) -> Float {
        var sums = [Double](repeating: 0, count: 8)
        sums.withUnsafeMutableBufferPointer { s in
            for i in 0..<count {
                let v = p[i]
                s[i % 8] += Double(((0.299 as Float) * v[0] + (0.587 as Float) * v[1]) + (0.114 as Float) * v[2])
            }
        }
        let total = ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]))
        return Float(total / Double(count))
    }
}

extension CubicPlan {
    /// The axis resampled on `sourceLength` interleaved pixels into `targetLength` (the rules of
    /// ``applyRows(_:_:width:)``, one pixel per element).
    func resamplePixels(_ src: UnsafePointer<SIMD4<Float>>, _ dst: UnsafeMutablePointer<SIMD4<Float>>) {
        let n = sourceLength, m = targetLength
        if n == m || n == 1 {
            for d in 0..<m { dst[d] = src[n == 1 ? 0 : d] }
            return
        }
        for d in 0..<index.count {
            let i = index[d]
            let p1 = src[i], p2 = src[i + 1]
            let p0 = i > 0 ? src[i - 1] : 2 * p1 - p2
            let p3 = i + 2 < n ? src[i + 2] : 2 * p2 - p1
            dst[d] = catmullRom(p0, p1, p2, p3, fraction[d])
        }
        dst[m - 1] = src[n - 1]
    }
}

/// ``catmullRom(_:_:_:_:_:)`` on each lane.
@inline(__always)
func catmullRom(_ p0: SIMD4<Float>, _ p1: SIMD4<Float>, _ p2: SIMD4<Float>, _ p3: SIMD4<Float>, _ x: Float) -> SIMD4<Float> {
    let a1 = p2 - p0
    let a2 = ((2 * p0 - 5 * p1) + 4 * p2) - p3
    let a3 = (3 * (p1 - p2) + p3) - p0
    let inner = a1 + x * (a2 + x * a3)
    let half = 0.5 * Double(x)
    let low = SIMD2<Double>(Double(p1[0]), Double(p1[1])) + half * SIMD2<Double>(Double(inner[0]), Double(inner[1]))
    let high = SIMD2<Double>(Double(p1[2]), Double(p1[3])) + half * SIMD2<Double>(Double(inner[2]), Double(inner[3]))
    return SIMD4(Float(low[0]), Float(low[1]), Float(high[0]), Float(high[1]))
}

extension Transforms {
    /// The crop-and-resize step of ``imagenetTrain(_:rng:)-(PackedImage,_)`` alone (interleaved pixels), for tests.
    public static func resizedCropForTesting(_ image: PackedImage, box: CropBox, size: Int) -> [SIMD4<Float>] {
        resizedCrop(image, box: box, size: size)
    }
}
