import Foundation
import ResNeXtCore
import XCTest

final class RandomGeneratorTests: XCTestCase {
    /// Pins xoshiro256** seeded through SplitMix64: checkpoints store the state, so the sequence must never change.
    func testKnownSequence() {
        var rng = RandomGenerator(seed: 42)
        XCTAssertEqual(rng.state, [0xBDD7_3226_2FEB_6E95, 0x28EF_E333_B266_F103, 0x4752_6757_130F_9F52, 0x581C_E1FF_0E4A_E394])
        XCTAssertEqual([rng.next(), rng.next(), rng.next()], [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1])
        var zero = RandomGenerator(seed: 0)
        XCTAssertEqual([zero.next(), zero.next()], [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A])
    }

    func testStateRoundTripAndInvalidStates() throws {
        var a = RandomGenerator(seed: 7)
        for _ in 0..<10 { _ = a.next() }
        var b = try RandomGenerator(state: a.state)
        XCTAssertEqual((0..<5).map { _ in a.uniform() }, (0..<5).map { _ in b.uniform() })

        let decoded = try JSONDecoder().decode(RandomGenerator.self, from: JSONEncoder().encode(a))
        XCTAssertEqual(decoded, a)

        assertThrows("four words, not all zero") { try RandomGenerator(state: [1, 2, 3]) }
        assertThrows("four words, not all zero") { try RandomGenerator(state: [0, 0, 0, 0]) }
    }

    func testDistributions() {
        var rng = RandomGenerator(seed: 3)
        let n = 20_000
        let uniforms = (0..<n).map { _ in rng.uniform() }
        XCTAssertTrue(uniforms.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(uniforms.reduce(0, +) / Double(n), 0.5, accuracy: 0.01)
        XCTAssertTrue((0..<1000).allSatisfy { _ in (-2.0..<3.0).contains(rng.uniform(-2, 3)) })

        let integers = (0..<3000).map { _ in rng.integer(in: 0...2) }
        XCTAssertEqual(Set(integers), [0, 1, 2])  // both ends inclusive

        let normals = (0..<n).map { _ in rng.normal(mean: 1, std: 2) }
        let mean = normals.reduce(0, +) / Double(n)
        let variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
        XCTAssertEqual(mean, 1, accuracy: 0.05)
        XCTAssertEqual(variance.squareRoot(), 2, accuracy: 0.05)
        XCTAssertTrue(normals.allSatisfy(\.isFinite))
    }
}
