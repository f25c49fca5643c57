import Foundation
import ResNeXtCore
import ResNeXtData
import ResNeXtTransforms
import XCTest

final class ImageFolderTests: XCTestCase {
    private var root = ""
    private var outside = ""
    private let fileManager = FileManager.default

    override func setUpWithError() throws {
        let base = try ImageTestSupport.makeTemporaryDirectory("imagefolder")
        root = base + "/data"
        outside = base + "/outside"
        let jpeg = JPEGFixtures.rgb8x6.jpegBytes
        let ppm = ImageTestSupport.ppm(width: 4, height: 2) { x, y in (UInt8(x * 60), UInt8(y * 200), 7) }
        let train = root + "/train"

        // Class "b": mixed-case extensions, a text file and a hidden file that are skipped.
        try ImageTestSupport.write(jpeg, to: train + "/b/x.JPG")
        try ImageTestSupport.write(jpeg, to: train + "/b/y.jpeg")
        try ImageTestSupport.write(Array("not an image".utf8), to: train + "/b/notes.txt")
        try ImageTestSupport.write(jpeg, to: train + "/b/._x.JPG")
        // Class "a": nested sub-folders count for their top-level class.
        try ImageTestSupport.write(ppm, to: train + "/a/img.ppm")
        try ImageTestSupport.write(jpeg, to: train + "/a/sub/deep.jpg")
        try ImageTestSupport.write(ppm, to: train + "/a/sub/deeper/z.Ppm")
        // Class "B": only symbolic links (to a file and to a folder outside the tree), plus loops and a broken link.
        try ImageTestSupport.write(jpeg, to: outside + "/real.jpg")
        try ImageTestSupport.write(jpeg, to: outside + "/linked/p.jpg")
        try ImageTestSupport.write(ppm, to: outside + "/linked/q.ppm")
        try fileManager.createDirectory(atPath: train + "/B", withIntermediateDirectories: true)
        try fileManager.createSymbolicLink(atPath: train + "/B/link.jpg", withDestinationPath: outside + "/real.jpg")
        try fileManager.createSymbolicLink(atPath: train + "/B/linkdir", withDestinationPath: outside + "/linked")
        try fileManager.createSymbolicLink(atPath: train + "/B/loop", withDestinationPath: "..")  // -> train/
        try fileManager.createSymbolicLink(atPath: train + "/B/self", withDestinationPath: ".")  // -> B itself
        try fileManager.createSymbolicLink(atPath: outside + "/linked/back", withDestinationPath: outside + "/linked")
        try fileManager.createSymbolicLink(atPath: train + "/B/broken.jpg", withDestinationPath: outside + "/nowhere.jpg")
        // Skipped at the top level: a hidden folder and a plain file.
        try ImageTestSupport.write(jpeg, to: train + "/.hidden/h.jpg")
        try ImageTestSupport.write(Array("readme".utf8), to: train + "/README.jpg")

        // val: a subset of train's classes.
        try ImageTestSupport.write(jpeg, to: root + "/val/b/v1.jpg")
        try ImageTestSupport.write(ppm, to: root + "/val/a/v2.ppm")
        try ImageTestSupport.write(jpeg, to: root + "/val/a/v3.jpg")
    }

    override func tearDownWithError() throws {
        if !root.isEmpty { try? fileManager.removeItem(atPath: (root as NSString).deletingLastPathComponent) }
    }

    private func relativePaths(_ dataset: ImageFolderDataset) -> [String] {
        (0..<dataset.count).map { dataset.relativePath(at: $0) }
    }

    func testClassesAreSortedByteWiseAndImagesFound() throws {
        let train = try ImageFolderDataset(root: root, split: "train")
        XCTAssertEqual(train.classNames, ["B", "a", "b"], "byte-wise order: upper case first; hidden folder skipped")
        XCTAssertEqual(
            relativePaths(train),
            [
                "B/link.jpg", "B/linkdir/p.jpg", "B/linkdir/q.ppm",
                "a/img.ppm", "a/sub/deep.jpg", "a/sub/deeper/z.Ppm",
                "b/x.JPG", "b/y.jpeg"
            ])
        XCTAssertEqual(train.labels, [0, 0, 0, 1, 1, 1, 2, 2])
        XCTAssertEqual(train.count, 8)
        XCTAssertEqual(train.directory, root + "/train")
        XCTAssertEqual(train.imagePaths[0], root + "/train/B/link.jpg")
        XCTAssertEqual(train.imagePaths[5], root + "/train/a/sub/deeper/z.Ppm")

        // A trailing slash on the root gives the same paths.
        let slashed = try ImageFolderDataset(root: root + "/", split: "train")
        XCTAssertEqual(slashed.imagePaths, train.imagePaths)
        XCTAssertEqual(relativePaths(slashed), relativePaths(train))
    }

    func testSamplesDecodeWithTheirLabels() throws {
        let train = try ImageFolderDataset(root: root, split: "train")
        for index in 0..<train.count {
            let (image, label) = try train.sample(at: index)
            XCTAssertEqual(label, train.labels[index])
            XCTAssertEqual(image.channels, 3)
            if train.imagePaths[index].lowercased().hasSuffix(".ppm") {
                XCTAssertEqual([image.width, image.height], [4, 2])
                XCTAssertEqual(image[0, 1, 3], 180 / 255)
                XCTAssertEqual(image[1, 1, 3], 200 / 255)
                XCTAssertEqual(image[2, 0, 0], 7 / 255)
            } else {
                XCTAssertEqual([image.width, image.height], [8, 6])
            }
        }
        XCTAssertThrowsError(try train.sample(at: train.count)) { error in
            guard case ResNeXtError.invalidArgument = error else { return XCTFail("\(error)") }
        }
    }

