import ResNeXtCore
import ResNeXtTransforms
import XCTest

/// The RNG versions: documented draw order (reproduced with a copy of the generator), parameter ranges and
/// frequencies, and reproducibility under a seed.
final class RandomTransformTests: XCTestCase {
    /// CIFAR training: one uniform for the flip, then x, then y. Offsets and flips are also decoded from the
    /// output itself (an arange image, identity normalisation): flip rate ≈ ½ within 3σ, offsets cover {0…8}.
    func testCifarTrainDrawOrderAndStatistics() {
        let img = arangeImage(channels: 3, height: 32, width: 32, offset: 1)
        var rng = RandomGenerator(seed: 42)
        let n = 1500
        var flips = 0, xs = Set<Int>(), ys = Set<Int>(), xSum = 0
        for i in 0..<n {
            var copy = rng
            let out = Transforms.cifarTrain(img, mean: [0, 0, 0], std: [1, 1, 1], rng: &rng)
            assertShape(out, 3, 32, 32)
            if i < 100 {
                let flip = copy.uniform() < 0.5
                let x = copy.integer(in: 0...8), y = copy.integer(in: 0...8)
                let expected = Transforms.crop(
                    Transforms.zeroPad(flip ? Transforms.horizontalFlip(img) : img, by: 4),
                    x: x, y: y, width: 32, height: 32)
                XCTAssertEqual(out, expected)
                XCTAssertEqual(copy, rng, "exactly three draws")
            }
            // Output (16, 16) is padded (y + 16, x + 16) = source row y + 12, column x + 12 (mirrored when flipped).
            let v = Int(out[0, 16, 16]) - 1
            let flipped = out[0, 16, 17] < out[0, 16, 16]
            let (sy, sx) = (v / 32, v % 32)
            let x = (flipped ? 31 - sx : sx) - 12
            if flipped { flips += 1 }
            xs.insert(x)
            ys.insert(sy - 12)
            xSum += x
        }
        XCTAssertEqual(xs, Set(0...8))
        XCTAssertEqual(ys, Set(0...8))
        XCTAssertLessThan(abs(Double(flips) - Double(n) / 2), 3 * (Double(n) / 4).squareRoot())
        XCTAssertEqual(Double(xSum) / Double(n), 4, accuracy: 3 * (20.0 / 3 / Double(n)).squareRoot())
    }

    func testMnistTrainDrawsXThenYAndNeverFlips() {
        let img = arangeImage(channels: 1, height: 28, width: 28, offset: 40)
        var rng = RandomGenerator(seed: 7)
        var xs = Set<Int>(), ys = Set<Int>()
        for _ in 0..<300 {
            var copy = rng
            let out = Transforms.mnistTrain(img, rng: &rng)
            let x = copy.integer(in: 0...4), y = copy.integer(in: 0...4)
            XCTAssertEqual(copy, rng)
            let expected = Transforms.crop(
                Transforms.zeroPad(Transforms.mnistEval(img), by: 2),
                x: x, y: y, width: 28, height: 28)
            XCTAssertEqual(out, expected)
            XCTAssertGreaterThan(out[0, 14, 15], out[0, 14, 14])
            xs.insert(x)
            ys.insert(y)
        }
        XCTAssertEqual(xs, Set(0...4))
        XCTAssertEqual(ys, Set(0...4))
    }

    func testRandomCropWithoutSlackDrawsNothing() {
        var rng = RandomGenerator(seed: 3)
        let before = rng
        let img = arangeImage(channels: 1, height: 4, width: 4)
        XCTAssertEqual(Transforms.randomCrop(img, size: 4, rng: &rng), img)
        XCTAssertEqual(rng, before)
    }

    func testHorizontalFlipRate() {
        var rng = RandomGenerator(seed: 11)
        let img = row([1, 2])
        let n = 10_000
        var flips = 0
        for _ in 0..<n where Transforms.randomHorizontalFlip(img, rng: &rng).pixels[0] == 2 { flips += 1 }
        XCTAssertLessThan(abs(Double(flips) - Double(n) / 2), 3 * (Double(n) / 4).squareRoot())
    }

    /// The documented per-attempt draws: area fraction, aspect, swap; then y before x when the window fits.
    func testRandomSizedCropBoxDrawOrder() {
        var rng = RandomGenerator(seed: 2024)
        var fallbacks = 0
        for _ in 0..<400 {
            var copy = rng
            let box = Transforms.randomSizedCropBox(width: 30, height: 12, rng: &rng)
            var expected: CropBox? = nil
            for _ in 0..<10 {
                let area = copy.uniform(0.08, 1.0) * 360
                let aspect = copy.uniform(0.75, 4.0 / 3.0)
                var w = Int((area * aspect).squareRoot().rounded(.toNearestOrAwayFromZero))
                var h = Int((area / aspect).squareRoot().rounded(.toNearestOrAwayFromZero))
                if copy.uniform() < 0.5 { (w, h) = (h, w) }
                if h <= 12 && w <= 30 {
                    let y = copy.integer(in: 0...(12 - h))
                    expected = CropBox(x: copy.integer(in: 0...(30 - w)), y: y, width: w, height: h)
                    break
                }
            }
            XCTAssertEqual(box, expected)
            XCTAssertEqual(copy, rng)
            if box == nil { fallbacks += 1 }
        }
        XCTAssertLessThan(fallbacks, 400)
    }

