import ResNeXtCore
import ResNeXtTransforms
import XCTest

/// The byte-based ImageNet training transform against the planar reference: same draws, same bits.
final class PackedImageTests: XCTestCase {
    private func randomPacked(width: Int, height: Int, seed: UInt64) -> PackedImage {
        var rng = RandomGenerator(seed: seed)
        return PackedImage(width: width, height: height, bytes: (0..<3 * width * height).map { _ in UInt8(rng.integer(in: 0...255)) })
    }

    private func assertBitIdentical(_ a: Image, _ b: Image, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual([a.channels, a.height, a.width], [b.channels, b.height, b.width], message, file: file, line: line)
        XCTAssertTrue(
            a.pixels.map(\.bitPattern) == b.pixels.map(\.bitPattern),
            "\(message): max difference \(zip(a.pixels, b.pixels).map { abs($0 - $1) }.max() ?? 0)", file: file, line: line)
    }

    func testPlanarIsBytesOver255InCHWOrder() {
        let packed = PackedImage(width: 2, height: 1, bytes: [0, 51, 255, 1, 2, 3])
        let image = packed.planar()
        XCTAssertEqual([image.channels, image.height, image.width], [3, 1, 2])
        XCTAssertEqual(image.pixels, [0, 1, 51, 2, 255, 3].map { Float($0) / 255 })
        XCTAssertEqual(image[1, 0, 0], 0.2)
    }

    func testImagenetTrainFromBytesEqualsThePlanarReference() {
        let sizes = [(500, 375), (375, 500), (224, 224), (640, 480), (97, 61), (3, 2)]
        for (index, (w, h)) in sizes.enumerated() {
            let packed = randomPacked(width: w, height: h, seed: UInt64(index))
            let planar = packed.planar()
            for seed in UInt64(0)..<6 {
                var a = RandomGenerator(seed: seed), b = RandomGenerator(seed: seed)
                let fast = Transforms.imagenetTrain(packed, rng: &a)
                let reference = Transforms.imagenetTrain(planar, rng: &b)
                XCTAssertEqual(a, b, "\(w)x\(h) seed \(seed): the generators end in different states")
                assertBitIdentical(fast, reference, "\(w)x\(h) seed \(seed)")
            }
        }
    }

    /// Every RandomSizedCrop attempt fails on a 1000×10 strip (h ≥ 24 is needed): the Scale + CenterCrop fallback.
    func testFallbackWhenNoCropFits() {
        let packed = randomPacked(width: 1000, height: 10, seed: 5)
        var probe = RandomGenerator(seed: 3)
        XCTAssertNil(Transforms.randomSizedCropBox(width: 1000, height: 10, rng: &probe))
        var a = RandomGenerator(seed: 3), b = RandomGenerator(seed: 3)
        assertBitIdentical(Transforms.imagenetTrain(packed, rng: &a), Transforms.imagenetTrain(packed.planar(), rng: &b), "fallback")
        XCTAssertEqual(a, b)
    }

    /// Crop windows whose sides equal the output, or are 1, 2 or 3 pixels (the resampler's edge rules).
    func testEdgeCaseWindowsMatchResizeBicubic() {
        let packed = randomPacked(width: 300, height: 260, seed: 8)
        let planar = packed.planar()
        let boxes = [
            CropBox(x: 10, y: 20, width: 224, height: 224), CropBox(x: 0, y: 0, width: 224, height: 100),
            CropBox(x: 5, y: 7, width: 100, height: 224), CropBox(x: 299, y: 259, width: 1, height: 1),
            CropBox(x: 3, y: 4, width: 1, height: 50), CropBox(x: 3, y: 4, width: 2, height: 3),
            CropBox(x: 0, y: 0, width: 300, height: 260), CropBox(x: 76, y: 0, width: 3, height: 260)
        ]
        for box in boxes {
            let reference = Transforms.randomSizedCrop(planar, box: box, size: 224)
            let pixels = Transforms.resizedCropForTesting(packed, box: box, size: 224)
            let planes = (0..<3).flatMap { c in pixels.map { $0[c] } }
            assertBitIdentical(Image(channels: 3, height: 224, width: 224, pixels: planes), reference, "box \(box)")
        }
    }

    /// Scale(256) → normalise → CenterCrop(224) from bytes: only the window is computed, the same bits.
    func testEvalFromBytesEqualsThePlanarReference() {
        let sizes = [(500, 375), (375, 500), (256, 300), (300, 256), (240, 230), (1000, 257), (257, 257), (224, 224)]
        for (index, (w, h)) in sizes.enumerated() {
            let packed = randomPacked(width: w, height: h, seed: UInt64(100 + index))
            assertBitIdentical(Transforms.imagenetEval(packed), Transforms.imagenetEval(packed.planar()), "\(w)x\(h)")
            assertBitIdentical(
                Transforms.evalResizeCrop(packed, resize: 320, crop: 288),
                Transforms.evalResizeCrop(packed.planar(), resize: 320, crop: 288), "\(w)x\(h) at 320/288")
        }
    }
}
