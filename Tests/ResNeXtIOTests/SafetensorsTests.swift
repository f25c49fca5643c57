import ResNeXtCore
import ResNeXtIO
import XCTest

/// A file built by hand, independent of the serializer: header order differs from data-offset order.
let handBuiltHeader =
    #"{"__metadata__":{"format":"pt","note":"hi"},"#
    + #""step":{"dtype":"I64","shape":[],"data_offsets":[22,30]},"#
    + #""w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"#
    + #""h":{"shape":[3],"dtype":"F16","data_offsets":[16,22]},"#
    + #""b":{"dtype":"BF16","shape":[2],"data_offsets":[30,34]}}   "#
let handBuiltBuffer: [UInt8] =
    [0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x80, 0x3E, 0x00, 0x00, 0x40, 0x40]  // F32 1.5 -2 0.25 3
    + [0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B]  // F16 1, -2, 65504
    + [0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  // I64 -7
    + [0x80, 0x3F, 0xA0, 0xC0]  // BF16 1, -5
let handBuiltFile = safetensorsBytes(header: handBuiltHeader, buffer: handBuiltBuffer)

final class SafetensorsTests: XCTestCase {
    func testParsesHandBuiltFile() throws {
        let file = try SafetensorsFile.parse(handBuiltFile, source: "hand.safetensors")
        XCTAssertEqual(file.tensors.map(\.name), ["w", "h", "step", "b"])  // data-offset order
        XCTAssertEqual(file.metadata.map(\.key), ["format", "note"])
        XCTAssertEqual(file.metadata.map(\.value), ["pt", "hi"])

        let w = try XCTUnwrap(file["w"])
        XCTAssertEqual(w.dtype, .F32)
        XCTAssertEqual(w.shape, [2, 2])
        XCTAssertEqual(w.elementCount, 4)
        XCTAssertEqual(w.floats(), [1.5, -2, 0.25, 3])
        XCTAssertEqual(w.bytes, Array(handBuiltBuffer[0..<16]))

        let h = try XCTUnwrap(file["h"])
        XCTAssertEqual(h.dtype, .F16)
        XCTAssertEqual(h.shape, [3])
        XCTAssertEqual(h.floats(), [1, -2, 65504])

        let step = try XCTUnwrap(file["step"])
        XCTAssertEqual(step.dtype, .I64)
        XCTAssertEqual(step.shape, [])
        XCTAssertEqual(step.elementCount, 1)
        XCTAssertEqual(step.floats(), [-7])

        let b = try XCTUnwrap(file["b"])
        XCTAssertEqual(b.dtype, .BF16)
        XCTAssertEqual(b.floats(), [1, -5])
        XCTAssertNil(file["missing"])
    }

    func testRoundTripIsIdenticalAndHeaderIsPaddedTo8() throws {
        let file = try SafetensorsFile.parse(handBuiltFile, source: "hand.safetensors")
        let bytes = file.serialized()
        let headerSize = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        XCTAssertEqual(headerSize % 8, 0)
        XCTAssertEqual(bytes.count, 8 + headerSize + 34)
        XCTAssertEqual(Array(bytes[(8 + headerSize)...]), handBuiltBuffer)  // same order, so same buffer

        let header = try JSONValue.parse(Array(bytes[8..<(8 + headerSize)]), source: "header")
        XCTAssertEqual(header.object?.map(\.key), ["__metadata__", "w", "h", "step", "b"])
        XCTAssertEqual(header["h"]?["data_offsets"], .array([.number(16), .number(22)]))
        XCTAssertEqual(header["step"]?["shape"], .array([]))
        XCTAssertEqual(header["b"]?["dtype"]?.string, "BF16")

        let again = try SafetensorsFile.parse(bytes, source: "again")
        XCTAssertEqual(again, file)
        XCTAssertEqual(again.serialized(), bytes)
    }

    func testMetadataRoundTripAndOmittedWhenEmpty() throws {
        let t = StoredTensor(shape: [2], floats: [1, 2])
        let withMeta = SafetensorsFile(
            tensors: [(name: "t", tensor: t)],
            metadata: [(key: "z", value: "last\"quote"), (key: "a", value: "é\n")])
        let back = try SafetensorsFile.parse(withMeta.serialized(), source: "m")
        XCTAssertEqual(back.metadata.map(\.key), ["z", "a"])
        XCTAssertEqual(back.metadata.map(\.value), ["last\"quote", "é\n"])
        XCTAssertEqual(back, withMeta)

        let plain = SafetensorsFile(tensors: [(name: "t", tensor: t)], metadata: [])
        let text = String(decoding: plain.serialized().dropFirst(8), as: UTF8.self)
        XCTAssertFalse(text.contains("__metadata__"))
        XCTAssertTrue(try SafetensorsFile.parse(plain.serialized(), source: "p").metadata.isEmpty)
    }

    func testEmptyAndZeroSizedTensorsRoundTrip() throws {
        let empty = SafetensorsFile(tensors: [], metadata: [])
        XCTAssertEqual(empty.serialized().count % 8, 0)
        XCTAssertEqual(try SafetensorsFile.parse(empty.serialized(), source: "e").tensors.count, 0)

        let file = SafetensorsFile(
            tensors: [
                (name: "a", tensor: try StoredTensor(dtype: .F32, shape: [2, 0], bytes: [])),
                (name: "s", tensor: try StoredTensor(dtype: .U8, shape: [], bytes: [9])),
                (name: "z", tensor: try StoredTensor(dtype: .I16, shape: [0], bytes: []))
            ], metadata: [])
        let back = try SafetensorsFile.parse(file.serialized(), source: "z")
        XCTAssertEqual(back, file)
        XCTAssertEqual(back["a"]?.elementCount, 0)
        XCTAssertEqual(back["s"]?.floats(), [9])
    }

    func testStoredTensorValidationAndConversions() throws {
        XCTAssertThrowsError(try StoredTensor(dtype: .F32, shape: [2], bytes: [0, 0, 0])) {
            XCTAssertEqual(
                $0 as? ResNeXtError,
                .invalidArgument("stored tensor: F32 shape [2] needs 8 bytes, got 3"))
        }
        XCTAssertThrowsError(try StoredTensor(dtype: .U8, shape: [-1], bytes: []))
        XCTAssertThrowsError(try StoredTensor(dtype: .U8, shape: [Int.max, 2], bytes: []))
        XCTAssertThrowsError(try StoredTensor(dtype: .F64, shape: [Int.max / 4], bytes: []))

        XCTAssertEqual(StoredTensor(shape: [1], floats: [1.5]).bytes, [0x00, 0x00, 0xC0, 0x3F])
        XCTAssertEqual(StoredTensor(shape: [2, 1], floats: [-2, 0.25]).floats(), [-2, 0.25])

        let f64 = try StoredTensor(dtype: .F64, shape: [2], bytes: le((-0.1).bitPattern) + le(1e300.bitPattern))
        XCTAssertEqual(f64.floats()[0], Float(-0.1))
        XCTAssertEqual(f64.floats()[1], .infinity)
        let f16 = try StoredTensor(
            dtype: .F16, shape: [5],
            bytes: le(UInt16(0x0001)) + le(UInt16(0x8000))
                + le(UInt16(0x7C00)) + le(UInt16(0x3555)) + le(UInt16(0x0400)))
        let halves = f16.floats()
        XCTAssertEqual(halves[0], 0x1p-24)  // smallest subnormal
        XCTAssertEqual(halves[1], 0)
        XCTAssertEqual(halves[1].sign, .minus)
        XCTAssertEqual(halves[2], .infinity)
        XCTAssertEqual(halves[3], 0.333251953125)
        XCTAssertEqual(halves[4], 0x1p-14)  // smallest normal
        XCTAssertTrue(try StoredTensor(dtype: .F16, shape: [], bytes: [0x01, 0x7E]).floats()[0].isNaN)

        XCTAssertEqual(try StoredTensor(dtype: .I32, shape: [2], bytes: le(Int32(-123456)) + le(Int32(7))).floats(), [-123456, 7])
        XCTAssertEqual(try StoredTensor(dtype: .I16, shape: [1], bytes: le(Int16(-300))).floats(), [-300])
        XCTAssertEqual(try StoredTensor(dtype: .I8, shape: [2], bytes: [0xFF, 0x7F]).floats(), [-1, 127])
        XCTAssertEqual(try StoredTensor(dtype: .U8, shape: [2], bytes: [0xFF, 0x01]).floats(), [255, 1])
        XCTAssertEqual(try StoredTensor(dtype: .BOOL, shape: [3], bytes: [0, 1, 2]).floats(), [0, 1, 1])
        XCTAssertEqual(
            [SafetensorsDType.F64, .F32, .F16, .BF16, .I64, .I32, .I16, .I8, .U8, .BOOL].map(\.byteSize),
            [8, 4, 2, 2, 8, 4, 2, 1, 1, 1])
    }

    func testWriteAndReadFile() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let file = try SafetensorsFile.parse(handBuiltFile, source: "hand")
        let path = dir.path + "/model.safetensors"
        try file.write(to: path)
        XCTAssertEqual(try SafetensorsFile.read(path), file)
        XCTAssertEqual(try dir.entries(), ["model.safetensors"])

        let t = StoredTensor(shape: [], floats: [1])
        XCTAssertThrowsError(try SafetensorsFile(tensors: [(name: "x", tensor: t), (name: "x", tensor: t)]).write(to: path)) {
            XCTAssertEqual($0 as? ResNeXtError, .invalidArgument("\(path): duplicate tensor name \"x\""))
        }
        XCTAssertThrowsError(try SafetensorsFile(tensors: [(name: "__metadata__", tensor: t)]).write(to: path))
        assertIOError(
            try SafetensorsFile.read(dir.path + "/none.safetensors"),
            contains: [dir.path + "/none.safetensors", "No such file or directory"])
    }
}
