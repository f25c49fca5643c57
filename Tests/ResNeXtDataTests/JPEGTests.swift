import Foundation
import ResNeXtCore
import ResNeXtData
import ResNeXtTransforms
import XCTest

// MARK: - Helpers shared by JPEGTests and ImageFolderTests (names kept distinctive: other test files share this module)

extension JPEGFixture {
    /// The JPEG file.
    var jpegBytes: [UInt8] {
        [UInt8](Data(base64Encoded: jpegBase64.filter { !$0.isWhitespace })!)
    }

    /// Pillow's decoded pixels, HWC bytes.
    var pillowRGB: [UInt8] {
        let hex = Array(rgbHex.utf8.filter { $0 > 0x20 })
        func nibble(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : c - UInt8(ascii: "a") + 10 }
        return stride(from: 0, to: hex.count, by: 2).map { nibble(hex[$0]) << 4 | nibble(hex[$0 + 1]) }
    }
}

enum ImageTestSupport {
    /// Creates a fresh directory under /tmp.
    static func makeTemporaryDirectory(_ label: String) throws -> String {
        let path = "/tmp/resnext-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A binary PPM (P6, maxval 255) of `width × height` with pixel (x, y) = (r, g, b) from `color`.
    static func ppm(width: Int, height: Int, color: (Int, Int) -> (UInt8, UInt8, UInt8)) -> [UInt8] {
        var bytes = Array("P6\n\(width) \(height)\n255\n".utf8)
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b) = color(x, y)
                bytes += [r, g, b]
            }
        }
        return bytes
    }

    /// The message of the `ResNeXtError.io` thrown by `body`, failing the test when something else happens.
    @discardableResult
    static func ioErrorMessage<T>(
        _ body: () throws -> T, contains phrases: [String] = [],
        file: StaticString = #filePath, line: UInt = #line
    ) -> String? {
        do {
            _ = try body()
            XCTFail("expected ResNeXtError.io containing \(phrases), got success", file: file, line: line)
        } catch ResNeXtError.io(let message) {
            for phrase in phrases {
                XCTAssertTrue(message.contains(phrase), "'\(message)' does not contain '\(phrase)'", file: file, line: line)
            }
            return message
        } catch {
            XCTFail("expected ResNeXtError.io containing \(phrases), got \(error)", file: file, line: line)
        }
        return nil
    }
}

/// Seeded SplitMix64 for the mutation test.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

final class JPEGTests: XCTestCase {
    // MARK: JPEG against Pillow

    /// Every fixture decodes to Pillow's pixels within ±2/255 (both use libjpeg-turbo's accurate IDCT).
    func testJPEGFixturesMatchPillow() throws {
        for fixture in JPEGFixtures.all {
            let reduced = fixture.decodedWidth != fixture.width
            let image = try ImageDecoder.decode(
                fixture.jpegBytes, source: fixture.name,
                minShorterSide: reduced ? min(fixture.decodedWidth, fixture.decodedHeight) : 0)
            XCTAssertEqual(image.channels, 3, fixture.name)
            XCTAssertEqual(image.width, fixture.decodedWidth, fixture.name)
            XCTAssertEqual(image.height, fixture.decodedHeight, fixture.name)
            let expected = fixture.pillowRGB
            XCTAssertEqual(expected.count, 3 * image.width * image.height)
            var maxDifference: Float = 0
            for y in 0..<image.height {
                for x in 0..<image.width {
                    for c in 0..<3 {
                        let pillow = Float(expected[(y * image.width + x) * 3 + c]) / 255
                        maxDifference = max(maxDifference, abs(image[c, y, x] - pillow))
                    }
                }
            }
            XCTAssertLessThanOrEqual(maxDifference, 2.0 / 255 + 1e-6, "\(fixture.name): max difference \(maxDifference * 255)/255")
            XCTAssertTrue(image.pixels.allSatisfy { $0 >= 0 && $0 <= 1 }, fixture.name)
        }
    }

