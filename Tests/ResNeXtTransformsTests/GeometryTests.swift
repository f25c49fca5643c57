import ResNeXtCore
import ResNeXtTransforms
import XCTest

final class GeometryTests: XCTestCase {
    func testConstants() {
        XCTAssertEqual(Transforms.cifar10Mean, [125.3, 123.0, 113.9])
        XCTAssertEqual(Transforms.cifar100Std, [68.2, 65.4, 70.4])
        XCTAssertEqual(Transforms.imagenetStd, [0.229, 0.224, 0.225])
        XCTAssertEqual(Transforms.lightingEigenvectors[1], [-0.5808, -0.0045, -0.8140])
        // MNIST's usual 0.1307 / 0.3081 are rounded; the 0–255 constants come from 0.13066 / 0.30811.
        XCTAssertEqual(Transforms.mnistMean[0], 0.1306605 * 255, accuracy: 1e-3)
        XCTAssertEqual(Transforms.mnistStd[0], 0.3081078 * 255, accuracy: 1e-3)
    }

    func testNormalizePerChannel() {
        let img = Image(channels: 2, height: 1, width: 2, pixels: [10, 20, 30, 50])
        XCTAssertEqual(Transforms.normalize(img, mean: [10, 20], std: [2, 5]).pixels, [0, 5, 2, 6])
        // MNIST: the mean maps to 0, white (255) to (255 − 33.318) / 78.567.
        let digit = Image(channels: 1, height: 1, width: 2, pixels: [33.318, 255])
        let n = Transforms.mnistEval(digit).pixels
        XCTAssertEqual(n[0], 0, accuracy: 1e-6)
        XCTAssertEqual(n[1], 2.8215663, accuracy: 1e-5)
        let pixel = Image(channels: 3, height: 1, width: 1, pixels: [125.3, 123.0 + 62.1, 113.9 - 2 * 66.7])
        let cifar = Transforms.cifarEval(pixel, mean: Transforms.cifar10Mean, std: Transforms.cifar10Std).pixels
        assertClose(cifar, [0, 1, -2])
    }

    func testHorizontalFlip() {
        let img = arangeImage(channels: 2, height: 2, width: 3)
        XCTAssertEqual(Transforms.horizontalFlip(img).pixels, [2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9])
    }

    func testZeroPad() {
        let padded = Transforms.zeroPad(row([1, 2]), by: 1)
        assertShape(padded, 1, 3, 4)
        XCTAssertEqual(padded.pixels, [0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0])
        XCTAssertEqual(Transforms.zeroPad(row([1, 2]), by: 0), row([1, 2]))
    }

    func testCropIsZeroBasedTopLeft() {
        let img = arangeImage(channels: 2, height: 4, width: 5)
        let c = Transforms.crop(img, x: 1, y: 2, width: 3, height: 2)
        assertShape(c, 2, 2, 3)
        XCTAssertEqual(c.pixels, [11, 12, 13, 16, 17, 18, 31, 32, 33, 36, 37, 38])
    }

    func testCenterCropOffsetsRoundUp() {
        // 257 → 224: offset ceil(33 / 2) = 17 on both axes.
        let big = arangeImage(channels: 1, height: 257, width: 257)
        let c = Transforms.centerCrop(big, size: 224)
        assertShape(c, 1, 224, 224)
        XCTAssertEqual(c[0, 0, 0], Float(17 * 257 + 17))
        XCTAssertEqual(c[0, 223, 223], Float(240 * 257 + 240))
        // 256 → 224: offset 16. 6 × 5 → 3: x = ceil(3/2) = 2, y = ceil(2/2) = 1.
        XCTAssertEqual(
            Transforms.centerCrop(arangeImage(channels: 1, height: 256, width: 256), size: 224)[0, 0, 0],
            Float(16 * 256 + 16))
        XCTAssertEqual(
            Transforms.centerCrop(arangeImage(channels: 1, height: 5, width: 6), size: 3).pixels,
            [8, 9, 10, 14, 15, 16, 20, 21, 22])
    }

    func testTenCropOrderAndPositions() {
        let crops = Transforms.tenCrop(arangeImage(channels: 1, height: 4, width: 5), size: 2)
        XCTAssertEqual(
            crops.map(\.pixels),
            [
                [7, 8, 12, 13],  // centre (x = ceil(3/2) = 2, y = ceil(2/2) = 1)
                [0, 1, 5, 6],  // top-left
                [3, 4, 8, 9],  // top-right
                [10, 11, 15, 16],  // bottom-left
                [13, 14, 18, 19],  // bottom-right
                [7, 6, 12, 11],  // mirrored: centre
                [4, 3, 9, 8],  // mirrored: top-left
                [1, 0, 6, 5],  // mirrored: top-right
                [14, 13, 19, 18],  // mirrored: bottom-left
                [11, 10, 16, 15]  // mirrored: bottom-right
            ])
    }

    func testScaleShorterSideSizes() {
        let landscape = Transforms.scaleShorterSide(Image(channels: 1, height: 375, width: 500), to: 256)
        assertShape(landscape, 1, 256, 341)  // 500 / 375 · 256 = 341.33 → 341
        let portrait = Transforms.scaleShorterSide(Image(channels: 1, height: 500, width: 375), to: 256)
        assertShape(portrait, 1, 341, 256)
        assertShape(Transforms.scaleShorterSide(Image(channels: 1, height: 300, width: 300), to: 256), 1, 256, 256)
        // Already 256 on the shorter side: untouched (even though the longer side is not rescaled).
        let already = arangeImage(channels: 1, height: 256, width: 300)
        XCTAssertEqual(Transforms.scaleShorterSide(already, to: 256), already)
    }

    func testEvalPipelinesShapesAndComposition() {
        let img = randomImage(channels: 3, height: 300, width: 257, seed: 5)  // shorter side 257 → 256 × 298
        let scaled = Transforms.scaleShorterSide(img, to: 256)
        assertShape(scaled, 3, 298, 256)
        let normalized = Transforms.normalize(scaled, mean: Transforms.imagenetMean, std: Transforms.imagenetStd)
        let eval = Transforms.imagenetEval(img)
        assertShape(eval, 3, 224, 224)
        XCTAssertEqual(eval, Transforms.crop(normalized, x: 16, y: 37, width: 224, height: 224))
        let ten = Transforms.imagenetTenCrop(img)
        XCTAssertEqual(ten.count, 10)
        XCTAssertEqual(ten[0], eval)
        XCTAssertEqual(ten[6], Transforms.crop(Transforms.horizontalFlip(normalized), x: 0, y: 0, width: 224, height: 224))
        let small = Transforms.evalResizeCrop(img, resize: 40, crop: 32, mean: [0, 0, 0], std: [1, 1, 1])
        XCTAssertEqual(small, Transforms.centerCrop(Transforms.scaleShorterSide(img, to: 40), size: 32))
    }
}
