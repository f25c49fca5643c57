import ResNeXtReference
import XCTest

/// Forward results against numbers worked out by hand.
final class ForwardValueTests: XCTestCase {

    // MARK: - Convolution

    func testConvAllOnesPad1() {
        let x = RefTensor(shape: [1, 1, 3, 3], data: [Double](repeating: 1, count: 9))
        let w = RefTensor(shape: [1, 1, 3, 3], data: [Double](repeating: 1, count: 9))
        let y = Reference.conv2d(x, weight: w, bias: nil, strideH: 1, strideW: 1, padH: 1, padW: 1, groups: 1)
        assertClose(y, shape: [1, 1, 3, 3], [4, 6, 4, 6, 9, 6, 4, 6, 4], "conv ones")
        let yb = Reference.conv2d(
            x, weight: w, bias: RefTensor(shape: [1], data: [0.5]), strideH: 1, strideW: 1,
            padH: 1, padW: 1, groups: 1)
        assertClose(yb, shape: [1, 1, 3, 3], [4.5, 6.5, 4.5, 6.5, 9.5, 6.5, 4.5, 6.5, 4.5], "conv ones + bias")
    }

    func testConvIsCrossCorrelation() {
        // Not flipped: y[i] = x[i] * w[0] + x[i+1] * w[1].
        let x = RefTensor(shape: [1, 1, 1, 3], data: [1, 2, 3])
        let w = RefTensor(shape: [1, 1, 1, 2], data: [1, 10])
        let y = Reference.conv2d(x, weight: w, bias: nil, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1)
        assertClose(y, shape: [1, 1, 1, 2], [21, 32], "conv orientation")
    }

    func testConvStride2BlockSums() {
        let x = RefTensor(shape: [1, 1, 4, 4], data: arange(16))
        let w = RefTensor(shape: [1, 1, 2, 2], data: [1, 1, 1, 1])
        let y = Reference.conv2d(x, weight: w, bias: nil, strideH: 2, strideW: 2, padH: 0, padW: 0, groups: 1)
        assertClose(y, shape: [1, 1, 2, 2], [10, 18, 42, 50], "conv stride 2")
    }

    func testConvAsymmetricStrideAndPad() {
        // arange(12) as 3x4, kernel 1x2 of ones, stride (1, 2), pad (1, 0): OH = 5, OW = 2.
        let x = RefTensor(shape: [1, 1, 3, 4], data: arange(12))
        let w = RefTensor(shape: [1, 1, 1, 2], data: [1, 1])
        let y = Reference.conv2d(x, weight: w, bias: nil, strideH: 1, strideW: 2, padH: 1, padW: 0, groups: 1)
        assertClose(y, shape: [1, 1, 5, 2], [0, 0, 1, 5, 9, 13, 17, 21, 0, 0], "conv asymmetric")
    }

    func testConvGroupsAndMultipleOutputs() {
        let x = RefTensor(shape: [1, 4, 1, 1], data: [1, 2, 3, 4])
        // groups 2: output 0 sees channels 0-1, output 1 sees channels 2-3.
        let wg = RefTensor(shape: [2, 2, 1, 1], data: [1, 10, 100, 1000])
        let yg = Reference.conv2d(
            x, weight: wg, bias: RefTensor(shape: [2], data: [0.5, -0.5]), strideH: 1,
            strideW: 1, padH: 0, padW: 0, groups: 2)
        assertClose(yg, shape: [1, 2, 1, 1], [21.5, 4299.5], "conv groups 2")
        // groups 1 with output 1 weights [0, 0, 1, 0] and output 0 weights [1, 1, 1, 1].
        let w1 = RefTensor(shape: [2, 4, 1, 1], data: [1, 1, 1, 1, 0, 0, 1, 0])
        let y1 = Reference.conv2d(x, weight: w1, bias: nil, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1)
        assertClose(y1, shape: [1, 2, 1, 1], [10, 3], "conv groups 1")
    }

    func testConvDepthwise() {
        // Two channels, each with its own 2x2 kernel, batch 2.
        let x = RefTensor(
            shape: [2, 2, 2, 2],
            data: [
                1, 2, 3, 4, 5, 6, 7, 8,
                -1, -2, -3, -4, -5, -6, -7, -8
            ])
        let w = RefTensor(shape: [2, 1, 2, 2], data: [1, 0, 0, 0, 0, 0, 0, 1])
        let y = Reference.conv2d(x, weight: w, bias: nil, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 2)
        assertClose(y, shape: [2, 2, 1, 1], [1, 8, -1, -8], "depthwise")
    }

