import ResNeXtReference
import XCTest

/// Every backward routine against central finite differences of `L = sum(dy ⊙ f(x))` in float64.
final class FiniteDifferenceTests: XCTestCase {

    // MARK: - Convolution

    private struct ConvCase {
        var name: String
        var input: [Int]  // [N, C, H, W]
        var outChannels: Int
        var kernel: (h: Int, w: Int)
        var stride: (h: Int, w: Int)
        var pad: (h: Int, w: Int)
        var groups: Int
    }

    private func checkConv(_ cs: ConvCase, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SplitMix64(seed: seed)
        let c = cs.input[1]
        let wShape = [cs.outChannels, c / cs.groups, cs.kernel.h, cs.kernel.w]
        let x = randomTensor(cs.input, &rng)
        let w = randomTensor(wShape, &rng)
        let b = randomTensor([cs.outChannels], &rng)
        func fwd(_ x: RefTensor, _ w: RefTensor, _ b: RefTensor) -> RefTensor {
            Reference.conv2d(
                x, weight: w, bias: b, strideH: cs.stride.h, strideW: cs.stride.w,
                padH: cs.pad.h, padW: cs.pad.w, groups: cs.groups)
        }
        let y = fwd(x, w, b)
        let oh = (cs.input[2] + 2 * cs.pad.h - cs.kernel.h) / cs.stride.h + 1
        let ow = (cs.input[3] + 2 * cs.pad.w - cs.kernel.w) / cs.stride.w + 1
        XCTAssertEqual(y.shape, [cs.input[0], cs.outChannels, oh, ow], "\(cs.name): output shape", file: file, line: line)
        let dy = randomTensor(y.shape, &rng)

        let dx = Reference.conv2dBackwardData(
            dy, weight: w, inputShape: x.shape, strideH: cs.stride.h,
            strideW: cs.stride.w, padH: cs.pad.h, padW: cs.pad.w,
            groups: cs.groups)
        let (dw, db) = Reference.conv2dBackwardWeights(
            dy, input: x, weightShape: wShape, strideH: cs.stride.h,
            strideW: cs.stride.w, padH: cs.pad.h, padW: cs.pad.w,
            groups: cs.groups)
        checkGradient(
            "\(cs.name) dx", analytic: dx, at: x, &rng, loss: { dot(dy, fwd($0, w, b)) },
            file: file, line: line)
        checkGradient(
            "\(cs.name) dw", analytic: dw, at: w, &rng, loss: { dot(dy, fwd(x, $0, b)) },
            file: file, line: line)
        checkGradient(
            "\(cs.name) db", analytic: db, at: b, &rng, loss: { dot(dy, fwd(x, w, $0)) },
            file: file, line: line)
    }

    func testConvGroups1Stride1Pad1() {
        checkConv(
            ConvCase(
                name: "g1 s1 p1", input: [2, 3, 5, 7], outChannels: 4, kernel: (3, 3),
                stride: (1, 1), pad: (1, 1), groups: 1), seed: 1)
    }

    func testConvGroups1Stride2NoPad1x1() {
        // Projection shortcut: 1x1 kernel, stride 2, no padding, odd extents.
        checkConv(
            ConvCase(
                name: "g1 1x1 s2", input: [2, 4, 5, 7], outChannels: 6, kernel: (1, 1),
                stride: (2, 2), pad: (0, 0), groups: 1), seed: 2)
    }

    func testConvGroups2Stride2Pad1() {
        checkConv(
            ConvCase(
                name: "g2 s2 p1", input: [1, 4, 5, 7], outChannels: 6, kernel: (3, 3),
                stride: (2, 2), pad: (1, 1), groups: 2), seed: 3)
    }

    func testConvGroups2Batch2Stride1() {
        checkConv(
            ConvCase(
                name: "g2 s1 p1 n2", input: [2, 6, 5, 5], outChannels: 4, kernel: (3, 3),
                stride: (1, 1), pad: (1, 1), groups: 2), seed: 4)
    }

    func testConvDepthwiseStride1() {
        checkConv(
            ConvCase(
                name: "depthwise s1", input: [2, 3, 5, 7], outChannels: 3, kernel: (3, 3),
                stride: (1, 1), pad: (1, 1), groups: 3), seed: 5)
    }

