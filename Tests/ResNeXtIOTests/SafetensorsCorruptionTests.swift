import ResNeXtCore
import ResNeXtIO
import XCTest

final class SafetensorsCorruptionTests: XCTestCase {
    private let source = "corrupt.safetensors"

    /// Parses a file made of `header` and `buffer`, expecting an I/O error naming the source and `phrase`.
    private func assertRejected(
        _ header: String, buffer: [UInt8] = [UInt8](repeating: 0, count: 16), _ phrase: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        assertIOError(
            try SafetensorsFile.parse(safetensorsBytes(header: header, buffer: buffer), source: source),
            contains: [source + ": ", phrase], file: file, line: line)
    }

    private func entry(_ body: String) -> String { #"{"t":{"# + body + "}}" }

    func testFramingErrors() {
        assertIOError(try SafetensorsFile.parse([], source: source), contains: [source, "file too short"])
        assertIOError(try SafetensorsFile.parse([2, 0, 0, 0, 0, 0, 0], source: source), contains: [source, "file too short"])
        assertIOError(
            try SafetensorsFile.parse(le(UInt64(1000)) + [UInt8](repeating: 0x20, count: 50), source: source),
            contains: [source, "header size 1000 exceeds the 50 bytes"])
        assertIOError(
            try SafetensorsFile.parse(le(UInt64(200_000_000)) + Array("{}".utf8), source: source),
            contains: [source, "100 MB limit"])
        assertIOError(
            try SafetensorsFile.parse(le(UInt64.max) + Array("{}".utf8), source: source),
            contains: [source, "100 MB limit"])
        // A header size of 0 leaves an empty header, which is not JSON.
        assertIOError(try SafetensorsFile.parse(le(UInt64(0)), source: source), contains: [source, "not valid JSON"])
    }

    func testHeaderErrors() {
        assertRejected(#"{"t":"#, "not valid JSON")
        assertRejected(#"{"t":{}} x"#, "not valid JSON")
        assertRejected("[1,2]", "header is not a JSON object")
        assertRejected(#""text""#, "header is not a JSON object")
        assertRejected(String(repeating: "[", count: 100), "nesting deeper than 64")
        let badUTF8 = le(UInt64(8)) + [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D, 0x20]  // {"\xff":1}
        assertIOError(try SafetensorsFile.parse(badUTF8, source: source), contains: [source, "not valid JSON", "invalid UTF-8"])
        assertIOError(
            try SafetensorsFile.parse(le(UInt64(2)) + [0xC3, 0xA9], source: source),
            contains: [source, "not valid JSON"])
    }

    func testEntryErrors() {
        assertRejected(#"{"t":5}"#, #"tensor "t": entry is not a JSON object"#)
        assertRejected(entry(#""shape":[4],"data_offsets":[0,16]"#), #"tensor "t": missing dtype"#)
        assertRejected(entry(#""dtype":4,"shape":[4],"data_offsets":[0,16]"#), "dtype is not a string")
        assertRejected(entry(#""dtype":"F8","shape":[4],"data_offsets":[0,16]"#), #"unknown dtype "F8""#)
        assertRejected(entry(#""dtype":"f32","shape":[4],"data_offsets":[0,16]"#), #"unknown dtype "f32""#)
        assertRejected(entry(#""dtype":"F32","data_offsets":[0,16]"#), "missing shape")
        assertRejected(entry(#""dtype":"F32","shape":4,"data_offsets":[0,16]"#), "shape is not an array")
        assertRejected(entry(#""dtype":"F32","shape":[-4],"data_offsets":[0,16]"#), "shape dimension -4 is not a non-negative integer")
        assertRejected(entry(#""dtype":"F32","shape":[1.5],"data_offsets":[0,16]"#), "shape dimension 1.5 is not a non-negative integer")
        assertRejected(entry(#""dtype":"F32","shape":["4"],"data_offsets":[0,16]"#), "is not a non-negative integer")
        assertRejected(entry(#""dtype":"F32","shape":[1e30],"data_offsets":[0,16]"#), "is not a non-negative integer")
        assertRejected(entry(#""dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,16]"#), "overflows")
        assertRejected(entry(#""dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,16]"#), "overflows")
        assertRejected(entry(#""dtype":"F32","shape":[4]"#), "missing data_offsets")
        assertRejected(entry(#""dtype":"F32","shape":[4],"data_offsets":[0]"#), "is not two non-negative integers")
        assertRejected(entry(#""dtype":"F32","shape":[4],"data_offsets":[0,16,16]"#), "is not two non-negative integers")
        assertRejected(entry(#""dtype":"F32","shape":[4],"data_offsets":[0,"16"]"#), "is not two non-negative integers")
        assertRejected(entry(#""dtype":"F32","shape":[4],"data_offsets":[-1,15]"#), "is not two non-negative integers")
        assertRejected(entry(#""dtype":"F32","shape":[4],"data_offsets":{"a":0}"#), "is not two non-negative integers")
        assertRejected(entry(#""dtype":"F32","shape":[0],"data_offsets":[8,4]"#), "begin 8 is after end 4")
        assertRejected(entry(#""dtype":"F32","shape":[4],"data_offsets":[4,20]"#), "end 20 is beyond the data buffer of 16 bytes")
        assertRejected(entry(#""dtype":"F32","shape":[4],"data_offsets":[0,12]"#), "span 12 bytes but F32 shape [4] needs 16")
        assertRejected(entry(#""dtype":"F16","shape":[2,2],"data_offsets":[0,16]"#), "span 16 bytes but F16 shape [2, 2] needs 8")
    }

    func testWholeFileErrors() {
        assertRejected(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
                + #""b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            #"tensor "b" overlaps tensor "a""#)
        assertRejected(
            #"{"b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]},"#
                + #""a":{"dtype":"U8","shape":[16],"data_offsets":[0,16]}}"#,
            #"tensor "b" overlaps tensor "a""#)
        assertRejected(
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
                + #""a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
            #"duplicate tensor name "a""#)
        assertRejected(#"{"__metadata__":{"k":"v","n":1}}"#, #"__metadata__ value for "n" is not a string"#)
        assertRejected(#"{"__metadata__":["k"]}"#, "__metadata__ is not a JSON object")
        assertRejected(#"{"__metadata__":{},"__metadata__":{}}"#, #"duplicate tensor name "__metadata__""#)
    }

    func testAcceptedEdgeCases() throws {
        // Empty tensors may share an offset with others; gaps between tensors are allowed; spaces pad the header.
        let header =
            #"{"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"#
            + #""a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},"#
            + #""c":{"dtype":"U8","shape":[2],"data_offsets":[10,12]}}        "#
        let file = try SafetensorsFile.parse(safetensorsBytes(header: header, buffer: Array(0..<12)), source: source)
        XCTAssertEqual(file.tensors.map(\.name), ["a", "e", "c"])
        XCTAssertEqual(file["c"]?.bytes, [10, 11])
        XCTAssertEqual(file["e"]?.shape, [0])
    }

    /// Random byte flips, truncations and header sizes never crash: parse succeeds or throws ResNeXtError.
    func testRandomMutationsNeverCrash() {
        var rng = SplitMix64(seed: 0x5AFE_7E45)
        let valid = handBuiltFile
        var accepted = 0, rejected = 0, truncationsAccepted = 0
        for iteration in 0..<2000 {
            var bytes = valid
            let kind = iteration % 4
            switch kind {
            case 0:  // flip bits
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
            case 1:  // overwrite with structural JSON characters and digits
                let alphabet = Array(#"{}[]":,0123456789-.eE \"#.utf8) + [0x00, 0x80, 0xFF]
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 8..<bytes.count, using: &rng)] = alphabet.randomElement(using: &rng)!
                }
            case 2:  // truncate
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            default:  // random header size, small or huge
                let size: UInt64 =
                    Bool.random(using: &rng)
                    ? UInt64.random(in: 0...UInt64(bytes.count + 64), using: &rng)
                    : UInt64.random(in: 0...UInt64.max, using: &rng)
                bytes.replaceSubrange(0..<8, with: le(size))
            }
            do {
                _ = try SafetensorsFile.parse(bytes, source: source)
                accepted += 1
                if kind == 2 { truncationsAccepted += 1 }
            } catch let error as ResNeXtError {
                rejected += 1
                guard case .io(let message) = error, message.hasPrefix(source + ": ") else {
                    XCTFail("unexpected error \(error)")
                    continue
                }
            } catch {
                XCTFail("non-ResNeXtError \(error)")
            }
        }
        XCTAssertEqual(accepted + rejected, 2000)
        XCTAssertEqual(truncationsAccepted, 0, "the last tensor ends at the end of the file, so every truncation is invalid")
        XCTAssertGreaterThan(accepted, 0, "flips inside the data buffer leave a valid file")
        XCTAssertGreaterThan(rejected, 1000)
    }
}