    // MARK: - Pooling

    func testMaxPool3x3Stride2Pad1() {
        let x = RefTensor(shape: [1, 1, 4, 4], data: arange(16))
        let y = Reference.maxPool2d(x, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padH: 1, padW: 1)
        assertClose(y, shape: [1, 1, 2, 2], [5, 7, 13, 15], "maxpool")
        // All-negative input: the padding must not win as a zero.
        let xn = RefTensor(shape: [1, 1, 4, 4], data: arange(16).map { -$0 - 1 })
        let yn = Reference.maxPool2d(xn, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padH: 1, padW: 1)
        assertClose(yn, shape: [1, 1, 2, 2], [-1, -2, -5, -6], "maxpool negative")
    }

    func testMaxPoolBackwardRoutesToArgmaxAndFirstOfTies() {
        let x = RefTensor(shape: [1, 1, 4, 4], data: arange(16))
        let dy = RefTensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
        let dx = Reference.maxPool2dBackward(
            dy, input: x, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2,
            padH: 1, padW: 1)
        var expected = [Double](repeating: 0, count: 16)
        expected[5] = 1; expected[7] = 2; expected[13] = 3; expected[15] = 4
        assertClose(dx, shape: [1, 1, 4, 4], expected, "maxpool backward")
        // Overlapping windows on a constant input: each window's gradient goes to its first element.
        let c = RefTensor(shape: [1, 1, 2, 3], data: [Double](repeating: 7, count: 6))
        let dyc = RefTensor(shape: [1, 1, 1, 2], data: [10, 20])
        let dxc = Reference.maxPool2dBackward(
            dyc, input: c, kernelH: 2, kernelW: 2, strideH: 1, strideW: 1,
            padH: 0, padW: 0)
        assertClose(dxc, shape: [1, 1, 2, 3], [10, 20, 0, 0, 0, 0], "maxpool backward ties")
    }

    func testAvgPool2x2Stride2() {
        let x = RefTensor(shape: [1, 1, 4, 4], data: arange(16))
        for include in [false, true] {
            let y = Reference.avgPool2d(
                x, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padH: 0, padW: 0,
                countIncludePad: include)
            assertClose(y, shape: [1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5], "avgpool 2x2 include \(include)")
        }
    }

    func testAvgPool3x3Pad1CountIncludePad() {
        let x = RefTensor(shape: [1, 1, 3, 3], data: arange(9))
        let ex = Reference.avgPool2d(
            x, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1,
            countIncludePad: false)
        // Corner (0+1+3+4)/4 = 2, edge (0+1+2+3+4+5)/6 = 2.5, centre 36/9 = 4.
        assertClose(ex, shape: [1, 1, 3, 3], [2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6], "avgpool exclude pad")
        let inc = Reference.avgPool2d(
            x, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1,
            countIncludePad: true)
        assertClose(
            inc, shape: [1, 1, 3, 3], [8, 15, 12, 21, 36, 27, 20, 33, 24].map { $0 / 9 },
            "avgpool include pad")
        // Backward: a unit gradient at the corner output spreads 1/divisor over the 2x2 in-bounds window.
        var dyData = [Double](repeating: 0, count: 9)
        dyData[0] = 1
        let dy = RefTensor(shape: [1, 1, 3, 3], data: dyData)
        let dxEx = Reference.avgPool2dBackward(
            dy, inputShape: [1, 1, 3, 3], kernelH: 3, kernelW: 3, strideH: 1,
            strideW: 1, padH: 1, padW: 1, countIncludePad: false)
        assertClose(dxEx, shape: [1, 1, 3, 3], [0.25, 0.25, 0, 0.25, 0.25, 0, 0, 0, 0], "avgpool backward exclude")
        let dxIn = Reference.avgPool2dBackward(
            dy, inputShape: [1, 1, 3, 3], kernelH: 3, kernelW: 3, strideH: 1,
            strideW: 1, padH: 1, padW: 1, countIncludePad: true)
        let n = 1.0 / 9
        assertClose(dxIn, shape: [1, 1, 3, 3], [n, n, 0, n, n, 0, 0, 0, 0], "avgpool backward include")
    }

    // MARK: - Batch normalization

