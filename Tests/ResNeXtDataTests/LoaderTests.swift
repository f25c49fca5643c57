import ResNeXtCore
import ResNeXtData
import ResNeXtTransforms
import XCTest

/// Images whose pixels encode their index; index 3 is unreadable.
struct IndexedDataset: Dataset {
    let count: Int
    var classNames: [String] { ["even", "odd"] }
    func sample(at index: Int) throws -> (image: Image, label: Int) {
        if index == 3 { throw ResNeXtError.io("sample-3.jpg: corrupt JPEG data") }
        return (Image(channels: 1, height: 2, width: 2, value: Float(index)), index % 2)
    }
}

final class LoaderTests: XCTestCase {
    let jitter: SampleTransform = { image, rng in
        var out = image
        out.pixels = out.pixels.map { $0 + Float(rng.uniform()) }
        return [out]
    }

    func testBatchesAreDeterministicForAnyThreadCountAndSkipCorruptSamples() throws {
        func epoch(_ threads: Int, _ e: Int) throws -> [Batch] {
            Array(
                try BatchLoader(
                    dataset: IndexedDataset(count: 23), batchSize: 5, shuffle: true, threads: threads, seed: 42,
                    transform: jitter
                ).batches(epoch: e))
        }
        let one = try epoch(1, 1), four = try epoch(4, 1)
        XCTAssertEqual(one.count, 5)  // ceil(23 / 5), the last batch partial
        XCTAssertEqual(one.map(\.indices), four.map(\.indices))
        XCTAssertEqual(one.map(\.images), four.map(\.images))
        XCTAssertEqual(one.map(\.labels), four.map(\.labels))
        // Every sample once, except the corrupt one, which is reported.
        XCTAssertEqual(one.flatMap(\.indices).sorted(), (0..<23).filter { $0 != 3 })
        let skipped = one.flatMap(\.skipped)
        XCTAssertEqual(skipped.map(\.index), [3])
        XCTAssertTrue(skipped[0].reason.contains("sample-3.jpg: corrupt JPEG data"))
        // Another epoch: another order.
        XCTAssertNotEqual(one.flatMap(\.indices), try epoch(2, 2).flatMap(\.indices))
        // Labels and pixels stay paired: pixel value − jitter ∈ [index, index + 1).
        for batch in one {
            for (i, index) in batch.indices.enumerated() {
                XCTAssertEqual(Int(batch.labels[i]), index % 2)
                XCTAssertEqual(Int(batch.images[i * 4]), index)
            }
            XCTAssertEqual(batch.shape, [batch.indices.count, 1, 2, 2])
        }
    }

    /// Data parallelism: the ranks' slices of every batch together are exactly the single-process batch
    /// (same samples, same augmentation draws), split as evenly as possible; every rank gets every batch.
    func testRankSlicesMakeUpTheSingleProcessBatches() throws {
        func loader(rank: Int, ranks: Int) throws -> [Batch] {
            Array(
                try BatchLoader(
                    dataset: IndexedDataset(count: 23), batchSize: 5, shuffle: true, threads: 2, seed: 42, transform: jitter,
                    shard: (rank, ranks)
                ).batches(epoch: 3, startingAt: 1))
        }
        let whole = try loader(rank: 0, ranks: 1)
        let slices = try (0..<3).map { try loader(rank: $0, ranks: 3) }
        XCTAssertEqual(slices.map(\.count), [4, 4, 4])
        for (b, batch) in whole.enumerated() {
            XCTAssertEqual(slices.flatMap { $0[b].indices }, batch.indices)
            XCTAssertEqual(slices.flatMap { $0[b].images }, batch.images)
            XCTAssertEqual(slices.flatMap { $0[b].labels }, batch.labels)
        }
        // The last batch holds 3 samples (one of them corrupt): one per rank, before the skip.
        XCTAssertEqual(slices.map { $0[3].indices.count + $0[3].skipped.count }, [1, 1, 1])
        XCTAssertThrowsError(
            try BatchLoader(
                dataset: IndexedDataset(count: 3), batchSize: 2, shuffle: false, threads: 1, seed: 0, transform: jitter, shard: (2, 2)))
    }

    func testUnshuffledOrderAndBadArguments() throws {
        let loader = try BatchLoader(
            dataset: IndexedDataset(count: 7), batchSize: 3, shuffle: false, threads: 2, seed: 0,
            transform: { image, _ in [image, image] })
        let batches = Array(loader.batches(epoch: 1))
        XCTAssertEqual(batches.map(\.indices), [[0, 1, 2], [4, 5], [6]])
        XCTAssertEqual(batches[0].cropsPerSample, 2)
        XCTAssertEqual(batches[0].shape, [6, 1, 2, 2])
        XCTAssertThrowsError(
            try BatchLoader(dataset: IndexedDataset(count: 7), batchSize: 0, shuffle: false, threads: 1, seed: 0, transform: jitter))
        XCTAssertThrowsError(
            try BatchLoader(dataset: IndexedDataset(count: 0), batchSize: 2, shuffle: false, threads: 1, seed: 0, transform: jitter))
    }
}
