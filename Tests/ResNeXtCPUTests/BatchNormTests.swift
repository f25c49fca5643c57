import ResNeXtCPU
import ResNeXtCore
import ResNeXtReference
import XCTest

final class BatchNormTests: XCTestCase {
    func testTrainingInferenceAndBackwardMatchReference() throws {
        var rng = RandomGenerator(seed: 3)
        // Plain 3-channel input, blocked-friendly 16 channels, odd spatial sizes, batch 1, and [N, C].
        for shape in [[2, 3, 5, 7], [3, 16, 4, 5], [1, 8, 3, 3], [6, 5]] {
            let c = shape[1]
            let (x, rx) = try randomPair(shape, &rng, offset: 0.5)
            let (gamma, rg) = try randomPair([c], &rng, offset: 1)
            let (beta, rb) = try randomPair([c], &rng)
            let (rm, rrm) = try randomPair([c], &rng)
            let (rv, rrv) = try randomPair([c], &rng, offset: 2)
            let (y, stats) = try cpu.batchNormTraining(
                x, scale: gamma, shift: beta, runningMean: rm, runningVariance: rv,
                momentum: 0.1, epsilon: 1e-5)
            let ref = Reference.batchNormTraining(rx, gamma: rg, beta: rb, runningMean: rrm, runningVar: rrv, momentum: 0.1, eps: 1e-5)
            try assertClose(y, ref.output, "BN training output \(shape)")
            try assertClose(stats.mean, ref.mean, "BN batch mean \(shape)")
            try assertClose(stats.variance, ref.variance, "BN batch variance \(shape)")
            try assertClose(rm, ref.runningMean, "BN running mean \(shape)")
            try assertClose(rv, ref.runningVar, "BN running variance \(shape)")

            let (dy, rdy) = try randomPair(shape, &rng)
            let g = try cpu.batchNormBackward(dy, input: x, scale: gamma, statistics: stats, epsilon: 1e-5)
            let rgr = Reference.batchNormBackward(rdy, x: rx, gamma: rg, mean: ref.mean, variance: ref.variance, eps: 1e-5)
            try assertClose(g.input, rgr.input, "BN backward input \(shape)")
            try assertClose(g.scale, rgr.gamma, "BN backward scale \(shape)")
            try assertClose(g.shift, rgr.beta, "BN backward shift \(shape)")

            let yi = try cpu.batchNormInference(x, scale: gamma, shift: beta, mean: rm, variance: rv, epsilon: 1e-5)
            let ryi = Reference.batchNormInference(rx, gamma: rg, beta: rb, mean: ref.runningMean, variance: ref.runningVar, eps: 1e-5)
            try assertClose(yi, ryi, "BN inference \(shape)")
        }
    }

    /// After three training steps on different batches the running statistics equal the closed form
    /// `r₃ = 0.9³·r₀ + Σᵢ 0.1·0.9^(3−i)·sᵢ` (unbiased variance for sᵢ).
    func testRunningStatisticsAfterThreeStepsEqualClosedForm() throws {
        var rng = RandomGenerator(seed: 4)
        let (n, c, h, w) = (4, 8, 3, 3)
        let m = Double(n * h * w)
        let rm = try cpu.zeros([c]), rv = try cpu.full([c], value: 1)
        let gamma = try cpu.full([c], value: 1), beta = try cpu.zeros([c])
        var expectedMean = [Double](repeating: 0, count: c)
        var expectedVar = [Double](repeating: 1, count: c)
        for step in 0..<3 {
            let values = randomValues(n * c * h * w, &rng).map { $0 * Float(step + 1) + Float(step) }
            _ = try cpu.batchNormTraining(
                try cpu.upload(values, shape: [n, c, h, w]), scale: gamma, shift: beta,
                runningMean: rm, runningVariance: rv, momentum: 0.1, epsilon: 1e-5)
            for ch in 0..<c {
                var xs = [Double]()
                for i in 0..<n { for j in 0..<(h * w) { xs.append(Double(values[(i * c + ch) * h * w + j])) } }
                let mean = xs.reduce(0, +) / m
                let unbiased = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (m - 1)
                expectedMean[ch] = 0.9 * expectedMean[ch] + 0.1 * mean
                expectedVar[ch] = 0.9 * expectedVar[ch] + 0.1 * unbiased
            }
        }
        XCTAssertLessThan(relativeError(try cpu.download(rm), expectedMean), 1e-5)
        XCTAssertLessThan(relativeError(try cpu.download(rv), expectedVar), 1e-5)
    }

    func testBadBatchNormArgumentsThrow() throws {
        let x = try cpu.zeros([2, 4, 3, 3])
        let v4 = try cpu.zeros([4]), v3 = try cpu.zeros([3])
        assertThrows("batch normalization scale has shape [3]") {
            try cpu.batchNormTraining(x, scale: v3, shift: v4, runningMean: v4, runningVariance: v4, momentum: 0.1, epsilon: 1e-5)
        }
        assertThrows("must be [N, C, H, W] or [N, C]") {
            try cpu.batchNormInference(try cpu.zeros([4]), scale: v4, shift: v4, mean: v4, variance: v4, epsilon: 1e-5)
        }
    }
}
