import ResNeXtCore

/// One reported check.
public struct ConformanceResult: Sendable {
    public let operation: String
    public let detail: String
    public let passed: Bool
    /// max |a − b| / max |b| of the worst pair (nil when the check threw).
    public let error: Double?
    /// The line printed for it.
    public let line: String
}

/// Backend conformance: every ``Backend`` operation, forward and backward, run on the backend under test
/// and on a trusted one with the same inputs, compared value by value; then a short training run through
/// ``TrainingStep``. The oracle chain is explicit: the CPU tests check the oneDNN backend against
/// ``ReferenceBackend`` (float64), `resnext selftest --device cuda` and the fake-GPU tests check the CUDA
/// backend against the CPU backend.
public final class ConformanceSuite {
    public let backend: any Backend
    public let reference: any Backend
    /// The largest max |a − b| / max |b| a check passes with; convolutions and the linear layer may have
    /// their own (TF32 tensor cores round their inputs to 10 mantissa bits).
    public let tolerance: Double
    public let convolutionTolerance: Double
    public let linearTolerance: Double
    /// Device allocations so far, for backends with a caching allocator (the training run checks that
    /// steps after warm-up allocate nothing).
    public let deviceAllocations: (() -> Int)?
    var rng: RandomGenerator
    let report: (String) -> Void
    public private(set) var results: [ConformanceResult] = []
    public var passed: Int { results.filter(\.passed).count }
    public var failed: Int { results.count - passed }

    /// `report` receives each line as it is decided (the CLI prints them; tests collect them).
    public init(
        backend: any Backend, reference: any Backend, tolerance: Double, convolutionTolerance: Double? = nil,
        linearTolerance: Double? = nil, seed: UInt64, deviceAllocations: (() -> Int)? = nil,
        report: @escaping (String) -> Void = { print($0) }
    ) {
        self.backend = backend
        self.reference = reference
        self.tolerance = tolerance
        self.convolutionTolerance = convolutionTolerance ?? tolerance
        self.linearTolerance = linearTolerance ?? tolerance
        self.rng = RandomGenerator(seed: seed)
        self.deviceAllocations = deviceAllocations
        self.report = report
    }

    /// Every operation check, one training step compared, then (with `steps` > 0) the training run.
    public func runAll(trainingSteps steps: Int = 60, learningRate: Float = 0.02, batch: Int = 32) {
        runOperationChecks()
        compareTrainingStep(learningRate: learningRate)
        if steps > 0 { runTraining(steps: steps, learningRate: learningRate, batch: batch) }
    }

    // MARK: Reporting

    /// max |a − b| / max |b| (absolute when b is all zeros); infinity for NaN or different sizes.
    public static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .infinity }
        var diff = 0.0, scale = 0.0
        for (x, y) in zip(a, b) {
            if x.isNaN != y.isNaN { return .infinity }
            diff = max(diff, abs(Double(x) - Double(y)))
            scale = max(scale, abs(Double(y)))
        }
        return scale > 0 ? diff / scale : diff
    }

    /// ‖a − b‖₂ / ‖b‖₂ (absolute when b is all zeros); infinity for NaN or different sizes. Whole-network
    /// gradients are compared this way: a ReLU whose input sits within rounding of zero may switch on one
    /// backend and not the other, which moves a few elements a lot and the whole vector very little.
    public static func relativeNormError(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .infinity }
        var diff = 0.0, norm = 0.0
        for (x, y) in zip(a, b) {
            if x.isNaN != y.isNaN { return .infinity }
            diff += (Double(x) - Double(y)) * (Double(x) - Double(y))
            norm += Double(y) * Double(y)
        }
        return norm > 0 ? (diff / norm).squareRoot() : diff.squareRoot()
    }

    /// Records a result and reports its line.
    func record(_ operation: String, _ detail: String, passed: Bool, error: Double?, _ text: String) {
        let line = "\(passed ? "PASS" : "FAIL")  \(NumberFormat.padded(operation, 28)) \(NumberFormat.padded(detail, 48)) \(text)"
        results.append(ConformanceResult(operation: operation, detail: detail, passed: passed, error: error, line: line))
        report(line)
    }

    /// One reported check: runs `body` (which returns named pairs of tested and reference values),
    /// PASS when every pair is within tolerance (or exactly equal when `exact`).
    func check(
        _ op: String, _ detail: String, exact: Bool = false, tolerance: Double? = nil, byNorm: Bool = false,
        _ body: () throws -> [(String, [Float], [Float])]
    ) {
        do {
            let pairs = try body()
            var worst = 0.0, worstName = ""
            for (name, a, b) in pairs {
                let e = byNorm ? Self.relativeNormError(a, b) : Self.relativeError(a, b)
                if a.count != b.count { report("       \(name): \(a.count) values vs \(b.count)") }
                if !(e <= worst) || worstName.isEmpty { worst = e; worstName = name }
            }
            let ok = exact ? worst == 0 : worst <= (tolerance ?? self.tolerance)
            let where_ = pairs.count > 1 ? " (\(worstName))" : ""
            record(
                op, detail, passed: ok, error: worst,
                "\(byNorm ? "rel norm err" : "max rel err") \(NumberFormat.scientific(worst))\(where_)")
        } catch {
            record(op, detail, passed: false, error: nil, "error: \(error)")
        }
    }

    // MARK: Inputs

    /// Uniform values in [low, high), never exactly zero.
    func values(_ count: Int, low: Double = -1, high: Double = 1) -> [Float] {
        (0..<count).map { _ in
            var v = Float(rng.uniform(low, high))
            while v == 0 { v = Float(rng.uniform(low, high)) }
            return v
        }
    }

    /// The same random values on both backends.
    func pair(_ dims: [Int], low: Double = -1, high: Double = 1) throws -> (Tensor, Tensor, [Float]) {
        let shape = Shape(dims)
        let v = values(shape.elementCount, low: low, high: high)
        return (try backend.upload(v, shape: shape), try reference.upload(v, shape: shape), v)
    }

    func both(_ a: Tensor, _ b: Tensor, _ name: String) throws -> (String, [Float], [Float]) {
        guard a.shape == b.shape else {
            throw ResNeXtError.shapeMismatch("\(name): shape \(a.shape) on the tested backend, \(b.shape) on the reference")
        }
        return (name, try backend.download(a), try reference.download(b))
    }
}