    func testBatchNormTrainingKnownValues() {
        // [N=2, C=2, H=1, W=2]. Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased var 1.25);
        // channel 1 holds -1.5, 3.5, 3.5, -1.5 (mean 1, biased var 6.25).
        // eps 2.75 makes the standard deviations exactly 2 and 3.
        let x = RefTensor(shape: [2, 2, 1, 2], data: [1, 2, -1.5, 3.5, 3, 4, 3.5, -1.5])
        let gamma = RefTensor(shape: [2], data: [2, 3])
        let beta = RefTensor(shape: [2], data: [0.5, -1])
        let r = Reference.batchNormTraining(
            x, gamma: gamma, beta: beta,
            runningMean: RefTensor(shape: [2], data: [0.5, 0]),
            runningVar: RefTensor(shape: [2], data: [1, 1]),
            momentum: 0.1, eps: 2.75)
        assertClose(r.mean, shape: [2], [2.5, 1], "bn mean")
        assertClose(r.variance, shape: [2], [1.25, 6.25], "bn biased variance")
        // ch0: (x - 2.5) / 2 * 2 + 0.5; ch1: (x - 1) / 3 * 3 - 1.
        assertClose(r.output, shape: [2, 2, 1, 2], [-1, 0, -3.5, 1.5, 1, 2, 1.5, -3.5], "bn output")
        // runningMean: 0.9 * [0.5, 0] + 0.1 * [2.5, 1].
        assertClose(r.runningMean, shape: [2], [0.7, 0.1], "bn running mean")
        // runningVar: 0.9 * 1 + 0.1 * unbiased var, unbiased = biased * 4 / 3 = [5/3, 25/3].
        assertClose(r.runningVar, shape: [2], [0.9 + 0.1 * 5 / 3, 0.9 + 0.1 * 25 / 3], "bn running var")
        // Inference with the batch statistics reproduces the training output.
        let inf = Reference.batchNormInference(
            x, gamma: gamma, beta: beta, mean: r.mean, variance: r.variance,
            eps: 2.75)
        assertClose(inf, shape: x.shape, r.output.data, "bn inference with batch stats")
    }

    func testBatchNormTrainingSingleElementKeepsRunningStats() {
        // m = N*H*W = 1: x - mean = 0, so the output is beta; running stats stay as they were.
        let x = RefTensor(shape: [1, 2], data: [3, -4])
        let r = Reference.batchNormTraining(
            x, gamma: RefTensor(shape: [2], data: [2, 2]),
            beta: RefTensor(shape: [2], data: [0.25, -0.75]),
            runningMean: RefTensor(shape: [2], data: [0.5, 0.6]),
            runningVar: RefTensor(shape: [2], data: [1.5, 2.5]),
            momentum: 0.1, eps: 1e-5)
        assertClose(r.output, shape: [1, 2], [0.25, -0.75], "bn m=1 output")
        assertClose(r.mean, shape: [2], [3, -4], "bn m=1 mean")
        assertClose(r.variance, shape: [2], [0, 0], "bn m=1 variance")
        assertClose(r.runningMean, shape: [2], [0.5, 0.6], "bn m=1 running mean")
        assertClose(r.runningVar, shape: [2], [1.5, 2.5], "bn m=1 running var")
    }

    func testBatchNormInferenceKnownValues() {
        // [N=1, C=2], eps 1: ch0 (3 - 1) / sqrt(3 + 1) * 2 + 1 = 3; ch1 (-2 - 0) / sqrt(3 + 1) * 0.5 + 0 = -0.5.
        let x = RefTensor(shape: [1, 2], data: [3, -2])
        let y = Reference.batchNormInference(
            x, gamma: RefTensor(shape: [2], data: [2, 0.5]),
            beta: RefTensor(shape: [2], data: [1, 0]),
            mean: RefTensor(shape: [2], data: [1, 0]),
            variance: RefTensor(shape: [2], data: [3, 3]), eps: 1)
        assertClose(y, shape: [1, 2], [3, -0.5], "bn inference")
    }

    // MARK: - Elementwise and linear

    func testReluForwardAndBackward() {
        let x = RefTensor(shape: [1, 5], data: [-2, -0.0, 0.5, .nan, 3])
        let y = Reference.relu(x)
        assertClose(y, shape: [1, 5], [0, 0, 0.5, 0, 3], "relu")
        let dx = Reference.reluBackward(RefTensor(shape: [1, 5], data: [1, 2, 3, 4, 5]), output: y)
        assertClose(dx, shape: [1, 5], [0, 0, 3, 0, 5], "relu backward")
    }

    func testAdd() {
        let y = Reference.add(
            RefTensor(shape: [2, 2], data: [1, 2, 3, 4]),
            RefTensor(shape: [2, 2], data: [10, 20, 30, -40]))
        assertClose(y, shape: [2, 2], [11, 22, 33, -36], "add")
    }