    /// CHW with channel 0 = red: the fixture's left half is red-ish, its right half blue-ish.
    func testChannelPlanesAreRGBInCHWOrder() throws {
        let image = try ImageDecoder.decode(JPEGFixtures.rgb8x6.jpegBytes, source: "rgb8x6")
        for y in 0..<6 {
            for x in 0..<3 {
                XCTAssertGreaterThan(image[0, y, x], 0.7, "red at (\(x), \(y))")
                XCTAssertLessThan(image[2, y, x], 0.3, "blue at (\(x), \(y))")
            }
            for x in 5..<8 {
                XCTAssertLessThan(image[0, y, x], 0.3, "red at (\(x), \(y))")
                XCTAssertGreaterThan(image[2, y, x], 0.7, "blue at (\(x), \(y))")
            }
        }
        // The green gradient runs down the rows: plane 1, rows increasing.
        XCTAssertLessThan(image[1, 0, 0], image[1, 5, 0])
        // Layout check against the subscript's formula.
        XCTAssertEqual(image.pixels[(2 * image.height + 3) * image.width + 6], image[2, 3, 6])
    }

    func testGrayscaleJPEGGivesThreeEqualChannels() throws {
        let image = try ImageDecoder.decode(JPEGFixtures.gray10x7.jpegBytes, source: "gray")
        XCTAssertEqual([image.channels, image.height, image.width], [3, 7, 10])
        let plane = image.width * image.height
        for i in 0..<plane {
            XCTAssertEqual(image.pixels[i], image.pixels[plane + i])
            XCTAssertEqual(image.pixels[i], image.pixels[2 * plane + i])
        }
        XCTAssertLessThan(image[0, 3, 0], image[0, 3, 9], "the grey ramp increases to the right")
    }

    func testCMYKJPEGBecomesRGB() throws {
        let image = try ImageDecoder.decode(JPEGFixtures.cmyk8x6.jpegBytes, source: "cmyk")
        XCTAssertEqual([image.channels, image.height, image.width], [3, 6, 8])
        // Little cyan and much yellow on the left: red high, blue low there; the reverse on the right.
        XCTAssertGreaterThan(image[0, 2, 1], image[2, 2, 1])
        XCTAssertLessThan(image[0, 2, 6], image[2, 2, 6])
    }

    // MARK: Reduced-size decoding

    func testReducedSizeDecodePicksTheSmallestSufficientScale() throws {
        let bytes = JPEGFixtures.rgb64x48.jpegBytes
        let cases: [(minShorterSide: Int, width: Int, height: Int)] = [
            (0, 64, 48), (-5, 64, 48),
            (1, 8, 6), (6, 8, 6), (7, 16, 12), (12, 16, 12),
            (13, 24, 18), (18, 24, 18), (19, 32, 24), (20, 32, 24), (24, 32, 24),
            (25, 40, 30), (30, 40, 30), (31, 48, 36), (37, 56, 42), (42, 56, 42),
            (43, 64, 48), (48, 64, 48), (49, 64, 48), (1000, 64, 48)
        ]
        for item in cases {
            let image = try ImageDecoder.decode(bytes, source: "rgb64x48", minShorterSide: item.minShorterSide)
            XCTAssertEqual([image.width, image.height], [item.width, item.height], "minShorterSide \(item.minShorterSide)")
            XCTAssertEqual(image.channels, 3)
        }
        // Scaled sizes round up (TJSCALED): 8x6 at 3/8 is 3x3, at 5/8 5x4.
        let small = try ImageDecoder.decode(JPEGFixtures.rgb8x6.jpegBytes, source: "rgb8x6", minShorterSide: 3)
        XCTAssertEqual([small.width, small.height], [3, 3])
        let five = try ImageDecoder.decode(JPEGFixtures.rgb8x6.jpegBytes, source: "rgb8x6", minShorterSide: 4)
        XCTAssertEqual([five.width, five.height], [5, 4])
        // Non-JPEG input ignores the request.
        let ppm = ImageTestSupport.ppm(width: 40, height: 20) { _, _ in (1, 2, 3) }
        let full = try ImageDecoder.decode(ppm, source: "ppm", minShorterSide: 5)
        XCTAssertEqual([full.width, full.height], [40, 20])
    }