    func testCorruptImageThrowsNamingItsPath() throws {
        try ImageTestSupport.write(Array(JPEGFixtures.rgb8x6.jpegBytes.prefix(200)), to: root + "/train/b/zz-truncated.jpg")
        try ImageTestSupport.write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], to: root + "/train/b/zz-real.png")
        let train = try ImageFolderDataset(root: root, split: "train")
        XCTAssertEqual(train.count, 10)
        let truncated = try XCTUnwrap(train.imagePaths.firstIndex { $0.hasSuffix("zz-truncated.jpg") })
        ImageTestSupport.ioErrorMessage({ try train.sample(at: truncated) }, contains: [train.imagePaths[truncated]])
        let png = try XCTUnwrap(train.imagePaths.firstIndex { $0.hasSuffix("zz-real.png") })
        ImageTestSupport.ioErrorMessage({ try train.sample(at: png) }, contains: [train.imagePaths[png], "PNG"])
        XCTAssertNoThrow(try train.sample(at: 0))
    }

    func testValUsesTrainClassNames() throws {
        let train = try ImageFolderDataset(root: root, split: "train")
        let val = try ImageFolderDataset(root: root, split: "val", classNames: train.classNames)
        XCTAssertEqual(val.classNames, ["B", "a", "b"])
        XCTAssertEqual(relativePaths(val), ["a/v2.ppm", "a/v3.jpg", "b/v1.jpg"])
        XCTAssertEqual(val.labels, [1, 1, 2])

        // Without train's list, val's own folders would give other labels.
        let alone = try ImageFolderDataset(root: root, split: "val")
        XCTAssertEqual(alone.classNames, ["a", "b"])
        XCTAssertEqual(alone.labels, [0, 0, 1])

        // Labels follow the given order even when it is not sorted.
        let custom = try ImageFolderDataset(root: root, split: "val", classNames: ["b", "x", "a"])
        XCTAssertEqual(relativePaths(custom), ["b/v1.jpg", "a/v2.ppm", "a/v3.jpg"])
        XCTAssertEqual(custom.labels, [0, 2, 2])
    }

    func testUnknownValClassIsAnErrorNamingIt() throws {
        try ImageTestSupport.write(JPEGFixtures.rgb8x6.jpegBytes, to: root + "/val/n99999999/img.jpg")
        ImageTestSupport.ioErrorMessage(
            { try ImageFolderDataset(root: self.root, split: "val", classNames: ["B", "a", "b"]) },
            contains: ["n99999999", root + "/val"])
        XCTAssertThrowsError(try ImageFolderDataset(root: root, split: "val", classNames: ["a", "a", "b"]))
    }

    func testEmptyClassFolderIsAnErrorNamingIt() throws {
        try fileManager.createDirectory(atPath: root + "/train/empty-class/sub", withIntermediateDirectories: true)
        try ImageTestSupport.write(Array("x".utf8), to: root + "/train/empty-class/sub/notes.txt")
        ImageTestSupport.ioErrorMessage(
            { try ImageFolderDataset(root: self.root, split: "train") },
            contains: ["empty-class", "no images"])
    }

    func testMissingOrInvalidFoldersAreErrors() throws {
        ImageTestSupport.ioErrorMessage(
            { try ImageFolderDataset(root: self.root + "/nope", split: "train") },
            contains: [root + "/nope", "not found"])
        ImageTestSupport.ioErrorMessage(
            { try ImageFolderDataset(root: self.root, split: "test") },
            contains: [root + "/test", "not found"])
        try ImageTestSupport.write([1, 2, 3], to: root + "/afile")
        ImageTestSupport.ioErrorMessage(
            { try ImageFolderDataset(root: self.root, split: "afile") },
            contains: [root + "/afile", "not a directory"])
        ImageTestSupport.ioErrorMessage(
            { try ImageFolderDataset(root: self.root + "/afile", split: "train") },
            contains: [root + "/afile", "not a directory"])
        // A split with only hidden folders and files has no classes.
        try ImageTestSupport.write(JPEGFixtures.rgb8x6.jpegBytes, to: root + "/bare/.git/x.jpg")
        try ImageTestSupport.write(JPEGFixtures.rgb8x6.jpegBytes, to: root + "/bare/loose.jpg")
        ImageTestSupport.ioErrorMessage(
            { try ImageFolderDataset(root: self.root, split: "bare") },
            contains: [root + "/bare", "no class folders"])
        XCTAssertThrowsError(try ImageFolderDataset(root: root, split: ""))
    }

    func testReducedSizeDecodingOption() throws {
        try ImageTestSupport.write(JPEGFixtures.rgb64x48.jpegBytes, to: root + "/big/c/big.jpg")
        var dataset = try ImageFolderDataset(root: root, split: "big")
        XCTAssertEqual(try dataset.sample(at: 0).image.width, 64)
        dataset.minShorterSide = 20
        let reduced = try dataset.sample(at: 0).image
        XCTAssertEqual([reduced.width, reduced.height], [32, 24])
    }
}