    func testConvDepthwiseStride2() {
        checkConv(
            ConvCase(
                name: "depthwise s2", input: [1, 4, 5, 7], outChannels: 4, kernel: (3, 3),
                stride: (2, 2), pad: (1, 1), groups: 4), seed: 6)
    }

    func testConvDepthwiseMultiplier() {
        // groups == channels with two outputs per input channel.
        checkConv(
            ConvCase(
                name: "depthwise x2", input: [2, 2, 5, 7], outChannels: 4, kernel: (3, 3),
                stride: (1, 2), pad: (1, 1), groups: 2), seed: 7)
    }

    func testConvAsymmetricKernelStridePad() {
        // Different H and W geometry catches swapped H/W indices.
        checkConv(
            ConvCase(
                name: "asymmetric", input: [2, 2, 5, 7], outChannels: 3, kernel: (3, 2),
                stride: (1, 2), pad: (1, 0), groups: 1), seed: 8)
        checkConv(
            ConvCase(
                name: "asymmetric 2", input: [1, 3, 7, 5], outChannels: 2, kernel: (2, 3),
                stride: (2, 1), pad: (0, 2), groups: 1), seed: 9)
    }

    func testConvStem7x7Stride2Pad3() {
        checkConv(
            ConvCase(
                name: "stem 7x7", input: [1, 3, 9, 11], outChannels: 2, kernel: (7, 7),
                stride: (2, 2), pad: (3, 3), groups: 1), seed: 10)
    }

    // MARK: - Batch normalization

    private func checkBatchNorm(
        _ shape: [Int], seed: UInt64, eps: Double = 1e-5,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        var rng = SplitMix64(seed: seed)
        let c = shape[1]
        // Shift and scale the channels differently so mean/variance are far from 0/1.
        var x = randomTensor(shape, &rng)
        let inner = shape.count == 4 ? shape[2] * shape[3] : 1
        for i in 0..<x.count {
            let ch = (i / inner) % c
            x.data[i] = x.data[i] * Double(ch + 1) + Double(ch) - 1
        }
        let gamma = randomTensor([c], &rng, 0.5, 1.5)
        let beta = randomTensor([c], &rng)
        let runMean = RefTensor(zeros: [c])
        let runVar = RefTensor(shape: [c], data: [Double](repeating: 1, count: c))
        func fwd(_ x: RefTensor, _ g: RefTensor, _ b: RefTensor) -> RefTensor {
            Reference.batchNormTraining(
                x, gamma: g, beta: b, runningMean: runMean, runningVar: runVar,
                momentum: 0.1, eps: eps
            ).output
        }
        let out = Reference.batchNormTraining(
            x, gamma: gamma, beta: beta, runningMean: runMean,
            runningVar: runVar, momentum: 0.1, eps: eps)
        let dy = randomTensor(x.shape, &rng)
        let grads = Reference.batchNormBackward(
            dy, x: x, gamma: gamma, mean: out.mean, variance: out.variance,
            eps: eps)
        // The full derivative through the batch statistics: perturbing x moves the mean and variance.
        checkGradient(
            "bn \(shape) dx", analytic: grads.input, at: x, &rng,
            loss: { dot(dy, fwd($0, gamma, beta)) }, file: file, line: line)
        checkGradient(
            "bn \(shape) dgamma", analytic: grads.gamma, at: gamma, &rng,
            loss: { dot(dy, fwd(x, $0, beta)) }, file: file, line: line)
        checkGradient(
            "bn \(shape) dbeta", analytic: grads.beta, at: beta, &rng,
            loss: { dot(dy, fwd(x, gamma, $0)) }, file: file, line: line)
    }

    func testBatchNormTrainingBackwardBatch2() {
        checkBatchNorm([2, 3, 5, 7], seed: 20)
    }

    func testBatchNormTrainingBackwardBatch1() {
        checkBatchNorm([1, 2, 3, 3], seed: 21)
    }

    func testBatchNormTrainingBackwardRank2() {
        // [N, C] input as before the classifier, read as H = W = 1; also a larger eps.
        checkBatchNorm([4, 3], seed: 22, eps: 0.1)
    }