    // MARK: PPM / PGM

    func testPPMValuesAreExact() throws {
        var bytes = Array("P6 # a comment\n3 # width\n2\n# maxval next\n255\n".utf8)
        var expected: [[UInt8]] = []
        for y in 0..<2 {
            for x in 0..<3 {
                let pixel = [UInt8(x * 100 + y), UInt8(255 - x * 50), UInt8(y * 255)]
                expected.append(pixel)
                bytes += pixel
            }
        }
        bytes += [9, 9, 9]  // trailing data is ignored
        let image = try ImageDecoder.decode(bytes, source: "test.ppm")
        XCTAssertEqual([image.channels, image.height, image.width], [3, 2, 3])
        for y in 0..<2 {
            for x in 0..<3 {
                for c in 0..<3 {
                    XCTAssertEqual(image[c, y, x], Float(expected[y * 3 + x][c]) / 255)
                }
            }
        }
    }

    func testPGMAndOtherMaxvals() throws {
        let pgm = Array("P5\n2 2\n255\n".utf8) + [0, 51, 204, 255]
        let gray = try ImageDecoder.decode(pgm, source: "test.pgm")
        XCTAssertEqual([gray.channels, gray.height, gray.width], [3, 2, 2])
        XCTAssertEqual(Array(gray.pixels[0..<4]), [0, 0.2, 0.8, 1])
        XCTAssertEqual(Array(gray.pixels[4..<8]), Array(gray.pixels[0..<4]))
        XCTAssertEqual(Array(gray.pixels[8..<12]), Array(gray.pixels[0..<4]))

        let wide = Array("P6 1 1 65535\n".utf8) + [0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00]
        let sixteen = try ImageDecoder.decode(wide, source: "16bit.ppm")
        XCTAssertEqual(sixteen.pixels, [1, Float(0x8000) / 65535, 0])

        let low = Array("P5 2 1 15\n".utf8) + [15, 5]
        XCTAssertEqual(try ImageDecoder.decode(low, source: "low.pgm").pixels, [1, 1.0 / 3, 1, 1.0 / 3, 1, 1.0 / 3])
    }

    func testPPMErrors() {
        let check = { (bytes: [UInt8], phrase: String) in
            _ = ImageTestSupport.ioErrorMessage({ try ImageDecoder.decode(bytes, source: "bad.ppm") }, contains: ["bad.ppm", phrase])
        }
        check(Array("P6\n4 4\n255\n".utf8) + [UInt8](repeating: 7, count: 47), "truncated")
        check(Array("P6\n4 x\n255\n".utf8), "height")
        check(Array("P6\n4 4\n0\n".utf8) + [UInt8](repeating: 0, count: 48), "maxval")
        check(Array("P6\n4 4\n70000\n".utf8), "maxval")
        check(Array("P5 1 1 10\n".utf8) + [11], "above its maxval")
        check(Array("P6\n70000 2\n255\n".utf8), "too large")
        check(Array("P6\n20000 20000\n255\n".utf8), "too large")
        check(Array("P6\n0 5\n255\n".utf8), "invalid image size")
        check(Array("P6\n1 1\n255".utf8), "whitespace")
        check(Array("P3\n1 1\n255\n1 2 3\n".utf8), "not a JPEG, PPM or PGM")
    }

    // MARK: Errors

