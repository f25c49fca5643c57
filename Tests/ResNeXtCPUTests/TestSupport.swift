import ResNeXtCPU
import ResNeXtCore
import ResNeXtReference
import XCTest

/// One backend for the whole test process (oneDNN's thread pool is process-wide anyway).
let cpu: CPUBackend = try! CPUBackend()

/// Random float32 values, reproducible per seed, in [-1, 1).
func randomValues(_ count: Int, _ rng: inout RandomGenerator) -> [Float] {
    (0..<count).map { _ in Float(rng.uniform(-1, 1)) }
}

/// A random tensor on the CPU backend and the same values as a float64 reference tensor.
func randomPair(_ shape: [Int], _ rng: inout RandomGenerator, offset: Float = 0) throws -> (Tensor, RefTensor) {
    let values = randomValues(shape.reduce(1, *), &rng).map { $0 + offset }
    return (try cpu.upload(values, shape: Shape(shape)), RefTensor(shape: shape, floats: values))
}

/// Largest absolute difference relative to the largest magnitude of the reference.
func relativeError(_ actual: [Float], _ expected: [Double]) -> Double {
    precondition(actual.count == expected.count, "sizes differ: \(actual.count) vs \(expected.count)")
    let scale = max(expected.map(abs).max() ?? 0, 1e-12)
    return zip(actual, expected).map { abs(Double($0) - $1) }.max().map { $0 / scale } ?? 0
}

/// Asserts the tensor's shape and values match the reference within `tolerance` relative error.
func assertClose(
    _ t: Tensor, _ r: RefTensor, tolerance: Double = 1e-4, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
) throws {
    XCTAssertEqual(t.shape.dims, r.shape, "\(what): shape", file: file, line: line)
    let error = relativeError(try cpu.download(t), r.data)
    XCTAssertLessThanOrEqual(error, tolerance, "\(what): max relative error \(error)", file: file, line: line)
}

/// Asserts `body` throws a ``ResNeXtError`` whose message contains `fragment`.
func assertThrows<T>(_ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let error as ResNeXtError {
        XCTAssertTrue(error.description.contains(fragment), "error '\(error)' does not mention '\(fragment)'", file: file, line: line)
    } catch {
        XCTFail("unexpected error type \(error)", file: file, line: line)
    }
}
