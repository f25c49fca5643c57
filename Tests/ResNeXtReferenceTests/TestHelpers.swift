import ResNeXtReference
import XCTest

/// A small deterministic generator (SplitMix64) so every test sees the same numbers on every run.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * unit() }

    /// Uniform integer in 0..<n.
    mutating func index(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }

    /// A uniformly shuffled copy of the array (Fisher-Yates).
    mutating func shuffled<T>(_ a: [T]) -> [T] {
        var a = a
        if a.count < 2 { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, index(i + 1))
        }
        return a
    }
}

/// A tensor of the given shape with elements uniform in [lo, hi).
func randomTensor(_ shape: [Int], _ rng: inout SplitMix64, _ lo: Double = -1, _ hi: Double = 1) -> RefTensor {
    let n = shape.reduce(1, *)
    var d = [Double](repeating: 0, count: n)
    for i in 0..<n { d[i] = rng.uniform(lo, hi) }
    return RefTensor(shape: shape, data: d)
}

/// A tensor whose elements are all distinct and pairwise at least `spacing` apart (a shuffled,
/// jittered ramp), so that max-pooling's argmax is stable under finite-difference perturbations.
func distinctTensor(_ shape: [Int], _ rng: inout SplitMix64, spacing: Double = 0.05) -> RefTensor {
    let n = shape.reduce(1, *)
    let ranks = rng.shuffled(Array(0..<n))
    var d = [Double](repeating: 0, count: n)
    for i in 0..<n {
        // Jitter by at most a fifth of the spacing, so neighbours stay >= 0.6 * spacing apart.
        d[i] = (Double(ranks[i]) - Double(n) / 2) * spacing + rng.uniform(-0.2, 0.2) * spacing
    }
    return RefTensor(shape: shape, data: d)
}

/// A tensor whose elements are at least `margin` away from zero, of random sign.
func awayFromZeroTensor(_ shape: [Int], _ rng: inout SplitMix64, margin: Double = 0.1) -> RefTensor {
    let n = shape.reduce(1, *)
    var d = [Double](repeating: 0, count: n)
    for i in 0..<n {
        let mag = rng.uniform(margin, 1)
        d[i] = rng.next() & 1 == 0 ? mag : -mag
    }
    return RefTensor(shape: shape, data: d)
}

/// `sum(a ⊙ b)`.
func dot(_ a: RefTensor, _ b: RefTensor) -> Double {
    precondition(a.shape == b.shape, "dot: shapes \(a.shape) and \(b.shape) differ")
    var s = 0.0
    for i in 0..<a.count { s += a.data[i] * b.data[i] }
    return s
}

func maxAbs(_ t: RefTensor) -> Double { t.data.reduce(0) { max($0, abs($1)) } }

/// Up to `limit` distinct indices into a tensor of `count` elements: all of them when small enough.
func sampleIndices(_ count: Int, limit: Int, _ rng: inout SplitMix64) -> [Int] {
    if count <= limit { return Array(0..<count) }
    return Array(rng.shuffled(Array(0..<count)).prefix(limit))
}

let fdStep = 1e-6
let fdRelativeTolerance = 1e-6

/// Compares an analytic gradient with central finite differences of the scalar `loss` with respect to
/// `point`, on up to `samples` coordinates. The tolerance is `fdRelativeTolerance * max|analytic|`.
///
/// Also requires the analytic gradient to be non-trivial (`max|analytic| > 1e-3`) and to have the
/// right shape, so a backward that returns zeros cannot pass.
func checkGradient(
    _ name: String, analytic: RefTensor, at point: RefTensor, samples: Int = 40,
    _ rng: inout SplitMix64, loss: (RefTensor) -> Double,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(analytic.shape, point.shape, "\(name): gradient shape", file: file, line: line)
    guard analytic.shape == point.shape else { return }
    let scale = maxAbs(analytic)
    XCTAssertGreaterThan(scale, 1e-3, "\(name): analytic gradient is (nearly) zero", file: file, line: line)
    let tol = fdRelativeTolerance * max(scale, 1e-3)
    var worst = 0.0
    var worstIndex = -1
    var worstPair = (0.0, 0.0)
    for i in sampleIndices(point.count, limit: samples, &rng) {
        var plus = point, minus = point
        plus.data[i] += fdStep
        minus.data[i] -= fdStep
        let fd = (loss(plus) - loss(minus)) / (2 * fdStep)
        let err = abs(fd - analytic.data[i])
        if err > worst {
            worst = err
            worstIndex = i
            worstPair = (analytic.data[i], fd)
        }
    }
    XCTAssertLessThanOrEqual(
        worst, tol,
        "\(name): index \(worstIndex) analytic \(worstPair.0) vs finite difference \(worstPair.1) (tol \(tol))",
        file: file, line: line)
}

/// Elementwise comparison with an absolute tolerance; also checks the shape.
func assertClose(
    _ actual: RefTensor, shape: [Int], _ expected: [Double], tol: Double = 1e-12, _ what: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, shape, "\(what): shape", file: file, line: line)
    XCTAssertEqual(actual.count, expected.count, "\(what): element count", file: file, line: line)
    guard actual.count == expected.count else { return }
    for i in 0..<expected.count {
        XCTAssertEqual(actual.data[i], expected[i], accuracy: tol, "\(what): element \(i)", file: file, line: line)
    }
}

/// `[0, 1, ..., n-1]` as doubles.
func arange(_ n: Int) -> [Double] { (0..<n).map(Double.init) }