    func testCorruptAndUnsupportedInputsThrow() {
        let jpeg = JPEGFixtures.rgb64x48.jpegBytes
        // Start of scan: FF DA. Cutting between it and the end leaves a valid header and half the entropy-coded data.
        let sos = (0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA }!
        var generator = SplitMix64(state: 7)
        let garbage = (0..<500).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let cases: [(name: String, bytes: [UInt8], phrase: String)] = [
            ("half.jpg", Array(jpeg.prefix(jpeg.count / 2)), "JPEG"),
            ("truncated-scan.jpg", Array(jpeg.prefix((sos + jpeg.count) / 2)), "corrupt or unsupported JPEG"),
            ("no-eoi.jpg", Array(jpeg.dropLast(2)), "corrupt or unsupported JPEG"),
            ("header-only.jpg", Array(jpeg.prefix(20)), "no image"),
            ("soi-only.jpg", [0xFF, 0xD8, 0xFF], "JPEG"),
            ("garbage.jpg", garbage, "not a JPEG, PPM or PGM"),
            ("garbage-after-soi.jpg", [0xFF, 0xD8, 0xFF] + garbage, "JPEG"),
            ("image.png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + garbage, "PNG"),
            ("image.bmp", Array("BM".utf8) + garbage, "BMP"),
            ("image.gif", Array("GIF89a".utf8) + garbage, "GIF"),
            ("empty.jpg", [], "empty")
        ]
        for item in cases {
            ImageTestSupport.ioErrorMessage(
                { try ImageDecoder.decode(item.bytes, source: item.name) },
                contains: [item.name, item.phrase])
        }
        // TurboJPEG's own message comes through: libjpeg only warns about a truncated scan (and would pad
        // the image with grey), which the decoder treats as an error.
        let message = ImageTestSupport.ioErrorMessage({
            try ImageDecoder.decode(Array(jpeg.prefix((sos + jpeg.count) / 2)), source: "t.jpg")
        })
        XCTAssertTrue(message?.contains("Premature end") == true, message ?? "no message")
    }

    func testOversizedJPEGHeaderIsRejectedBeforeAllocating() throws {
        var bytes = JPEGFixtures.rgb8x6.jpegBytes
        // SOF0: FF C0, length (2), precision (1), height (2), width (2).
        guard let sof = (0..<(bytes.count - 1)).first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }) else {
            return XCTFail("no SOF0 marker in the fixture")
        }
        bytes[sof + 5] = 0xFF; bytes[sof + 6] = 0x00  // height 65280
        bytes[sof + 7] = 0xFF; bytes[sof + 8] = 0x00  // width 65280
        ImageTestSupport.ioErrorMessage(
            { try ImageDecoder.decode(bytes, source: "huge.jpg") },
            contains: ["huge.jpg", "too large"])
    }

    func testDecodeFileSniffsContentAndNamesMissingFiles() throws {
        let folder = try ImageTestSupport.makeTemporaryDirectory("jpeg")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A JPEG named .png decodes by content; an empty file and a missing one are errors naming the path.
        try ImageTestSupport.write(JPEGFixtures.rgb8x6.jpegBytes, to: folder + "/actually-a-jpeg.png")
        let image = try ImageDecoder.decodeFile(folder + "/actually-a-jpeg.png")
        XCTAssertEqual([image.width, image.height], [8, 6])
        try ImageTestSupport.write(JPEGFixtures.rgb64x48.jpegBytes, to: folder + "/big.jpg")
        let reduced = try ImageDecoder.decodeFile(folder + "/big.jpg", minShorterSide: 20)
        XCTAssertEqual([reduced.width, reduced.height], [32, 24])
        try ImageTestSupport.write([], to: folder + "/empty.jpg")
        ImageTestSupport.ioErrorMessage(
            { try ImageDecoder.decodeFile(folder + "/empty.jpg") },
            contains: [folder + "/empty.jpg", "empty"])
        ImageTestSupport.ioErrorMessage(
            { try ImageDecoder.decodeFile(folder + "/missing.jpg") },
            contains: [folder + "/missing.jpg", "No such file"])
        ImageTestSupport.ioErrorMessage({ try ImageDecoder.decodeFile(folder) }, contains: [folder, "directory"])
    }

    func testFormatSniffing() {
        XCTAssertEqual(ImageDecoder.format(of: JPEGFixtures.rgb8x6.jpegBytes), .jpeg)
        XCTAssertEqual(ImageDecoder.format(of: Array("P6\n".utf8)), .ppm)
        XCTAssertEqual(ImageDecoder.format(of: Array("P5 ".utf8)), .pgm)
        XCTAssertEqual(ImageDecoder.format(of: Array("P6x".utf8)), .unknown)
        XCTAssertEqual(ImageDecoder.format(of: [0x89, 0x50, 0x4E, 0x47]), .png)
        XCTAssertEqual(ImageDecoder.format(of: []), .unknown)
        XCTAssertEqual(ImageDecoder.format(of: [0xFF, 0xD8]), .unknown)
    }

    // MARK: Robustness

    /// Hundreds of seeded mutations (byte flips, truncations, deletions, insertions, copied segments) of
    /// valid JPEGs: each must decode to a sane image or throw `ResNeXtError.io`, never crash or hang.
    func testMutatedJPEGsDecodeOrThrowNeverCrash() {
        var generator = SplitMix64(state: 2024)
        let sources = [
            JPEGFixtures.rgb8x6, JPEGFixtures.gray10x7, JPEGFixtures.cmyk8x6,
            JPEGFixtures.rgb16x12Progressive420, JPEGFixtures.rgb64x48
        ].map { $0.jpegBytes }
        var decoded = 0, rejected = 0
        for iteration in 0..<400 {
            var bytes = sources[iteration % sources.count]
            switch generator.below(5) {
            case 0, 1:  // flip 1-4 bytes anywhere after SOI (keeps it sniffed as JPEG most of the time)
                for _ in 0...generator.below(4) {
                    let at = 2 + generator.below(bytes.count - 2)
                    bytes[at] ^= UInt8(1 + generator.below(255))
                }
            case 2:  // truncate
                bytes = Array(bytes.prefix(3 + generator.below(bytes.count - 3)))
            case 3:  // delete a run
                let at = 3 + generator.below(bytes.count - 3)
                bytes.removeSubrange(at..<min(bytes.count, at + 1 + generator.below(16)))
            default:  // insert random bytes or repeat a segment
                let at = 3 + generator.below(bytes.count - 3)
                if generator.below(2) == 0 {
                    bytes.insert(contentsOf: (0...generator.below(16)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }, at: at)
                } else {
                    let from = generator.below(bytes.count)
                    bytes.insert(contentsOf: bytes[from..<min(bytes.count, from + 1 + generator.below(64))], at: at)
                }
            }
            do {
                let image = try ImageDecoder.decode(bytes, source: "mutant-\(iteration)", minShorterSide: iteration % 3 == 0 ? 4 : 0)
                XCTAssertEqual(image.channels, 3)
                XCTAssertEqual(image.pixels.count, 3 * image.width * image.height)
                XCTAssertTrue(image.pixels.allSatisfy { $0 >= 0 && $0 <= 1 }, "mutant \(iteration)")
                decoded += 1
            } catch ResNeXtError.io(let message) {
                XCTAssertTrue(message.hasPrefix("mutant-\(iteration): "), message)
                rejected += 1
            } catch {
                XCTFail("mutant \(iteration): unexpected error \(error)")
            }
        }
        XCTAssertEqual(decoded + rejected, 400)
        XCTAssertGreaterThan(rejected, 50, "most mutations should be detected")
    }

    /// One decompressor per call: concurrent decodes from several threads agree with a serial decode.
    func testConcurrentDecodesAgree() throws {
        let bytes = JPEGFixtures.rgb16x12Progressive420.jpegBytes
        let reference = try ImageDecoder.decode(bytes, source: "ref")
        let results = ConcurrentResults(count: 64)
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            results.set(index, (try? ImageDecoder.decode(bytes, source: "t\(index)")) == reference)
        }
        XCTAssertTrue(results.all)
    }
}

/// A lock-protected array of flags written from `concurrentPerform`.
private final class ConcurrentResults: @unchecked Sendable {
    private var flags: [Bool]
    private let lock = NSLock()
    init(count: Int) { flags = [Bool](repeating: false, count: count) }
    func set(_ index: Int, _ value: Bool) { lock.lock(); flags[index] = value; lock.unlock() }
    var all: Bool { lock.lock(); defer { lock.unlock() }; return flags.allSatisfy { $0 } }
}
