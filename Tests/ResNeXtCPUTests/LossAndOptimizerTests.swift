import ResNeXtCPU
import ResNeXtCore
import ResNeXtReference
import XCTest

final class LossAndOptimizerTests: XCTestCase {
    func testSoftmaxCrossEntropyMatchesReference() throws {
        var rng = RandomGenerator(seed: 10)
        for (n, k) in [(1, 2), (5, 10), (3, 1000)] {
            let values = randomValues(n * k, &rng).map { $0 * 20 }  // large logits exercise the stable path
            let logits = try cpu.upload(values, shape: [n, k])
            let labels = (0..<n).map { _ in Int32(rng.integer(in: 0...(k - 1))) }
            let result = try cpu.softmaxCrossEntropy(logits, labels: labels)
            let ref = Reference.softmaxCrossEntropy(RefTensor(shape: [n, k], floats: values), labels: labels.map(Int.init))
            XCTAssertEqual(Double(result.loss), ref.loss, accuracy: 1e-5 * max(1, ref.loss))
            try assertClose(result.gradient, ref.gradient, "cross-entropy gradient \(n)x\(k)")
        }
        assertThrows("label 3 is out of range for 3 classes") {
            try cpu.softmaxCrossEntropy(try cpu.zeros([1, 3]), labels: [3])
        }
        assertThrows("2 labels for 1 rows") { try cpu.softmaxCrossEntropy(try cpu.zeros([1, 3]), labels: [0, 1]) }
    }

    func testTopKCountsIncludingFewerClassesThanK() throws {
        let logits = try cpu.upload(
            [
                0.1, 0.5, 0.4,
                0.9, 0.05, 0.05,
                0.2, 0.3, 0.5
            ], shape: [3, 3])
        let labels: [Int32] = [2, 0, 0]
        XCTAssertEqual(try cpu.topKCorrect(logits, labels: labels, ks: [1, 2, 5]), [1, 2, 3])
        var rng = RandomGenerator(seed: 11)
        let values = randomValues(40 * 12, &rng)
        let labels2 = (0..<40).map { _ in Int32(rng.integer(in: 0...11)) }
        let got = try cpu.topKCorrect(try cpu.upload(values, shape: [40, 12]), labels: labels2, ks: [1, 5])
        let ref = [1, 5].map { Reference.topKCorrect(RefTensor(shape: [40, 12], floats: values), labels: labels2.map(Int.init), k: $0) }
        XCTAssertEqual(got, ref)
    }

    /// A diverged model never scores: a NaN label logit is never correct, and NaN elsewhere ranks above
    /// the label (as torch.topk ranks NaN highest). Before, NaN compared false and counted as correct.
    func testTopKNeverCountsNaNAsCorrect() throws {
        let logits = try cpu.upload([.nan, 1, 2, 1, .nan, 0, .nan, .nan, .nan, 3, 2, 1], shape: [4, 3])
        let labels: [Int32] = [0, 0, 1, 0]
        // Row 0: label NaN (never). Row 1: one NaN above the label (top-2, top-3). Row 2: all NaN (never).
        // Row 3: the label is the largest (always).
        XCTAssertEqual(try cpu.topKCorrect(logits, labels: labels, ks: [1, 2, 3]), [1, 2, 2])
        let all = try cpu.full([8, 10], value: .nan)
        XCTAssertEqual(try cpu.topKCorrect(all, labels: [Int32](repeating: 3, count: 8), ks: [1, 5]), [0, 0])
        let reference = RefTensor(shape: [4, 3], floats: try cpu.download(logits))
        XCTAssertEqual([1, 2, 3].map { Reference.topKCorrect(reference, labels: labels.map(Int.init), k: $0) }, [1, 2, 2])
    }

    /// Three Nesterov steps with weight decay equal the closed form from the reference implementation.
    func testSGDNesterovThreeStepsEqualClosedForm() throws {
        var rng = RandomGenerator(seed: 12)
        let shape = [70_001]  // large enough to run on several threads
        let (theta, rtheta) = try randomPair(shape, &rng)
        let velocity = try cpu.zeros(Shape(shape))
        var refTheta = rtheta, refVelocity = RefTensor(zeros: shape)
        let h = SGDHyperparameters(momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true)
        for step in 0..<3 {
            let (g, rg) = try randomPair(shape, &rng)
            let lr: Float = [0.1, 0.1, 0.01][step]
            try cpu.sgdStep(parameter: theta, gradient: g, velocity: velocity, learningRate: lr, h, isFirstStep: step == 0)
            (refTheta, refVelocity) = Reference.sgdStep(
                theta: refTheta, grad: rg, velocity: refVelocity, lr: Double(lr), momentum: 0.9,
                dampening: 0, weightDecay: 5e-4, nesterov: true, firstStep: step == 0)
        }
        try assertClose(theta, refTheta, tolerance: 1e-6, "SGD parameters")
        try assertClose(velocity, refVelocity, tolerance: 1e-6, "SGD velocity")
        // One hand-computed step: θ=1, g=0.5, wd=0.1 → g'=0.6, v=0.6, d=0.6+0.9·0.6=1.14, θ=1−0.1·1.14.
        let p = try cpu.upload([1], shape: [1]), v = try cpu.zeros([1])
        try cpu.sgdStep(
            parameter: p, gradient: try cpu.upload([0.5], shape: [1]), velocity: v, learningRate: 0.1,
            SGDHyperparameters(weightDecay: 0.1), isFirstStep: true)
        XCTAssertEqual(try cpu.download(p)[0], 0.886, accuracy: 1e-6)
        XCTAssertEqual(try cpu.download(v)[0], 0.6, accuracy: 1e-6)
    }
}