    // MARK: - ReLU

    func testReluBackward() {
        var rng = SplitMix64(seed: 30)
        let x = awayFromZeroTensor([2, 3, 5, 7], &rng)
        let y = Reference.relu(x)
        let dy = randomTensor(x.shape, &rng)
        let dx = Reference.reluBackward(dy, output: y)
        // Sample more coordinates here: half of them have zero gradient.
        checkGradient("relu dx", analytic: dx, at: x, samples: 80, &rng, loss: { dot(dy, Reference.relu($0)) })
        // Exactly dy where x > 0 and exactly 0 elsewhere.
        for i in 0..<x.count {
            XCTAssertEqual(dx.data[i], x.data[i] > 0 ? dy.data[i] : 0, "relu dx element \(i)")
        }
    }

    // MARK: - Pooling

    private func checkMaxPool(
        _ shape: [Int], kernel: (Int, Int), stride: (Int, Int), pad: (Int, Int), seed: UInt64,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        var rng = SplitMix64(seed: seed)
        let x = distinctTensor(shape, &rng)
        func fwd(_ x: RefTensor) -> RefTensor {
            Reference.maxPool2d(
                x, kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0, strideW: stride.1,
                padH: pad.0, padW: pad.1)
        }
        let y = fwd(x)
        let dy = randomTensor(y.shape, &rng)
        let dx = Reference.maxPool2dBackward(
            dy, input: x, kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0,
            strideW: stride.1, padH: pad.0, padW: pad.1)
        // Sample every coordinate for these small inputs: most have zero gradient.
        checkGradient(
            "maxpool \(shape) k\(kernel) s\(stride) p\(pad) dx", analytic: dx, at: x,
            samples: 400, &rng, loss: { dot(dy, fwd($0)) }, file: file, line: line)
        // Gradient mass is conserved: every output routes its dy to exactly one input.
        XCTAssertEqual(
            dx.data.reduce(0, +), dy.data.reduce(0, +), accuracy: 1e-12,
            "maxpool gradient sum", file: file, line: line)
    }

    func testMaxPoolBackward3x3Stride2Pad1() {
        checkMaxPool([2, 2, 5, 7], kernel: (3, 3), stride: (2, 2), pad: (1, 1), seed: 40)
    }

    func testMaxPoolBackward2x2Stride2() {
        checkMaxPool([1, 3, 6, 7], kernel: (2, 2), stride: (2, 2), pad: (0, 0), seed: 41)
    }

    func testMaxPoolBackwardOverlappingStride1() {
        checkMaxPool([2, 1, 5, 7], kernel: (3, 3), stride: (1, 1), pad: (1, 1), seed: 42)
    }

    func testMaxPoolBackwardAsymmetric() {
        checkMaxPool([1, 2, 5, 7], kernel: (2, 3), stride: (1, 2), pad: (1, 0), seed: 43)
    }

    private func checkAvgPool(
        _ shape: [Int], kernel: (Int, Int), stride: (Int, Int), pad: (Int, Int),
        countIncludePad: Bool, seed: UInt64,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        var rng = SplitMix64(seed: seed)
        let x = randomTensor(shape, &rng)
        func fwd(_ x: RefTensor) -> RefTensor {
            Reference.avgPool2d(
                x, kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0, strideW: stride.1,
                padH: pad.0, padW: pad.1, countIncludePad: countIncludePad)
        }
        let y = fwd(x)
        let dy = randomTensor(y.shape, &rng)
        let dx = Reference.avgPool2dBackward(
            dy, inputShape: x.shape, kernelH: kernel.0, kernelW: kernel.1,
            strideH: stride.0, strideW: stride.1, padH: pad.0, padW: pad.1,
            countIncludePad: countIncludePad)
        checkGradient(
            "avgpool \(shape) k\(kernel) s\(stride) p\(pad) incl \(countIncludePad) dx", analytic: dx,
            at: x, &rng, loss: { dot(dy, fwd($0)) }, file: file, line: line)
    }

    func testAvgPoolBackward2x2Stride2() {
        checkAvgPool([2, 2, 6, 7], kernel: (2, 2), stride: (2, 2), pad: (0, 0), countIncludePad: true, seed: 50)
    }

