import Foundation
import ResNeXtCore
import ResNeXtData
import ResNeXtTransforms
import XCTest

final class MNISTTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "mnist-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value)
        ]
    }

    private static func pixels(_ seed: Int, size: Int = 784) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: seed * 13 + $0 * 5) }
    }

    private static func imageFile(
        count: Int, rows: Int = 28, columns: Int = 28, seedBase: Int = 0,
        magic: UInt32 = 0x803
    ) -> [UInt8] {
        var bytes = bigEndian(magic) + bigEndian(UInt32(count)) + bigEndian(UInt32(rows)) + bigEndian(UInt32(columns))
        for i in 0..<count { bytes += pixels(seedBase + i, size: rows * columns) }
        return bytes
    }

    private static func labelFile(_ labels: [UInt8], magic: UInt32 = 0x801) -> [UInt8] {
        bigEndian(magic) + bigEndian(UInt32(labels.count)) + labels
    }

    private func write(_ bytes: [UInt8], _ name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name))
    }

    private func writeStandardFiles() throws {
        try write(Self.imageFile(count: 5), "train-images-idx3-ubyte")
        try write(Self.labelFile([3, 1, 4, 1, 5]), "train-labels-idx1-ubyte")
        try write(Self.imageFile(count: 2, seedBase: 50), "t10k-images-idx3-ubyte")
        try write(Self.labelFile([9, 0]), "t10k-labels-idx1-ubyte")
    }

    private func assertIOError<T>(
        _ body: @autoclosure () throws -> T, mentions fragments: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case ResNeXtError.io(let message) = error else {
                return XCTFail("expected ResNeXtError.io, got \(error)", file: file, line: line)
            }
            for fragment in fragments {
                XCTAssertTrue(message.contains(fragment), "'\(message)' should mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    func testReadsBothSplits() throws {
        try writeStandardFiles()
        let train = try MNISTDataset(directory: root, split: .train)
        XCTAssertEqual(train.count, 5)
        XCTAssertEqual(train.classNames, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
        XCTAssertEqual(train.labels, [3, 1, 4, 1, 5])
        for i in 0..<5 {
            let (image, label) = try train.sample(at: i)
            XCTAssertEqual(label, Int(train.labels[i]))
            XCTAssertEqual(image, Image(channels: 1, height: 28, width: 28, pixels: Self.pixels(i).map(Float.init)))
        }
        let test = try MNISTDataset(directory: root, split: .test)
        XCTAssertEqual(test.count, 2)
        XCTAssertEqual(try test.sample(at: 0).label, 9)
        XCTAssertEqual(try test.sample(at: 1).image.pixels, Self.pixels(51).map(Float.init))
        // Row-major: pixel (y=3, x=5) of test image 1 is byte 3·28+5.
        XCTAssertEqual(try test.sample(at: 1).image[0, 3, 5], Float(Self.pixels(51)[3 * 28 + 5]))
        XCTAssertThrowsError(try test.sample(at: 2))
    }

    func testDottedFileNamesAndOtherSizes() throws {
        try write(Self.imageFile(count: 3, rows: 2, columns: 4), "t10k-images.idx3-ubyte")
        try write(Self.labelFile([0, 9, 2]), "t10k-labels.idx1-ubyte")
        let test = try MNISTDataset(directory: root, split: .test)
        XCTAssertEqual(test.count, 3)
        XCTAssertEqual(test.rows, 2)
        XCTAssertEqual(test.columns, 4)
        let (image, label) = try test.sample(at: 2)
        XCTAssertEqual(label, 2)
        XCTAssertEqual(image, Image(channels: 1, height: 2, width: 4, pixels: Self.pixels(2, size: 8).map(Float.init)))
    }

    func testErrors() throws {
        try writeStandardFiles()
        let images = root + "/train-images-idx3-ubyte"
        let labels = root + "/train-labels-idx1-ubyte"

        try write(Self.imageFile(count: 5, magic: 0x801), "train-images-idx3-ubyte")
        assertIOError(try MNISTDataset(directory: root, split: .train), mentions: [images, "magic", "0x00000801"])
        try write(Self.imageFile(count: 5), "train-images-idx3-ubyte")

        try write(Self.labelFile([1, 2, 3, 4, 5], magic: 0x1f8b_0808), "train-labels-idx1-ubyte")
        assertIOError(try MNISTDataset(directory: root, split: .train), mentions: [labels, "magic"])

        try write(Array(Self.imageFile(count: 5).dropLast(10)), "train-images-idx3-ubyte")
        assertIOError(try MNISTDataset(directory: root, split: .train), mentions: [images, "truncated"])
        try write(Array(Self.imageFile(count: 5).prefix(9)), "train-images-idx3-ubyte")
        assertIOError(try MNISTDataset(directory: root, split: .train), mentions: [images, "truncated"])
        try write(Self.imageFile(count: 5), "train-images-idx3-ubyte")

        try write(Array(Self.labelFile([1, 2, 3, 4, 5]).dropLast()), "train-labels-idx1-ubyte")
        assertIOError(try MNISTDataset(directory: root, split: .train), mentions: [labels, "truncated"])

        try write(Self.labelFile([1, 2, 3, 4]), "train-labels-idx1-ubyte")
        assertIOError(try MNISTDataset(directory: root, split: .train), mentions: [labels, images, "4 labels", "5 images"])

        try write(Self.labelFile([1, 2, 10, 4, 5]), "train-labels-idx1-ubyte")
        assertIOError(try MNISTDataset(directory: root, split: .train), mentions: [labels, "label 10", "index 2"])

        try FileManager.default.removeItem(atPath: root + "/t10k-labels-idx1-ubyte")
        try write([0x1f, 0x8b], "t10k-labels-idx1-ubyte.gz")
        assertIOError(
            try MNISTDataset(directory: root, split: .test),
            mentions: [root + "/t10k-labels-idx1-ubyte", "missing", "gunzip"])
        assertIOError(try MNISTDataset(directory: root + "/absent", split: .test), mentions: ["missing"])
    }

    /// A 16-byte header claiming 0xFFFFFFFF × 0xFFFFFFFF images used to overflow (a trap) before any check.
    func testHugeHeaderDimensionsAreAnErrorNotACrash() throws {
        try writeStandardFiles()
        let images = root + "/train-images-idx3-ubyte"
        for (count, rows, columns) in [(UInt32(1), UInt32.max, UInt32.max), (UInt32.max, UInt32.max, 2), (UInt32.max, 65_536, 65_536)] {
            try write(
                Self.bigEndian(0x803) + Self.bigEndian(count) + Self.bigEndian(rows) + Self.bigEndian(columns), "train-images-idx3-ubyte")
            assertIOError(try MNISTDataset(directory: root, split: .train), mentions: [images])
        }
    }
}
