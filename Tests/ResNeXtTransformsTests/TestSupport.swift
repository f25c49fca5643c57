import Foundation
import ResNeXtCore
import ResNeXtTransforms
import XCTest

/// Folder of the JSON fixtures written by scripts/make_transform_fixtures.py.
let fixtureDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func loadFixture<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let data = try Data(contentsOf: fixtureDirectory.appendingPathComponent(name))
    return try JSONDecoder().decode(T.self, from: data)
}

/// An image as stored in the fixtures.
struct FixtureImage: Decodable {
    let channels: Int
    let height: Int
    let width: Int
    let pixels: [Float]
    var image: Image { Image(channels: channels, height: height, width: width, pixels: pixels) }
}

/// An image whose pixel `i` (in CHW order) holds `offset + i`.
func arangeImage(channels: Int, height: Int, width: Int, offset: Float = 0) -> Image {
    Image(
        channels: channels, height: height, width: width,
        pixels: (0..<channels * height * width).map { offset + Float($0) })
}

/// A 1 × 1 × n image holding `values`.
func row(_ values: [Float]) -> Image { Image(channels: 1, height: 1, width: values.count, pixels: values) }

/// A random image with values uniform in [0, 1).
func randomImage(channels: Int, height: Int, width: Int, seed: UInt64) -> Image {
    var rng = RandomGenerator(seed: seed)
    return Image(
        channels: channels, height: height, width: width,
        pixels: (0..<channels * height * width).map { _ in Float(rng.uniform()) })
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func assertClose(
    _ actual: [Float], _ expected: [Float], tolerance: Float = 1e-5, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.count, expected.count, "count " + message, file: file, line: line)
    guard actual.count == expected.count else { return }
    let diff = maxAbsDifference(actual, expected)
    XCTAssertLessThanOrEqual(diff, tolerance, "max |diff| \(diff) " + message, file: file, line: line)
}

func assertShape(
    _ image: Image, _ channels: Int, _ height: Int, _ width: Int,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual([image.channels, image.height, image.width], [channels, height, width], file: file, line: line)
}