    func testLinearKnownValues() {
        // x [2, 3], W [2, 3], b [2]: y = x W^T + b.
        let x = RefTensor(shape: [2, 3], data: [1, 2, 3, 0, -1, 2])
        let w = RefTensor(shape: [2, 3], data: [1, 0, -1, 2, 1, 0])
        let b = RefTensor(shape: [2], data: [0.5, -1])
        assertClose(Reference.linear(x, weight: w, bias: b), shape: [2, 2], [-1.5, 3, -1.5, -2], "linear")
        assertClose(Reference.linear(x, weight: w, bias: nil), shape: [2, 2], [-2, 4, -2, -1], "linear no bias")
        let dy = RefTensor(shape: [2, 2], data: [1, 2, -1, 0])
        // dx = dy W: row0 1*[1,0,-1] + 2*[2,1,0] = [5,2,-1]; row1 -1*[1,0,-1] = [-1,0,1].
        assertClose(Reference.linearBackwardData(dy, weight: w), shape: [2, 3], [5, 2, -1, -1, 0, 1], "linear dx")
        // dW = dy^T x: row0 1*[1,2,3] - 1*[0,-1,2] = [1,3,1]; row1 2*[1,2,3] = [2,4,6]; db = [0, 2].
        let (dw, db) = Reference.linearBackwardWeights(dy, input: x)
        assertClose(dw, shape: [2, 3], [1, 3, 1, 2, 4, 6], "linear dw")
        assertClose(db, shape: [2], [0, 2], "linear db")
    }

    // MARK: - Loss, accuracy, optimizer

    func testSoftmaxCrossEntropyUniform() {
        let logits = RefTensor(shape: [2, 2], data: [0, 0, 0, 0])
        let r = Reference.softmaxCrossEntropy(logits, labels: [0, 1])
        XCTAssertEqual(r.loss, 0.6931471805599453, accuracy: 1e-15)  // log 2
        // (softmax - onehot) / N with N = 2.
        assertClose(r.gradient, shape: [2, 2], [-0.25, 0.25, 0.25, -0.25], tol: 1e-15, "uniform gradient")
    }

