import ResNeXtCore

/// The ImageNet training transform computed from decoded bytes, for the loader's hot path.
///
/// Pixels stay interleaved as `SIMD4<Float>` (R, G, B, unused) from the crop to the last step, so each
/// step handles the three channels of a pixel together: the width pass reads the crop's bytes row by row,
/// the height pass runs along whole rows, one pass takes the channel means, and the last pass applies the
/// colour map (``ColorAffine``) and writes the normalised (and possibly mirrored) CHW result. Every value is computed with the same operations, in
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
                    while x + 4 <= size {   // four pixels → one 4-wide store per channel plane
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
        let out = resample(image, origin: (box.x, box.y), planW: planW, planH: planH, columns: 0..<size, rows: 0..<size) { row in
            means.add(row: size) { row[$0] }
        }
        return (out, means.means)
    }

    /// Output rows `rows` × columns `columns` of the `planH` × `planW` bicubic resampling of the pixels
    /// `image[origin.y + y][origin.x + x]`, interleaved, row-major. The height pass runs along whole rows;
    /// its input rows (width-pass results) are made when first needed into a ring of four, each once, from
    /// only the source columns the window reads, so the working set stays in cache. `written` sees each
    /// output row as it is finished, in order.
    static func resample(_ image: PackedImage, origin: (x: Int, y: Int), planW: CubicPlan, planH: CubicPlan, columns: Range<Int>,
                         rows: Range<Int>, written: (UnsafePointer<SIMD4<Float>>) -> Void) -> [SIMD4<Float>] {
        let width = columns.count
        var out = [SIMD4<Float>](unsafeUninitializedCapacity: rows.count * width) { $1 = rows.count * width }   // all written
        var ring = [SIMD4<Float>](repeating: .zero, count: 4 * width)
        var held = [-1, -1, -1, -1]
        let span = planW.sourceSpan(of: columns)
        var source = [SIMD4<Float>](repeating: .zero, count: planW.sourceLength)
        ring.withUnsafeMutableBufferPointer { ringBuffer in
            out.withUnsafeMutableBufferPointer { outBuffer in
                let dst = UnsafeMutableRawPointer(outBuffer.baseAddress!).assumingMemoryBound(to: Float.self)
                planH.applyRows(dst, width: 4 * width, outputs: rows, row: { y in
                    let slot = ringBuffer.baseAddress! + (y % 4) * width
                    if held[y % 4] != y {
                        loadRow(image, x: origin.x + span.lowerBound, y: origin.y + y, count: span.count, into: &source, at: span.lowerBound)
                        source.withUnsafeBufferPointer { planW.resamplePixels($0.baseAddress!, slot, outputs: columns) }
                        held[y % 4] = y
                    }
                    return UnsafeRawPointer(slot).assumingMemoryBound(to: Float.self)
                }, written: { d in
                    written(UnsafePointer(outBuffer.baseAddress! + (d - rows.lowerBound) * width))
                })
            }
        }
        return out
    }

    /// `byte / 255` in lane `c` (zeros elsewhere) at `[c · 256 + byte]`: a pixel is the sum of three entries
    /// (adding zeros is exact).
    private static let laneScale: [SIMD4<Float>] = (0..<3).flatMap { c in
        PackedImage.unitScale.map { v in SIMD4((0..<4).map { $0 == c ? v : 0 }) }
    }

    /// `count` pixels of image row `y` from column `x`, as `byte / 255`, into `out[start...]`.
    @inline(__always)
    static func loadRow(_ image: PackedImage, x: Int, y: Int, count: Int, into out: inout [SIMD4<Float>], at start: Int) {
        laneScale.withUnsafeBufferPointer { table in
            image.bytes.withUnsafeBufferPointer { bytes in
                out.withUnsafeMutableBufferPointer { o in
                    let row = bytes.baseAddress! + (y * image.width + x) * 3
                    for i in 0..<count {
                        let q = row + 3 * i
                        o[start + i] = (table[Int(q[0])] + table[256 + Int(q[1])]) + table[512 + Int(q[2])]
                    }
                }
            }
        }
    }
}

extension CubicPlan {
    /// The source positions that outputs `outputs` read.
    func sourceSpan(of outputs: Range<Int>) -> Range<Int> {
        let n = sourceLength, m = targetLength
        guard !outputs.isEmpty else { return 0..<0 }
        if n == m { return outputs }
        if n == 1 { return 0..<1 }
        let first = outputs.lowerBound == m - 1 ? n - 1 : max(0, index[outputs.lowerBound] - 1)
        let last = outputs.upperBound == m ? n - 1 : min(n - 1, index[outputs.upperBound - 1] + 2)
        return first..<last + 1
    }

    /// The axis resampled on `sourceLength` interleaved pixels into `targetLength` (the rules of
    /// ``applyRows(_:width:outputs:row:written:)``, one pixel per element), for the outputs `outputs` only
    /// (all by default; output `d` goes to `dst[d − outputs.lowerBound]`).
    func resamplePixels(_ src: UnsafePointer<SIMD4<Float>>, _ dst: UnsafeMutablePointer<SIMD4<Float>>, outputs: Range<Int>? = nil) {
        let n = sourceLength, m = targetLength
        let range = outputs ?? 0..<m
        let out = dst - range.lowerBound
        if n == m || n == 1 {
            for d in range { out[d] = src[n == 1 ? 0 : d] }
            return
        }
        index.withUnsafeBufferPointer { index in
            weights.withUnsafeBufferPointer { weights in
                @inline(__always) func output(_ d: Int, _ p0: SIMD4<Float>, _ p1: SIMD4<Float>, _ p2: SIMD4<Float>, _ p3: SIMD4<Float>) {
                    let w = weights[d]
                    out[d] = ((w[0] * p0 + w[1] * p1) + w[2] * p2) + w[3] * p3
                }
                // `index` never decreases: the outputs whose four taps all exist form one run.
                let interior = interiorOutputs.clamped(to: range)
                for d in interior {
                    let i = index[d]
                    output(d, src[i - 1], src[i], src[i + 1], src[i + 2])
                }
                let edges = (range.lowerBound..<max(range.lowerBound, interior.lowerBound)).map { $0 }
                    + (max(interior.upperBound, range.lowerBound)..<min(range.upperBound, m - 1)).map { $0 }
                for d in edges {
                    let i = index[d]
                    let p1 = src[i], p2 = src[i + 1]
                    output(d, i > 0 ? src[i - 1] : 2 * p1 - p2, p1, p2, i + 2 < n ? src[i + 2] : 2 * p2 - p1)
                }
            }
        }
        if range.contains(m - 1) { out[m - 1] = src[n - 1] }
    }
}

extension Transforms {
    /// The crop-and-resize step of ``imagenetTrain(_:rng:)-(PackedImage,_)`` alone (interleaved pixels), for tests.
    public static func resizedCropForTesting(_ image: PackedImage, box: CropBox, size: Int) -> [SIMD4<Float>] {
        resizedCrop(image, box: box, size: size).pixels
    }
}
