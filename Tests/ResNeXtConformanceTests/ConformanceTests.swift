import ResNeXtCPU
import ResNeXtConformance
import ResNeXtCore
import ResNeXtReference
import XCTest

/// One oneDNN backend for the process.
let cpu: CPUBackend = try! CPUBackend()

/// The first link of the oracle chain: the oneDNN backend against the float64 reference backend, through
/// the same conformance suite that `resnext selftest --device cuda` runs on a GPU.
final class ConformanceTests: XCTestCase {
    func testCPUBackendConformsToTheFloat64Reference() throws {
        var lines = [String]()
        let suite = ConformanceSuite(backend: cpu, reference: ReferenceBackend(), tolerance: 1e-4, seed: 21, report: { lines.append($0) })
        suite.runAll(trainingSteps: 60, learningRate: 0.02, batch: 32)
        XCTAssertEqual(suite.failed, 0, lines.joined(separator: "\n"))
        XCTAssertGreaterThanOrEqual(suite.passed, 90, lines.joined(separator: "\n"))
        let step = try XCTUnwrap(suite.results.first { $0.operation == "training step" })
        XCTAssertLessThan(try XCTUnwrap(step.error), 1e-4, "a whole training step's gradients agree with float64:\n\(step.line)")
        XCTAssertTrue(suite.results.contains { $0.operation == "training loss falls" && $0.passed })
    }

    /// The suite fails what is wrong: a backend whose ReLU leaks negative values is caught, by name.
    func testTheSuiteCatchesAWrongOperation() throws {
        var lines = [String]()
        let suite = ConformanceSuite(
            backend: LeakyReLUBackend(), reference: ReferenceBackend(), tolerance: 1e-4, seed: 4,
            report: { lines.append($0) })
        suite.runOperationChecks()
        let failed = Set(suite.results.filter { !$0.passed }.map(\.operation))
        XCTAssertTrue(failed.contains("relu"), lines.joined(separator: "\n"))
        XCTAssertFalse(failed.contains("convolution forward"), lines.joined(separator: "\n"))
    }

    /// Convolutions and the linear layer can have their own tolerance (TF32 on a GPU): the oneDNN backend's
    /// float32 rounding fails a tolerance of 1e-10 everywhere except where a looser one is given.
    func testConvolutionAndLinearTolerances() throws {
        let suite = ConformanceSuite(
            backend: cpu, reference: ReferenceBackend(), tolerance: 1e-10, convolutionTolerance: 1e-4, seed: 8, report: { _ in })
        suite.runOperationChecks()
        let passed = { (op: String) in suite.results.filter { $0.operation == op }.allSatisfy(\.passed) }
        for op in ["convolution forward", "convolution backward data", "convolution backward weight"] { XCTAssertTrue(passed(op), op) }
        XCTAssertFalse(passed("linear"))
        XCTAssertFalse(passed("batch norm training"))
        let linear = ConformanceSuite(
            backend: cpu, reference: ReferenceBackend(), tolerance: 1e-10, linearTolerance: 1e-4, seed: 8, report: { _ in })
        linear.runOperationChecks()
        let linearResults = linear.results.filter { $0.operation.hasPrefix("linear") }
        XCTAssertEqual(linearResults.count, 12)
        XCTAssertTrue(linearResults.allSatisfy(\.passed), linearResults.map(\.line).joined(separator: "\n"))
    }

