import ResNeXtCore
import ResNeXtTransforms
import XCTest

/// Deterministic variants of the random transforms against scripts/make_transform_fixtures.py (numpy).
final class FixtureTests: XCTestCase {
    private struct ColorFixture: Decodable {
        struct Jitter: Decodable {
            let alphas: [Double]
            let order: [Int]
            let expected: [Float]
        }
        struct Lighting: Decodable {
            let alphas: [Double]
            let expected: [Float]
        }
        let input: FixtureImage
        let grayscale: [Float]
        let colorJitter: [Jitter]
        let lighting: [Lighting]
    }

    func testColorJitterAndLighting() throws {
        let f = try loadFixture("color.json", as: ColorFixture.self)
        let img = f.input.image
        assertClose(Transforms.grayscale(img), f.grayscale, tolerance: 1e-6)
        XCTAssertEqual(f.colorJitter.count, 5)
        for j in f.colorJitter {
            assertClose(
                Transforms.colorJitter(img, alphas: j.alphas, order: j.order).pixels, j.expected,
                "order \(j.order)")
        }
        // The three blends are linear and commute (the grey weights sum to 1, so grey(grey(x)) = grey(x)):
        // the random order only changes float rounding.
        let a = Transforms.colorJitter(img, alphas: [1.3, 0.7, 1.25], order: [0, 1, 2])
        let b = Transforms.colorJitter(img, alphas: [1.3, 0.7, 1.25], order: [2, 1, 0])
        XCTAssertLessThan(maxAbsDifference(a.pixels, b.pixels), 1e-5)
        XCTAssertGreaterThan(maxAbsDifference(a.pixels, img.pixels), 0.05)
        for l in f.lighting {
            assertClose(Transforms.lighting(img, alphas: l.alphas).pixels, l.expected)
        }
    }

    private struct CropsFixture: Decodable {
        struct Sized: Decodable {
            let x, y, width, height, size: Int
            let expected: [Float]
        }
        struct Scale: Decodable {
            let size, height, width: Int
            let expected: [Float]
        }
        let input: FixtureImage
        let randomSizedCrop: [Sized]
        let scale: [Scale]
    }

    func testRandomSizedCropWithExplicitBoxAndScale() throws {
        let f = try loadFixture("crops.json", as: CropsFixture.self)
        let img = f.input.image
        for s in f.randomSizedCrop {
            let box = CropBox(x: s.x, y: s.y, width: s.width, height: s.height)
            let out = Transforms.randomSizedCrop(img, box: box, size: s.size)
            assertShape(out, 3, s.size, s.size)
            assertClose(out.pixels, s.expected, "box \(box)")
        }
        for s in f.scale {
            let out = Transforms.scaleShorterSide(img, to: s.size)
            assertShape(out, 3, s.height, s.width)
            assertClose(out.pixels, s.expected, "Scale(\(s.size))")
        }
    }

    private struct CifarFixture: Decodable {
        struct Case: Decodable {
            let flip: Bool
            let x, y: Int
            let expected: [Float]
        }
        let input: FixtureImage
        let cases: [Case]
    }

    func testCifarNormalizeFlipPadCrop() throws {
        let f = try loadFixture("cifar.json", as: CifarFixture.self)
        let normalized = Transforms.normalize(f.input.image, mean: Transforms.cifar10Mean, std: Transforms.cifar10Std)
        for c in f.cases {
            let flipped = c.flip ? Transforms.horizontalFlip(normalized) : normalized
            let out = Transforms.crop(Transforms.zeroPad(flipped, by: 4), x: c.x, y: c.y, width: 8, height: 8)
            assertClose(out.pixels, c.expected, "flip \(c.flip) at (\(c.x), \(c.y))")
        }
    }
}
