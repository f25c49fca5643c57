import ResNeXtCPU
import ResNeXtCUDA
import ResNeXtCore
import XCTest

/// The linear layer's cuBLAS calls, run through a naive column-major SGEMM with cuBLAS's semantics on
/// row-major buffers, agree with the CPU backend: the row-major/column-major mapping is right.
final class GemmTests: XCTestCase {
    /// `C = op(A)·op(B)` in column-major storage, exactly as cublasSgemm with α = 1, β = 0.
    func sgemm(_ call: GemmCall, _ a: [Float], _ b: [Float]) -> [Float] {
        var c = [Float](repeating: .nan, count: call.ldc * call.n)
        for j in 0..<call.n {
            for i in 0..<call.m {
                var sum = 0.0
                for l in 0..<call.k {
                    let av = call.transA == CuBLAS.opN ? a[i + l * call.lda] : a[l + i * call.lda]
                    let bv = call.transB == CuBLAS.opN ? b[l + j * call.ldb] : b[j + l * call.ldb]
                    sum += Double(av) * Double(bv)
                }
                c[i + j * call.ldc] = Float(sum)
            }
        }
        return c
    }

    func run(_ call: GemmCall, _ operands: [GemmCall.Operand: [Float]], file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        // Leading dimensions must cover the operands as stored (no out-of-bounds reads).
        let aRows = call.transA == CuBLAS.opN ? call.m : call.k, aCols = call.transA == CuBLAS.opN ? call.k : call.m
        let bRows = call.transB == CuBLAS.opN ? call.k : call.n, bCols = call.transB == CuBLAS.opN ? call.n : call.k
        XCTAssertGreaterThanOrEqual(call.lda, aRows, file: file, line: line)
        XCTAssertGreaterThanOrEqual(call.ldb, bRows, file: file, line: line)
        XCTAssertGreaterThanOrEqual(call.ldc, call.m, file: file, line: line)
        XCTAssertEqual(operands[call.a]!.count, call.lda * aCols, "A buffer size", file: file, line: line)
        XCTAssertEqual(operands[call.b]!.count, call.ldb * bCols, "B buffer size", file: file, line: line)
        return sgemm(call, operands[call.a]!, operands[call.b]!)
    }

    func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let scale = max(b.map { abs(Double($0)) }.max() ?? 0, 1e-12)
        return zip(a, b).map { abs(Double($0) - Double($1)) }.max().map { $0 / scale } ?? 0
    }

    func testLinearProductsMatchTheCPUBackend() throws {
        var rng = RandomGenerator(seed: 3)
        for (n, k, o) in [(5, 12, 7), (1, 64, 10), (9, 1, 3), (4, 6, 1)] {
            let x = (0..<(n * k)).map { _ in Float(rng.uniform(-1, 1)) }
            let w = (0..<(o * k)).map { _ in Float(rng.uniform(-1, 1)) }
            let dy = (0..<(n * o)).map { _ in Float(rng.uniform(-1, 1)) }
            let xt = try cpu.upload(x, shape: [n, k]), wt = try cpu.upload(w, shape: [o, k]), dyt = try cpu.upload(dy, shape: [n, o])

            let forward = LinearGemm.forward(batch: n, inFeatures: k, outFeatures: o)
            XCTAssertEqual(
                relativeError(run(forward, [.input: x, .weight: w]), try cpu.download(try cpu.linear(xt, weight: wt, bias: nil))), 0,
                accuracy: 1e-6)

            let data = LinearGemm.backwardData(batch: n, inFeatures: k, outFeatures: o)
            XCTAssertEqual(
                relativeError(run(data, [.outputGradient: dy, .weight: w]), try cpu.download(try cpu.linearBackwardData(dyt, weight: wt))),
                0, accuracy: 1e-6)

            let weights = LinearGemm.backwardWeights(batch: n, inFeatures: k, outFeatures: o)
            let dw = try cpu.linearBackwardWeights(dyt, input: xt, withBias: false).weight
            XCTAssertEqual(relativeError(run(weights, [.outputGradient: dy, .input: x]), try cpu.download(dw)), 0, accuracy: 1e-6)
        }
    }

    func testCallsAndEmptyProducts() {
        let f = LinearGemm.forward(batch: 32, inFeatures: 1024, outFeatures: 10)
        XCTAssertEqual(
            f, GemmCall(transA: CuBLAS.opT, transB: CuBLAS.opN, m: 10, n: 32, k: 1024, a: .weight, lda: 1024, b: .input, ldb: 1024, ldc: 10)
        )
        XCTAssertEqual(f.description, "sgemm(T, N, m=10, n=32, k=1024, A=weight lda=1024, B=input ldb=1024, ldc=10)")
        XCTAssertTrue(LinearGemm.forward(batch: 0, inFeatures: 4, outFeatures: 3).isEmpty)
        XCTAssertFalse(LinearGemm.backwardWeights(batch: 0, inFeatures: 4, outFeatures: 3).isEmpty, "k = 0: the result is zeros, not empty")
        XCTAssertGreaterThanOrEqual(
            LinearGemm.forward(batch: 2, inFeatures: 0, outFeatures: 3).lda, 1, "cuBLAS needs leading dimensions ≥ 1")
    }
}
