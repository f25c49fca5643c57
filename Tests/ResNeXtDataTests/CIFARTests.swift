import Foundation
import ResNeXtCore
import ResNeXtData
import ResNeXtTransforms
import XCTest

final class CIFARTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "cifar-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    // MARK: - Fixtures

    /// Deterministic pixels of record `seed`: byte i = (seed * 31 + i * 7) & 0xff.
    private static func pixels(_ seed: Int) -> [UInt8] {
        (0..<3072).map { UInt8(truncatingIfNeeded: seed * 31 + $0 * 7) }
    }

    private func write(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    private func write(_ text: String, _ path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    private static let cifar10Names = [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck"
    ]

    /// A fake `cifar-10-batches-bin/` with 5 train batches of 2 records and a test batch of 3.
    /// Train record r (0..<10) has label (r * 3) % 10 and pixels(r); test record r has label 9 - r, pixels(100 + r).
    @discardableResult
    private func makeCIFAR10(in parent: String) throws -> String {
        let folder = parent + "/cifar-10-batches-bin"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for batch in 1...5 {
            var bytes: [UInt8] = []
            for j in 0..<2 {
                let r = (batch - 1) * 2 + j
                bytes.append(UInt8((r * 3) % 10))
                bytes += Self.pixels(r)
            }
            try write(bytes, folder + "/data_batch_\(batch).bin")
        }
        var test: [UInt8] = []
        for r in 0..<3 {
            test.append(UInt8(9 - r))
            test += Self.pixels(100 + r)
        }
        try write(test, folder + "/test_batch.bin")
        // The official file ends with blank lines.
        try write(Self.cifar10Names.joined(separator: "\n") + "\n\n", folder + "/batches.meta.txt")
        return folder
    }

    private static let cifar100Names = (0..<100).map { "class\($0)" }

    /// A fake `cifar-100-binary/`: train has 3 records (coarse 19 - r, fine [5, 99, 0][r]), test has 2.
    @discardableResult
    private func makeCIFAR100(in parent: String) throws -> String {
        let folder = parent + "/cifar-100-binary"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var train: [UInt8] = []
        for (r, fine) in [5, 99, 0].enumerated() {
            train += [UInt8(19 - r), UInt8(fine)]
            train += Self.pixels(200 + r)
        }
        try write(train, folder + "/train.bin")
        var test: [UInt8] = []
        for (r, fine) in [42, 7].enumerated() {
            test += [UInt8(3), UInt8(fine)]
            test += Self.pixels(300 + r)
        }
        try write(test, folder + "/test.bin")
        try write(Self.cifar100Names.joined(separator: "\n") + "\n", folder + "/fine_label_names.txt")
        try write("coarse\n", folder + "/coarse_label_names.txt")
        return folder
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

    // MARK: - CIFAR-10

    func testCIFAR10TrainReadsAllBatchesInOrder() throws {
        try makeCIFAR10(in: root)
        let data = try CIFARDataset(directory: root, variant: .cifar10, split: .train)
        XCTAssertEqual(data.count, 10)
        XCTAssertEqual(data.classNames, Self.cifar10Names)
        for r in 0..<10 {
            let (image, label) = try data.sample(at: r)
            XCTAssertEqual(label, (r * 3) % 10)
            XCTAssertEqual(image.channels, 3)
            XCTAssertEqual(image.height, 32)
            XCTAssertEqual(image.width, 32)
            XCTAssertEqual(image.pixels, Self.pixels(r).map(Float.init), "record \(r)")
        }
    }

    func testCIFAR10TestSplitAndFolderItself() throws {
        let folder = try makeCIFAR10(in: root)
        for directory in [root, folder, folder + "/"] {
            let data = try CIFARDataset(directory: directory, variant: .cifar10, split: .test)
            XCTAssertEqual(data.count, 3)
            XCTAssertEqual(data.labels, [9, 8, 7])
            XCTAssertEqual(try data.sample(at: 2).image.pixels, Self.pixels(102).map(Float.init))
        }
    }

    func testChannelPlaneOrder() throws {
        // One record: a pure red pixel at (y=1, x=2), a green one at (0, 31), a blue one at (31, 0).
        var pixels = [UInt8](repeating: 0, count: 3072)
        pixels[0 * 1024 + 1 * 32 + 2] = 255
        pixels[1 * 1024 + 0 * 32 + 31] = 200
        pixels[2 * 1024 + 31 * 32 + 0] = 100
        let folder = root + "/cifar-10-batches-bin"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try write([4] + pixels, folder + "/test_batch.bin")
        try write(Self.cifar10Names.joined(separator: "\n"), folder + "/batches.meta.txt")

        let (image, label) = try CIFARDataset(directory: root, variant: .cifar10, split: .test).sample(at: 0)
        XCTAssertEqual(label, 4)
        XCTAssertEqual(image[0, 1, 2], 255)
        XCTAssertEqual(image[1, 1, 2], 0)
        XCTAssertEqual(image[2, 1, 2], 0)
        XCTAssertEqual(image[1, 0, 31], 200)
        XCTAssertEqual(image[2, 31, 0], 100)
        XCTAssertEqual(image.pixels.reduce(0, +), 555)
    }

    func testCIFAR10Errors() throws {
        let folder = try makeCIFAR10(in: root)

        // Truncated: one byte short of two records.
        let batch3 = folder + "/data_batch_3.bin"
        let good = try Data(contentsOf: URL(fileURLWithPath: batch3))
        try good.dropLast().write(to: URL(fileURLWithPath: batch3))
        assertIOError(
            try CIFARDataset(directory: root, variant: .cifar10, split: .train),
            mentions: [batch3, "6145", "multiple of the 3073-byte"])

        // Empty.
        try Data().write(to: URL(fileURLWithPath: batch3))
        assertIOError(try CIFARDataset(directory: root, variant: .cifar10, split: .train), mentions: [batch3, "empty"])
        try good.write(to: URL(fileURLWithPath: batch3))

        // Label 10 in the second test record.
        let testBatch = folder + "/test_batch.bin"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: testBatch)))
        bytes[3073] = 10
        try write(bytes, testBatch)
        assertIOError(
            try CIFARDataset(directory: root, variant: .cifar10, split: .test),
            mentions: [testBatch, "record 1", "label 10"])

        // Missing batch.
        try FileManager.default.removeItem(atPath: folder + "/data_batch_5.bin")
        assertIOError(
            try CIFARDataset(directory: root, variant: .cifar10, split: .train),
            mentions: [folder + "/data_batch_5.bin", "missing"])

        // Wrong class-name count, then a missing class-name file.
        try write("a\nb\n", folder + "/batches.meta.txt")
        assertIOError(
            try CIFARDataset(directory: root, variant: .cifar10, split: .train),
            mentions: [folder + "/batches.meta.txt", "expected 10 class names, found 2"])
        try FileManager.default.removeItem(atPath: folder + "/batches.meta.txt")
        assertIOError(
            try CIFARDataset(directory: root, variant: .cifar10, split: .train),
            mentions: [folder + "/batches.meta.txt", "missing"])
    }

    func testMissingFolder() {
        assertIOError(
            try CIFARDataset(directory: root, variant: .cifar10, split: .train),
            mentions: [root + "/cifar-10-batches-bin", "missing"])
        assertIOError(
            try CIFARDataset(directory: root + "/nope", variant: .cifar100, split: .test),
            mentions: [root + "/nope", "no such directory"])
    }

    // MARK: - CIFAR-100

    func testCIFAR100UsesFineLabels() throws {
        try makeCIFAR100(in: root)
        let train = try CIFARDataset(directory: root, variant: .cifar100, split: .train)
        XCTAssertEqual(train.count, 3)
        XCTAssertEqual(train.classNames, Self.cifar100Names)
        XCTAssertEqual(train.labels, [5, 99, 0])
        for r in 0..<3 {
            let (image, _) = try train.sample(at: r)
            XCTAssertEqual(image.pixels, Self.pixels(200 + r).map(Float.init))
        }
        let test = try CIFARDataset(directory: root + "/cifar-100-binary", variant: .cifar100, split: .test)
        XCTAssertEqual(test.count, 2)
        XCTAssertEqual(try test.sample(at: 0).label, 42)
        XCTAssertEqual(try test.sample(at: 1).label, 7)
        XCTAssertEqual(try test.sample(at: 1).image.pixels, Self.pixels(301).map(Float.init))
    }

    func testCIFAR100Errors() throws {
        let folder = try makeCIFAR100(in: root)
        let trainPath = folder + "/train.bin"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: trainPath)))
        try write(Array(bytes.prefix(3074 + 3073)), trainPath)
        assertIOError(
            try CIFARDataset(directory: root, variant: .cifar100, split: .train),
            mentions: [trainPath, "3074-byte"])
        bytes[2 * 3074 + 1] = 100
        try write(bytes, trainPath)
        assertIOError(
            try CIFARDataset(directory: root, variant: .cifar100, split: .train),
            mentions: [trainPath, "record 2", "label 100"])
        // The CIFAR-10 reader does not find a CIFAR-100 release.
        assertIOError(
            try CIFARDataset(directory: root, variant: .cifar10, split: .test),
            mentions: ["cifar-10-batches-bin"])
    }

    // MARK: - In memory

    func testInMemoryAndIndexErrors() throws {
        let data = CIFARDataset(images: Self.pixels(1) + Self.pixels(2), labels: [1, 0], classNames: ["a", "b"])
        XCTAssertEqual(data.count, 2)
        XCTAssertEqual(data.classNames, ["a", "b"])
        let (image, label) = try data.sample(at: 1)
        XCTAssertEqual(label, 0)
        XCTAssertEqual(image, Image(channels: 3, height: 32, width: 32, pixels: Self.pixels(2).map(Float.init)))
        for bad in [-1, 2] {
            XCTAssertThrowsError(try data.sample(at: bad)) { error in
                guard case ResNeXtError.invalidArgument = error else { return XCTFail("\(error)") }
            }
        }
    }
}