    func testAvgPoolBackward3x3Stride1Pad1BothModes() {
        checkAvgPool([2, 2, 5, 7], kernel: (3, 3), stride: (1, 1), pad: (1, 1), countIncludePad: true, seed: 51)
        checkAvgPool([2, 2, 5, 7], kernel: (3, 3), stride: (1, 1), pad: (1, 1), countIncludePad: false, seed: 52)
    }

    func testAvgPoolBackward3x3Stride2Pad1BothModes() {
        checkAvgPool([1, 3, 5, 7], kernel: (3, 3), stride: (2, 2), pad: (1, 1), countIncludePad: true, seed: 53)
        checkAvgPool([1, 3, 5, 7], kernel: (3, 3), stride: (2, 2), pad: (1, 1), countIncludePad: false, seed: 54)
    }

    func testAvgPoolBackwardGlobal() {
        // Global average pooling before the classifier: kernel equal to the spatial extent.
        checkAvgPool([2, 3, 5, 7], kernel: (5, 7), stride: (1, 1), pad: (0, 0), countIncludePad: true, seed: 55)
    }

    func testAvgPoolBackwardAsymmetric() {
        checkAvgPool([2, 1, 5, 7], kernel: (2, 3), stride: (1, 2), pad: (1, 0), countIncludePad: false, seed: 56)
    }

    // MARK: - Linear

    private func checkLinear(n: Int, k: Int, o: Int, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SplitMix64(seed: seed)
        let x = randomTensor([n, k], &rng)
        let w = randomTensor([o, k], &rng)
        let b = randomTensor([o], &rng)
        let dy = randomTensor([n, o], &rng)
        let dx = Reference.linearBackwardData(dy, weight: w)
        let (dw, db) = Reference.linearBackwardWeights(dy, input: x)
        func fwd(_ x: RefTensor, _ w: RefTensor, _ b: RefTensor) -> RefTensor {
            Reference.linear(x, weight: w, bias: b)
        }
        checkGradient(
            "linear n\(n) dx", analytic: dx, at: x, &rng, loss: { dot(dy, fwd($0, w, b)) },
            file: file, line: line)
        checkGradient(
            "linear n\(n) dw", analytic: dw, at: w, &rng, loss: { dot(dy, fwd(x, $0, b)) },
            file: file, line: line)
        checkGradient(
            "linear n\(n) db", analytic: db, at: b, &rng, loss: { dot(dy, fwd(x, w, $0)) },
            file: file, line: line)
    }

    func testLinearBackwardBatch1() {
        checkLinear(n: 1, k: 5, o: 4, seed: 60)
    }

    func testLinearBackwardBatch3() {
        checkLinear(n: 3, k: 7, o: 5, seed: 61)
    }

    // MARK: - Softmax cross-entropy

    func testSoftmaxCrossEntropyGradient() {
        var rng = SplitMix64(seed: 70)
        for (n, k) in [(1, 5), (3, 4), (4, 10)] {
            let logits = randomTensor([n, k], &rng, -3, 3)
            let labels = (0..<n).map { _ in rng.index(k) }
            let grad = Reference.softmaxCrossEntropy(logits, labels: labels).gradient
            checkGradient(
                "softmax CE [\(n), \(k)]", analytic: grad, at: logits, &rng,
                loss: { Reference.softmaxCrossEntropy($0, labels: labels).loss })
        }
    }

    func testSoftmaxCrossEntropyGradientLargeLogits() {
        // Logits far from zero: the stable formulation must still give the right derivative.
        var rng = SplitMix64(seed: 71)
        var logits = randomTensor([2, 5], &rng, -2, 2)
        for i in 0..<logits.count { logits.data[i] += 100 }
        let labels = [3, 0]
        let grad = Reference.softmaxCrossEntropy(logits, labels: labels).gradient
        XCTAssertTrue(grad.data.allSatisfy { $0.isFinite })
        checkGradient(
            "softmax CE large", analytic: grad, at: logits, &rng,
            loss: { Reference.softmaxCrossEntropy($0, labels: labels).loss })
    }
}
