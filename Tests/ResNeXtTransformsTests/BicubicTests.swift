import ResNeXtCore
import ResNeXtTransforms
import XCTest

final class BicubicTests: XCTestCase {
    /// Width 4 → 7: s = d · 3/6. Catmull-Rom at t = ½ is (−p0 + 9 p1 + 9 p2 − p3) / 16.
    /// d = 1: p0 = 2·1 − 2 = 0 (extrapolated) → (0 + 9 + 18 − 4)/16 = 1.4375;
    /// d = 3: (−1 + 18 + 36 − 8)/16 = 2.8125;
    /// d = 5: p3 = 2·8 − 4 = 12 (extrapolated) → (−2 + 36 + 72 − 12)/16 = 5.875;
    /// d = 6 copies the last input. (Clamped neighbours would give 1.375 and 6.125.)
    func testUpsampleRowByHand() {
        let out = Transforms.resizeBicubic(row([1, 2, 4, 8]), width: 7, height: 1)
        XCTAssertEqual(out.pixels, [1, 1.4375, 2, 2.8125, 4, 5.875, 8])
    }

    /// Width 3 → 4: s = d · 2/3.
    /// d = 1 (t = 2/3, p0 = −1 extrapolated): weights (−1, 9, 21, −2)/27 on (−1, 0, 1, 5) → 12/27;
    /// d = 2 (t = 1/3, p3 = 2·5 − 1 = 9): weights (−2, 21, 9, −1)/27 on (0, 1, 5, 9) → 57/27.
    func testUpsampleThirdsByHand() {
        let out = Transforms.resizeBicubic(row([0, 1, 5]), width: 4, height: 1).pixels
        assertClose(out, [0, 12.0 / 27, 57.0 / 27, 5], tolerance: 1e-6)
    }

    /// Shrinking samples the source without anti-aliasing: 5 → 3 samples s = 0, 2 and copies the last;
    /// 4 → 3 interpolates s = 1.5 between interior neighbours.
    func testDownsampleRowByHand() {
        XCTAssertEqual(Transforms.resizeBicubic(row([1, 3, 2, 7, 4]), width: 3, height: 1).pixels, [1, 2, 4])
        XCTAssertEqual(Transforms.resizeBicubic(row([1, 2, 4, 8]), width: 3, height: 1).pixels, [1, 2.8125, 8])
    }

    func testColumnsMatchRows() {
        let column = Image(channels: 1, height: 4, width: 1, pixels: [1, 2, 4, 8])
        XCTAssertEqual(Transforms.resizeBicubic(column, width: 1, height: 7).pixels, [1, 1.4375, 2, 2.8125, 4, 5.875, 8])
    }

    func testDegenerateSizes() {
        // A length-1 output is the last input sample (torch); a length-1 input is replicated.
        XCTAssertEqual(Transforms.resizeBicubic(row([1, 2, 4, 8]), width: 1, height: 1).pixels, [8])
        XCTAssertEqual(Transforms.resizeBicubic(row([3]), width: 3, height: 1).pixels, [3, 3, 3])
        XCTAssertEqual(Transforms.resizeBicubic(row([3]), width: 2, height: 2).pixels, [3, 3, 3, 3])
    }

    func testIdentityWhenSizesAreEqual() {
        let img = randomImage(channels: 3, height: 5, width: 7, seed: 1)
        XCTAssertEqual(Transforms.resizeBicubic(img, width: 7, height: 5), img)
    }

    func testLinearRampIsReproducedExactly() {
        // Catmull-Rom with linear extrapolation at the borders reproduces linear functions everywhere.
        let ramp = Image(channels: 1, height: 3, width: 6, pixels: (0..<18).map { Float($0 % 6) * 2 + Float($0 / 6) })
        let out = Transforms.resizeBicubic(ramp, width: 11, height: 5)
        var expected = [Float]()
        for y in 0..<5 { for x in 0..<11 { expected.append(Float(x) * 5 / 10 * 2 + Float(y) * 2 / 4) } }
        assertClose(out.pixels, expected, tolerance: 1e-5)
    }

    private struct BicubicFixture: Decodable {
        struct Case: Decodable {
            let input: FixtureImage
            let width: Int
            let height: Int
            let expected: [Float]
        }
        let cases: [Case]
    }

    func testMatchesNumpyReference() throws {
        let fixture = try loadFixture("bicubic.json", as: BicubicFixture.self)
        XCTAssertEqual(fixture.cases.count, 6)
        for c in fixture.cases {
            let out = Transforms.resizeBicubic(c.input.image, width: c.width, height: c.height)
            assertShape(out, c.input.channels, c.height, c.width)
            assertClose(
                out.pixels, c.expected, tolerance: 1e-5,
                "\(c.input.width)x\(c.input.height) → \(c.width)x\(c.height)")
        }
    }

    private struct PILFixture: Decodable {
        let up: FixtureImage
        let upWidth: Int
        let upHeight: Int
        let pilAlignedUp: [Float]
        let pilPlainUp: [Float]
        let down: FixtureImage
        let downWidth: Int
        let downHeight: Int
        let pilDown: [Float]
    }

    /// Pillow's float bicubic (also Catmull-Rom, a = −0.5) on a smooth 10×8 image upsampled to 21×17.
    /// Measured here: with a `box` making Pillow sample the same align-corners positions, outputs whose four taps
    /// lie inside the image agree to 1.2e-7, and the whole image to 1.23e-2 (border outputs differ: Pillow drops
    /// out-of-image taps and renormalises, torch extrapolates linearly); plain Pillow (half-pixel centres)
    /// differs by up to 4.2e-2.
    func testUpsamplingAgreesWithPillow() throws {
        let f = try loadFixture("pil_bicubic.json", as: PILFixture.self)
        let out = Transforms.resizeBicubic(f.up.image, width: f.upWidth, height: f.upHeight).pixels
        func interior(_ src: Int, _ dst: Int) -> [Bool] {
            (0..<dst).map { d in
                let i = Int(Double(d) * Double(src - 1) / Double(dst - 1))
                return i >= 1 && i + 2 <= src - 1
            }
        }
        let ix = interior(f.up.width, f.upWidth), iy = interior(f.up.height, f.upHeight)
        var interiorDiff: Float = 0, count = 0
        for y in 0..<f.upHeight where iy[y] {
            for x in 0..<f.upWidth where ix[x] {
                interiorDiff = max(interiorDiff, abs(out[y * f.upWidth + x] - f.pilAlignedUp[y * f.upWidth + x]))
                count += 1
            }
        }
        XCTAssertGreaterThan(count, 150)
        XCTAssertLessThan(interiorDiff, 1e-6)
        XCTAssertLessThan(maxAbsDifference(out, f.pilAlignedUp), 0.015)
        XCTAssertLessThan(maxAbsDifference(out, f.pilPlainUp), 0.05)
    }

    /// Shrinking 16×18 → 6×7: Pillow anti-aliases (its filter support widens with the scale), torch does not, so
    /// they differ by much more: measured max 0.126, mean 0.042 (values span about 0.2…0.9). Recorded, only
    /// loosely bounded.
    func testDownsamplingDiffersFromPillowAntiAliasing() throws {
        let f = try loadFixture("pil_bicubic.json", as: PILFixture.self)
        let out = Transforms.resizeBicubic(f.down.image, width: f.downWidth, height: f.downHeight).pixels
        let diff = maxAbsDifference(out, f.pilDown)
        XCTAssertGreaterThan(diff, 0.01)
        XCTAssertLessThan(diff, 0.3)
    }
}
