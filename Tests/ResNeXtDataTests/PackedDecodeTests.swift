import Foundation
import ResNeXtCore
import ResNeXtData
import ResNeXtTransforms
import XCTest

/// Decoding to bytes and the loader's byte-based transform path give exactly what the float path gives.
final class PackedDecodeTests: XCTestCase {
    func testPackedDecodeIsTheFloatDecodeTimes255() throws {
        for fixture in JPEGFixtures.all {
            let bytes = fixture.jpegBytes
            let packed = try XCTUnwrap(try ImageDecoder.decodePacked(bytes, source: fixture.name), fixture.name)
            XCTAssertEqual(packed.planar(), try ImageDecoder.decode(bytes, source: fixture.name), fixture.name)
            let reduced = try XCTUnwrap(try ImageDecoder.decodePacked(bytes, source: fixture.name, minShorterSide: 3))
            XCTAssertEqual(reduced.planar(), try ImageDecoder.decode(bytes, source: fixture.name, minShorterSide: 3), fixture.name)
        }
        // Other formats have no byte form here; decode() reads (or rejects) them.
        let ppm = ImageTestSupport.ppm(width: 2, height: 2) { x, y in (UInt8(x), UInt8(y), 0) }
        XCTAssertNil(try ImageDecoder.decodePacked(ppm, source: "p.ppm"))
        XCTAssertNil(try ImageDecoder.decodePacked([0x89, 0x50, 0x4E, 0x47], source: "x.png"))
        // A damaged JPEG is an error naming the file, as with decode().
        let jpeg = JPEGFixtures.rgb64x48.jpegBytes
        XCTAssertThrowsError(try ImageDecoder.decodePacked(Array(jpeg.prefix(jpeg.count / 2)), source: "half.jpg")) { error in
            XCTAssertTrue("\(error)".contains("half.jpg"), "\(error)")
        }
    }

    func testLoaderBatchesAreIdenticalWithTheByteTransform() throws {
        let root = try ImageTestSupport.makeTemporaryDirectory("packed-loader")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ppm = ImageTestSupport.ppm(width: 30, height: 20) { x, y in (UInt8(x * 8), UInt8(y * 12), 99) }
        for (index, fixture) in JPEGFixtures.all.enumerated() {
            try ImageTestSupport.write(fixture.jpegBytes, to: "\(root)/train/c\(index % 2)/\(fixture.name).jpg")
        }
        try ImageTestSupport.write(ppm, to: "\(root)/train/c0/picture.ppm")  // no byte form: the float path
        try ImageTestSupport.write(Array("garbage".utf8), to: "\(root)/train/c1/broken.jpg")
        let dataset = try ImageFolderDataset(root: root, split: "train")
        let train: (SampleTransform, PackedSampleTransform) = (
            { image, rng in [Transforms.imagenetTrain(image, rng: &rng)] },
            PackedSampleTransform(shape: [3, 224, 224]) { Transforms.imagenetTrain($0, rng: &$1, into: $2) }
        )
        let eval: (SampleTransform, PackedSampleTransform) = (
            { image, _ in [Transforms.imagenetEval(image)] },
            PackedSampleTransform(shape: [3, 224, 224]) { image, _, out in Transforms.imagenetEval(image, into: out) }
        )
        for ((floats, bytes), epoch) in [(train, 1), (train, 2), (eval, 1)] {
            let reference = try BatchLoader(dataset: dataset, batchSize: 3, shuffle: true, threads: 2, seed: 4, transform: floats)
            let fast = try BatchLoader(
                dataset: dataset, batchSize: 3, shuffle: true, threads: 2, seed: 4, transform: floats,
                packedTransform: bytes)
            let expected = Array(reference.batches(epoch: epoch)), actual = Array(fast.batches(epoch: epoch))
            XCTAssertEqual(expected.count, actual.count)
            for (e, a) in zip(expected, actual) {
                XCTAssertEqual(e.indices, a.indices)
                XCTAssertEqual(e.labels, a.labels)
                XCTAssertEqual(e.shape, a.shape)
                XCTAssertTrue(e.images.map(\.bitPattern) == a.images.map(\.bitPattern), "epoch \(epoch), batch \(e.indices)")
                XCTAssertEqual(e.skipped.map(\.index), a.skipped.map(\.index))
            }
            XCTAssertEqual(actual.flatMap(\.skipped).count, 1, "the broken file is skipped and counted")
        }
    }

    /// With a byte transform the batch holds one image of its shape per sample; a sample that only the float
    /// transform can read must give exactly that, or it is skipped with the reason.
    func testFloatSamplesMustMatchTheByteTransformShape() throws {
        let root = try ImageTestSupport.makeTemporaryDirectory("packed-shape")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try ImageTestSupport.write(JPEGFixtures.rgb64x48.jpegBytes, to: "\(root)/train/a/x.jpg")
        try ImageTestSupport.write(
            ImageTestSupport.ppm(width: 300, height: 260) { x, y in (UInt8(x % 256), UInt8(y % 256), 7) },
            to: "\(root)/train/a/y.ppm")
        let dataset = try ImageFolderDataset(root: root, split: "train")
        let tenCrop: SampleTransform = { image, _ in Transforms.imagenetTenCrop(image) }
        let bytes = PackedSampleTransform(shape: [3, 224, 224]) { image, _, out in Transforms.imagenetEval(image, into: out) }
        let loader = try BatchLoader(
            dataset: dataset, batchSize: 2, shuffle: false, threads: 1, seed: 0, transform: tenCrop,
            packedTransform: bytes)
        let batch = try XCTUnwrap(Array(loader.batches(epoch: 1)).first)
        XCTAssertEqual(batch.indices, [0])
        XCTAssertEqual(batch.shape, [1, 3, 224, 224])
        XCTAssertEqual(batch.skipped.map(\.index), [1])
        XCTAssertTrue(
            batch.skipped.first?.reason.contains("transformed to 10 image(s) of [3, 224, 224], expected one of [3, 224, 224]") == true,
            "\(batch.skipped)")
    }
}