    func testRandomSizedCropBoxRanges() {
        var rng = RandomGenerator(seed: 99)
        var minRatio = 10.0, maxRatio = 0.0, minArea = 10.0, maxArea = 0.0, wider = 0
        let n = 3000
        for _ in 0..<n {
            guard let b = Transforms.randomSizedCropBox(width: 1000, height: 1000, rng: &rng) else {
                return XCTFail("a square image never falls back")
            }
            let ratio = Double(b.width) / Double(b.height), area = Double(b.width * b.height) / 1e6
            minRatio = min(minRatio, ratio); maxRatio = max(maxRatio, ratio)
            minArea = min(minArea, area); maxArea = max(maxArea, area)
            if b.width > b.height { wider += 1 }
            XCTAssert(b.x >= 0 && b.y >= 0 && b.x + b.width <= 1000 && b.y + b.height <= 1000)
        }
        // Rounding w and h (≥ 219 px) moves the ratio by well under 0.01.
        XCTAssert(minRatio >= 0.75 - 0.01 && minRatio < 0.77, "\(minRatio)")
        XCTAssert(maxRatio <= 4.0 / 3 + 0.01 && maxRatio > 1.31, "\(maxRatio)")
        XCTAssert(minArea >= 0.079 && minArea < 0.09, "\(minArea)")
        XCTAssert(maxArea <= 1 && maxArea > 0.97, "\(maxArea)")
        XCTAssertLessThan(abs(Double(wider) - Double(n) / 2), 3 * (Double(n) / 4).squareRoot())

        // Offsets are inclusive: on a small image both ends 0 and W − w (H − h) occur.
        var xEnds = Set<Bool>(), yEnds = Set<Bool>()
        for _ in 0..<2000 {
            guard let b = Transforms.randomSizedCropBox(width: 20, height: 20, rng: &rng) else { continue }
            XCTAssert(b.x + b.width <= 20 && b.y + b.height <= 20)
            if b.width < 20 && b.x == 0 { xEnds.insert(false) }
            if b.width < 20 && b.x == 20 - b.width { xEnds.insert(true) }
            if b.height < 20 && b.y == 0 { yEnds.insert(false) }
            if b.height < 20 && b.y == 20 - b.height { yEnds.insert(true) }
        }
        XCTAssertEqual(xEnds, [false, true])
        XCTAssertEqual(yEnds, [false, true])
    }

    /// A 2 × 100 image can never hold a window (its shorter side ≥ round(sqrt(16 · 0.75)) = 3): after exactly 30
    /// uniforms it falls back to Scale(8) → CenterCrop(8).
    func testRandomSizedCropFallback() {
        let img = randomImage(channels: 3, height: 2, width: 100, seed: 8)
        var rng = RandomGenerator(seed: 5)
        var copy = rng
        let out = Transforms.randomSizedCrop(img, size: 8, rng: &rng)
        for _ in 0..<30 { _ = copy.uniform() }
        XCTAssertEqual(copy, rng)
        assertShape(out, 3, 8, 8)
        XCTAssertEqual(out, Transforms.centerCrop(Transforms.scaleShorterSide(img, to: 8), size: 8))
        XCTAssertEqual(out, Transforms.randomSizedCrop(img, box: nil, size: 8))
    }

    func testColorJitterDrawOrderAndStatistics() {
        var rng = RandomGenerator(seed: 17)
        var orders = [[Int]: Int](), alphaMin = 2.0, alphaMax = 0.0, alphaSum = 0.0
        let n = 3000
        for i in 0..<n {
            var copy = rng
            let steps = Transforms.colorJitterSteps(brightness: 0.4, contrast: 0.4, saturation: 0.4, rng: &rng)
            var perm = [0, 1, 2]
            perm.swapAt(2, copy.integer(in: 0...2))
            perm.swapAt(1, copy.integer(in: 0...1))
            let alphas = perm.map { _ in 1 + copy.uniform(-0.4, 0.4) }
            if i < 50 {
                XCTAssertEqual(steps.map(\.operation.rawValue), perm)
                XCTAssertEqual(steps.map(\.alpha), alphas)
                XCTAssertEqual(copy, rng)
            }
            orders[steps.map(\.operation.rawValue), default: 0] += 1
            for s in steps {
                alphaMin = min(alphaMin, s.alpha); alphaMax = max(alphaMax, s.alpha); alphaSum += s.alpha
            }
        }
        XCTAssertEqual(orders.count, 6)
        let sigma = (Double(n) * (1.0 / 6) * (5.0 / 6)).squareRoot()
        for (order, count) in orders { XCTAssertLessThan(abs(Double(count) - Double(n) / 6), 3 * sigma, "\(order)") }
        XCTAssert(alphaMin >= 0.6 && alphaMin < 0.605 && alphaMax < 1.4 && alphaMax > 1.395, "\(alphaMin) \(alphaMax)")
        XCTAssertEqual(alphaSum / Double(3 * n), 1, accuracy: 3 * 0.8 / 12.0.squareRoot() / Double(3 * n).squareRoot())

        // Operations with zero variance are left out; the jittered image equals the explicit variant.
        var r2 = RandomGenerator(seed: 1), c2 = r2
        let two = Transforms.colorJitterSteps(brightness: 0.4, contrast: 0, saturation: 0.2, rng: &r2)
        XCTAssertEqual(Set(two.map(\.operation)), [.brightness, .saturation])
        let img = randomImage(channels: 3, height: 4, width: 5, seed: 2)
        let viaRNG = Transforms.colorJitter(img, brightness: 0.4, contrast: 0, saturation: 0.2, rng: &c2)
        XCTAssertEqual(viaRNG, Transforms.colorJitter(img, steps: two))
    }