    func testSoftmaxCrossEntropyKnownValues() {
        // Row [1, 2, 3], label 2: loss = log(1 + e^-1 + e^-2); gradient = softmax - onehot (N = 1).
        let r = Reference.softmaxCrossEntropy(RefTensor(shape: [1, 3], data: [1, 2, 3]), labels: [2])
        XCTAssertEqual(r.loss, 0.4076059644443804, accuracy: 1e-14)
        assertClose(
            r.gradient, shape: [1, 3],
            [0.09003057317038046, 0.24472847105479767, 0.6652409557748219 - 1], tol: 1e-14, "gradient")
        // Mean over rows: add a row [0, 0, 0] with label 0 (loss log 3).
        let r2 = Reference.softmaxCrossEntropy(RefTensor(shape: [2, 3], data: [1, 2, 3, 0, 0, 0]), labels: [2, 0])
        XCTAssertEqual(r2.loss, (0.4076059644443804 + 1.0986122886681098) / 2, accuracy: 1e-14)
        assertClose(
            r2.gradient, shape: [2, 3],
            [
                0.09003057317038046 / 2, 0.24472847105479767 / 2, (0.6652409557748219 - 1) / 2,
                (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6
            ], tol: 1e-14, "gradient N=2")
    }

    func testSoftmaxCrossEntropyLargeLogitsAreStable() {
        let r = Reference.softmaxCrossEntropy(RefTensor(shape: [2, 2], data: [1000, 0, 1000, 0]), labels: [0, 1])
        XCTAssertEqual(r.loss, 500, accuracy: 1e-9)  // rows give 0 and 1000
        assertClose(r.gradient, shape: [2, 2], [0, 0, 0.5, -0.5], tol: 1e-15, "large logits gradient")
    }

    func testTopKCorrectWithTiesAndClamping() {
        // Every row is [1, 3, 3, 0]; labels 1 and 2 tie for the top, label 0 has two larger, label 3 three.
        let row: [Double] = [1, 3, 3, 0]
        let logits = RefTensor(shape: [4, 4], data: row + row + row + row)
        let labels = [1, 2, 0, 3]
        XCTAssertEqual(Reference.topKCorrect(logits, labels: labels, k: 0), 0)
        XCTAssertEqual(Reference.topKCorrect(logits, labels: labels, k: 1), 2)
        XCTAssertEqual(Reference.topKCorrect(logits, labels: labels, k: 2), 2)
        XCTAssertEqual(Reference.topKCorrect(logits, labels: labels, k: 3), 3)
        XCTAssertEqual(Reference.topKCorrect(logits, labels: labels, k: 4), 4)
        // k larger than the class count acts as k = 4: every row counts.
        XCTAssertEqual(Reference.topKCorrect(logits, labels: labels, k: 5), 4)
        XCTAssertEqual(Reference.topKCorrect(logits, labels: labels, k: 100), 4)
        // A distinct-valued case: only rows whose label is the argmax count for k = 1.
        let d = RefTensor(shape: [3, 3], data: [0.1, 0.7, 0.2, 0.5, 0.4, 0.1, 0.3, 0.3, 0.4])
        XCTAssertEqual(Reference.topKCorrect(d, labels: [1, 1, 0], k: 1), 1)
        XCTAssertEqual(Reference.topKCorrect(d, labels: [1, 1, 0], k: 2), 3)
    }

    func testSGDNesterovTwoSteps() {
        // lr 0.1, momentum 0.9, dampening 0, weight decay 0.1, Nesterov.
        let theta0 = RefTensor(shape: [2], data: [1, -2])
        let grad = RefTensor(shape: [2], data: [0.5, 0.25])
        // First step ignores the incoming velocity: v = g + wd*theta.
        let garbage = RefTensor(shape: [2], data: [123, -456])
        let s1 = Reference.sgdStep(
            theta: theta0, grad: grad, velocity: garbage, lr: 0.1, momentum: 0.9,
            dampening: 0, weightDecay: 0.1, nesterov: true, firstStep: true)
        // Element 0: g = 0.6, v = 0.6, theta = 1 - 0.1 * (0.6 + 0.9 * 0.6) = 0.886.
        // Element 1: g = 0.25 - 0.2 = 0.05, v = 0.05, theta = -2 - 0.1 * (0.05 + 0.045) = -2.0095.
        assertClose(s1.velocity, shape: [2], [0.6, 0.05], tol: 1e-15, "sgd v1")
        assertClose(s1.theta, shape: [2], [0.886, -2.0095], tol: 1e-15, "sgd theta1")
        let s2 = Reference.sgdStep(
            theta: s1.theta, grad: grad, velocity: s1.velocity, lr: 0.1, momentum: 0.9,
            dampening: 0, weightDecay: 0.1, nesterov: true, firstStep: false)
        // Element 0: g = 0.5 + 0.0886 = 0.5886, v = 0.54 + 0.5886 = 1.1286,
        //   theta = 0.886 - 0.1 * (0.5886 + 0.9 * 1.1286) = 0.725566.
        // Element 1: g = 0.25 - 0.20095 = 0.04905, v = 0.045 + 0.04905 = 0.09405,
        //   theta = -2.0095 - 0.1 * (0.04905 + 0.084645) = -2.0228695.
        assertClose(s2.velocity, shape: [2], [1.1286, 0.09405], tol: 1e-14, "sgd v2")
        assertClose(s2.theta, shape: [2], [0.725566, -2.0228695], tol: 1e-14, "sgd theta2")
    }

    func testSGDPlainMomentumWithDampening() {
        // Not Nesterov, dampening 0.5: the first step's velocity is the undamped gradient.
        let s1 = Reference.sgdStep(
            theta: RefTensor(shape: [1], data: [1]), grad: RefTensor(shape: [1], data: [0.5]),
            velocity: RefTensor(shape: [1], data: [9]), lr: 0.1, momentum: 0.9,
            dampening: 0.5, weightDecay: 0.1, nesterov: false, firstStep: true)
        assertClose(s1.velocity, shape: [1], [0.6], tol: 1e-15, "v1")
        assertClose(s1.theta, shape: [1], [0.94], tol: 1e-15, "theta1")
        // g = 0.5 + 0.094 = 0.594, v = 0.9 * 0.6 + 0.5 * 0.594 = 0.837, theta = 0.94 - 0.0837 = 0.8563.
        let s2 = Reference.sgdStep(
            theta: s1.theta, grad: RefTensor(shape: [1], data: [0.5]), velocity: s1.velocity,
            lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1, nesterov: false,
            firstStep: false)
        assertClose(s2.velocity, shape: [1], [0.837], tol: 1e-15, "v2")
        assertClose(s2.theta, shape: [1], [0.8563], tol: 1e-15, "theta2")
    }
}
