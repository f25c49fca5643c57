import ResNeXtReference
import XCTest

/// Channel concatenation and splitting.
final class ConcatSplitTests: XCTestCase {

    func testConcatPlacesChannelsPerBatchItem() {
        // a: [2, 1, 1, 2], b: [2, 2, 1, 2]. Output batch item 0 is a[0] then b[0], and so on.
        let a = RefTensor(shape: [2, 1, 1, 2], data: [1, 2, 3, 4])
        let b = RefTensor(shape: [2, 2, 1, 2], data: [10, 20, 30, 40, 50, 60, 70, 80])
        let y = Reference.concatChannels([a, b])
        XCTAssertEqual(y.shape, [2, 3, 1, 2])
        XCTAssertEqual(y.data, [1, 2, 10, 20, 30, 40, 3, 4, 50, 60, 70, 80])
    }

    func testConcatThenSplitRoundTripsExactly() {
        var rng = SplitMix64(seed: 100)
        let parts = [
            randomTensor([2, 3, 5, 7], &rng), randomTensor([2, 1, 5, 7], &rng),
            randomTensor([2, 4, 5, 7], &rng)
        ]
        let joined = Reference.concatChannels(parts)
        XCTAssertEqual(joined.shape, [2, 8, 5, 7])
        // Spot-check the layout: element (n, c, h, w) of the joined tensor.
        let plane = 35
        for n in 0..<2 {
            // (part, channel within part); the parts start at joined channels 0, 3 and 4.
            for (part, pc) in [(0, 0), (0, 2), (1, 0), (2, 0), (2, 3)] {
                let offsets = [0, 3, 4]
                let jc = offsets[part] + pc
                for i in [0, 17, 34] {
                    XCTAssertEqual(
                        joined.data[(n * 8 + jc) * plane + i],
                        parts[part].data[(n * parts[part].shape[1] + pc) * plane + i],
                        "joined n \(n) c \(jc) i \(i)")
                }
            }
        }
        let back = Reference.splitChannels(joined, sizes: [3, 1, 4])
        XCTAssertEqual(back.count, 3)
        XCTAssertEqual(back, parts)  // exact: shapes and every element
    }

    func testSplitThenConcatRoundTripsExactlyRank2AndEmptyPiece() {
        var rng = SplitMix64(seed: 101)
        let x = randomTensor([3, 6], &rng)
        let pieces = Reference.splitChannels(x, sizes: [2, 0, 4])
        XCTAssertEqual(pieces.map(\.shape), [[3, 2], [3, 0], [3, 4]])
        XCTAssertEqual(pieces[0].data, [x.data[0], x.data[1], x.data[6], x.data[7], x.data[12], x.data[13]])
        XCTAssertEqual(Reference.concatChannels(pieces), x)
    }
}