    func testLightingDrawsThreeNormals() {
        let img = randomImage(channels: 3, height: 2, width: 3, seed: 4)
        var rng = RandomGenerator(seed: 23)
        var copy = rng
        let out = Transforms.lighting(img, alphaStd: 0.1, rng: &rng)
        let alphas = (0..<3).map { _ in copy.normal(mean: 0, std: 0.1) }
        XCTAssertEqual(copy, rng)
        XCTAssertEqual(out, Transforms.lighting(img, alphas: alphas))
        // alphaStd 0: unchanged, no draws.
        let before = rng
        XCTAssertEqual(Transforms.lighting(img, alphaStd: 0, rng: &rng), img)
        XCTAssertEqual(rng, before)
        // The red shift has std 0.1 · sqrt(Σ_j (eigvec[0][j] · eigval[j])²).
        let zero = Image(channels: 3, height: 1, width: 1)
        var sumSq = 0.0
        let n = 4000
        for _ in 0..<n { sumSq += Double(Transforms.lighting(zero, alphaStd: 0.1, rng: &rng).pixels[0]).squared }
        let red = (0..<3).map { Double(Transforms.lightingEigenvectors[0][$0] * Transforms.lightingEigenvalues[$0]) }
        let expectedStd = 0.1 * red.map(\.squared).reduce(0, +).squareRoot()
        XCTAssertEqual((sumSq / Double(n)).squareRoot(), expectedStd, accuracy: 0.05 * expectedStd)
    }

    /// The full ImageNet training pipeline consumes the documented draws in order and is reproducible; over
    /// many seeds (every jitter order, both flips) it equals the step-by-step composition of the transforms.
    func testImagenetTrainDrawOrderAndReproducibility() {
        let img = randomImage(channels: 3, height: 40, width: 50, seed: 9)
        var orders = Set<[Int]>(), flips = Set<Bool>()
        for seed in UInt64(70)..<100 {
            var rng = RandomGenerator(seed: seed)
            var copy = rng
            let out = Transforms.imagenetTrain(img, rng: &rng)
            assertShape(out, 3, 224, 224)

            let box = Transforms.randomSizedCropBox(width: 50, height: 40, rng: &copy)
            let steps = Transforms.colorJitterSteps(brightness: 0.4, contrast: 0.4, saturation: 0.4, rng: &copy)
            let alphas = (0..<3).map { _ in copy.normal(mean: 0, std: 0.1) }
            let flip = copy.uniform() < 0.5
            XCTAssertEqual(copy, rng)
            orders.insert(steps.map(\.operation.rawValue))
            flips.insert(flip)
            var expected = Transforms.randomSizedCrop(img, box: box, size: 224)
            expected = Transforms.lighting(Transforms.colorJitter(expected, steps: steps), alphas: alphas)
            expected = Transforms.normalize(expected, mean: Transforms.imagenetMean, std: Transforms.imagenetStd)
            // Colour jitter, lighting and normalisation run as one affine map: equal up to float rounding.
            assertClose(out.pixels, (flip ? Transforms.horizontalFlip(expected) : expected).pixels, tolerance: 2e-5, "seed \(seed)")

            var again = RandomGenerator(seed: seed)
            XCTAssertEqual(Transforms.imagenetTrain(img, rng: &again), out)
        }
        XCTAssertEqual(orders.count, 6, "every order of the three jitter operations was drawn")
        XCTAssertEqual(flips, [false, true])
        var a = RandomGenerator(seed: 77), b = RandomGenerator(seed: 78)
        XCTAssertNotEqual(Transforms.imagenetTrain(img, rng: &a), Transforms.imagenetTrain(img, rng: &b))
    }
}

extension Double {
    fileprivate var squared: Double { self * self }
}