    func testErrorMeasures() {
        XCTAssertEqual(ConformanceSuite.relativeError([1, 2], [1, 2.5]), 0.2, accuracy: 1e-12)
        XCTAssertEqual(ConformanceSuite.relativeError([0.5, 0], [0, 0]), 0.5, "absolute when the reference is zero")
        XCTAssertEqual(ConformanceSuite.relativeError([.nan], [1]), .infinity)
        XCTAssertEqual(ConformanceSuite.relativeError([1], [1, 2]), .infinity)
        XCTAssertEqual(ConformanceSuite.relativeNormError([3, 4], [3, 5]), 1 / 34.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(ConformanceSuite.relativeNormError([1, .nan], [1, 2]), .infinity)
    }

    func testReferenceBackendRejectsBadShapesWithErrors() throws {
        let r = ReferenceBackend()
        let x = try r.zeros([2, 3, 5, 5]), w = try r.zeros([4, 2, 3, 3])
        XCTAssertThrowsError(try r.convolution2D(x, weight: w, bias: nil, Convolution2DParameters(padding: 1)))
        XCTAssertThrowsError(try r.add(x, try r.zeros([2, 3, 5, 4])))
        XCTAssertThrowsError(try r.softmaxCrossEntropy(try r.zeros([2, 3]), labels: [0, 3]))
        XCTAssertThrowsError(try r.download(try cpu.zeros([2])))
    }
}

/// The CPU backend with a wrong ReLU (negative inputs scaled by 0.01 instead of zeroed).
final class LeakyReLUBackend: Backend, @unchecked Sendable {
    let base = cpu
    var device: Device { base.device }
    var name: String { "leaky" }
    var liveAllocations: (count: Int, bytes: Int) { base.liveAllocations }
    func upload(_ values: [Float], shape: Shape) throws -> Tensor { try base.upload(values, shape: shape) }
    func download(_ t: Tensor) throws -> [Float] { try base.download(t) }
    func zeros(_ shape: Shape) throws -> Tensor { try base.zeros(shape) }
    func optimizedLayout(_ t: Tensor) throws -> Tensor { try base.optimizedLayout(t) }
    func reshape(_ t: Tensor, to shape: Shape) throws -> Tensor { try base.reshape(t, to: shape) }
    func convolution2D(_ x: Tensor, weight: Tensor, bias: Tensor?, _ p: Convolution2DParameters) throws -> Tensor {
        try base.convolution2D(x, weight: weight, bias: bias, p)
    }
    func convolution2DBackwardData(_ dy: Tensor, weight: Tensor, inputShape: Shape, _ p: Convolution2DParameters) throws -> Tensor {
        try base.convolution2DBackwardData(dy, weight: weight, inputShape: inputShape, p)
    }
    func convolution2DBackwardWeights(
        _ dy: Tensor, input: Tensor, weightShape: Shape, withBias: Bool,
        _ p: Convolution2DParameters
    ) throws -> (weight: Tensor, bias: Tensor?) {
        try base.convolution2DBackwardWeights(dy, input: input, weightShape: weightShape, withBias: withBias, p)
    }
    func batchNormTraining(
        _ x: Tensor, scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor, momentum: Float,
        epsilon: Float
    ) throws -> (output: Tensor, statistics: BatchNormStatistics) {
        try base.batchNormTraining(
            x, scale: scale, shift: shift, runningMean: runningMean, runningVariance: runningVariance,
            momentum: momentum, epsilon: epsilon)
    }
    func batchNormInference(_ x: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) throws -> Tensor {
        try base.batchNormInference(x, scale: scale, shift: shift, mean: mean, variance: variance, epsilon: epsilon)
    }
    func batchNormBackward(
        _ dy: Tensor, input: Tensor, scale: Tensor, statistics: BatchNormStatistics,
        epsilon: Float
    ) throws -> (input: Tensor, scale: Tensor, shift: Tensor) {
        try base.batchNormBackward(dy, input: input, scale: scale, statistics: statistics, epsilon: epsilon)
    }
    func relu(_ x: Tensor) throws -> Tensor {
        try base.upload(try base.download(x).map { $0 > 0 ? $0 : 0.01 * $0 }, shape: x.shape)
    }
    func reluBackward(_ dy: Tensor, output: Tensor) throws -> Tensor { try base.reluBackward(dy, output: output) }
    func add(_ a: Tensor, _ b: Tensor) throws -> Tensor { try base.add(a, b) }
    func maxPool2D(_ x: Tensor, _ p: Pool2DParameters) throws -> MaxPoolResult { try base.maxPool2D(x, p) }
    func maxPool2DBackward(_ dy: Tensor, forward: MaxPoolResult, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor {
        try base.maxPool2DBackward(dy, forward: forward, inputShape: inputShape, p)
    }
    func averagePool2D(_ x: Tensor, _ p: Pool2DParameters) throws -> Tensor { try base.averagePool2D(x, p) }
    func averagePool2DBackward(_ dy: Tensor, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor {
        try base.averagePool2DBackward(dy, inputShape: inputShape, p)
    }
    func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor { try base.linear(x, weight: weight, bias: bias) }
    func linearBackwardData(_ dy: Tensor, weight: Tensor) throws -> Tensor { try base.linearBackwardData(dy, weight: weight) }
    func linearBackwardWeights(_ dy: Tensor, input: Tensor, withBias: Bool) throws -> (weight: Tensor, bias: Tensor?) {
        try base.linearBackwardWeights(dy, input: input, withBias: withBias)
    }
    func concatenateChannels(_ xs: [Tensor]) throws -> Tensor { try base.concatenateChannels(xs) }
    func splitChannels(_ x: Tensor, sizes: [Int]) throws -> [Tensor] { try base.splitChannels(x, sizes: sizes) }
    func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) throws -> CrossEntropyResult {
        try base.softmaxCrossEntropy(logits, labels: labels)
    }
    func topKCorrect(_ logits: Tensor, labels: [Int32], ks: [Int]) throws -> [Int] { try base.topKCorrect(logits, labels: labels, ks: ks) }
    func sgdStep(parameter: Tensor, gradient: Tensor, velocity: Tensor, learningRate: Float, _ h: SGDHyperparameters, isFirstStep: Bool)
        throws
    {
        try base.sgdStep(
            parameter: parameter, gradient: gradient, velocity: velocity, learningRate: learningRate, h, isFirstStep: isFirstStep)
    }
}
