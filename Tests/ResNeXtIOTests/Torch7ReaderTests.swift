import Foundation
import ResNeXtCore
import ResNeXtIO
import XCTest

/// Little-endian Torch7 bytes written by hand, for malformed files.
private struct T7Bytes {
    var bytes: [UInt8] = []
    mutating func int(_ v: Int32) { bytes += le(v) }
    mutating func long(_ v: Int64) { bytes += le(v) }
    mutating func double(_ v: Double) { bytes += le(v.bitPattern) }
    mutating func string(_ s: String) { int(Int32(s.utf8.count)); bytes += Array(s.utf8) }
    /// Tag 4, `index`, "V 1", `className`.
    mutating func object(_ index: Int32, _ className: String) { int(4); int(index); string("V 1"); string(className) }
}

final class Torch7ReaderTests: XCTestCase {
    private let source = "bad.t7"

    private func reject(_ bytes: [UInt8], _ phrases: String..., file: StaticString = #filePath, line: UInt = #line) {
        assertIOError(try Torch7.parse(bytes, source: source), contains: [source + ": "] + phrases, file: file, line: line)
    }

    /// A small nn-style module file: a Sequential holding a convolution whose weight and gradWeight share
    /// one storage, a LongStorage, a boolean and strings.
    private func smallModuleFile() -> [UInt8] {
        let storage = Torch7Storage(floats: (0..<12).map { Float($0) / 4 })
        let weight = try! Torch7Tensor(
            className: "torch.FloatTensor", sizes: [2, 1, 2, 2], strides: [4, 4, 2, 1], storageOffset: 1,
            storage: storage)
        let view = try! Torch7Tensor(className: "torch.FloatTensor", sizes: [2, 2], strides: [1, 2], storageOffset: 9, storage: storage)
        let conv = Torch7Value.object(
            className: "cudnn.SpatialConvolution", version: 1,
            payload: .table(
                Torch7Table(fields: [
                    ("nInputPlane", .number(1)), ("nOutputPlane", .number(2)), ("kW", .number(2)), ("kH", .number(2)),
                    ("weight", .tensor(weight)), ("gradWeight", .tensor(view)), ("train", .boolean(true)),
                    ("_type", .string("torch.FloatTensor")), ("output", .tensor(.empty()))
                ])))
        let view2 = Torch7Value.object(
            className: "nn.View", version: 1,
            payload: .table(
                Torch7Table(fields: [
                    ("size", .storage(Torch7Storage(int64s: [-1, 8]))), ("numInputDims", .number(3))
                ])))
        return Torch7.serialize(
            .object(
                className: "nn.Sequential", version: 1,
                payload: .table(
                    Torch7Table(fields: [
                        ("modules", .table(Torch7Table(array: [conv, view2])))
                    ]))))
    }

    func testSmallModuleFileRoundTrip() throws {
        let bytes = smallModuleFile()
        let value = try Torch7.parse(bytes, source: source)
        XCTAssertEqual(Torch7.serialize(value), bytes)
        let conv = try XCTUnwrap(value["modules"]?.table?[1])
        let weight = try XCTUnwrap(conv["weight"]?.tensor), view = try XCTUnwrap(conv["gradWeight"]?.tensor)
        XCTAssertTrue(weight.storage === view.storage)
        XCTAssertEqual(try weight.floats(), (0..<8).map { Float($0) / 4 })
        XCTAssertEqual(try view.floats(), [2, 2.5, 2.25, 2.75])  // transposed view of elements 9…12 (1-based)
        XCTAssertEqual(value["modules"]?.table?[2]?["size"]?.storage?.doubles(), [-1, 8])
    }

    func testSharedStoragesAndReferences() throws {
        let storage = Torch7Storage(floats: [0, 1, 2, 3, 4, 5])
        let a = try Torch7Tensor(className: "torch.FloatTensor", sizes: [2, 3], strides: [3, 1], storageOffset: 1, storage: storage)
        let b = try Torch7Tensor(className: "torch.FloatTensor", sizes: [3, 2], strides: [1, 3], storageOffset: 1, storage: storage)
        let c = try Torch7Tensor(className: "torch.FloatTensor", sizes: [2], strides: [2], storageOffset: 2, storage: storage)
        let broadcast = try Torch7Tensor(className: "torch.FloatTensor", sizes: [2, 2], strides: [0, 1], storageOffset: 5, storage: storage)
        let inner = Torch7Table(fields: [("x", .number(-1.5))])
        let table = Torch7Table(array: [.tensor(a), .tensor(b), .tensor(c), .tensor(a), .table(inner), .table(inner), .tensor(broadcast)])
        let bytes = Torch7.serialize(.table(table))
        // The storage is written once, then referred to by index.
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self).components(separatedBy: "torch.FloatStorage").count - 1, 1)

        let items = try XCTUnwrap(Torch7.parse(bytes, source: source).table?.arrayValues)
        let (ra, rb, rc, rd) = (items[0].tensor!, items[1].tensor!, items[2].tensor!, items[3].tensor!)
        XCTAssertTrue(ra === rd)
        XCTAssertTrue(ra.storage === rb.storage && rb.storage === rc.storage)
        XCTAssertTrue(items[4].table === items[5].table)
        XCTAssertEqual(try ra.floats(), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try rb.floats(), [0, 3, 1, 4, 2, 5])
        XCTAssertEqual(try rc.floats(), [1, 3])
        XCTAssertEqual(try items[6].tensor!.floats(), [4, 5, 4, 5])
        XCTAssertFalse(rb.isContiguous)
    }

    func testScalarValuesAndObjectsRoundTrip() throws {
        let fields = Torch7Table(fields: [
            ("negative", .number(-2.25)), ("big", .number(1e300)), ("infinity", .number(.infinity)), ("yes", .boolean(true)),
            ("no", .boolean(false)), ("text", .string("grüße ✓")), ("empty", .string("")),
            ("nested", .table(Torch7Table([(.boolean(true), .string("bool key")), (.number(2.5), .string("fraction key"))]))),
            ("legacy", .object(className: "Old", version: 0, payload: .number(7))),
            ("batchnorm", .object(className: "nn.SpatialBatchNormalization", version: 2, payload: .table(Torch7Table())))
        ])
        let value = try Torch7.parse(Torch7.serialize(.table(fields)), source: source)
        XCTAssertEqual(value["negative"]?.number, -2.25)
        XCTAssertEqual(value["big"]?.number, 1e300)
        XCTAssertEqual(value["infinity"]?.number, .infinity)
        XCTAssertEqual(value["yes"]?.boolean, true)
        XCTAssertEqual(value["no"]?.boolean, false)
        XCTAssertEqual(value["text"]?.string, "grüße ✓")
        XCTAssertEqual(value["empty"]?.string, "")
        XCTAssertEqual(value["nested"]?.table?[.boolean(true)]?.string, "bool key")
        XCTAssertEqual(value["nested"]?.table?[.number(2.5)]?.string, "fraction key")
        guard case let .object(name, version, payload)? = value["legacy"] else { return XCTFail("legacy object missing") }
        XCTAssertEqual(name, "Old")
        XCTAssertEqual(version, 0)
        XCTAssertEqual(payload.number, 7)
        guard case let .object(bn, bnVersion, _)? = value["batchnorm"] else { return XCTFail("batch norm missing") }
        XCTAssertEqual(bn, "nn.SpatialBatchNormalization")
        XCTAssertEqual(bnVersion, 2)
        XCTAssertEqual(
            value.table?.entries.map { $0.key.string ?? "" },
            ["negative", "big", "infinity", "yes", "no", "text", "empty", "nested", "legacy", "batchnorm"])

        // A pre-versioning object: the first string is the class name.
        var legacy = T7Bytes()
        legacy.int(4); legacy.int(1); legacy.string("torch.FloatStorage"); legacy.long(1); legacy.bytes += le(Float(2.5).bitPattern)
        let storage = try XCTUnwrap(Torch7.parse(legacy.bytes, source: source).storage)
        XCTAssertEqual(storage.version, 0)
        XCTAssertEqual(storage.doubles(), [2.5])
    }

    func testElementTypes() throws {
        func check(_ storageClass: String, _ tensorClass: String, _ raw: [UInt8], _ expected: [Float]) throws {
            let storage = try Torch7Storage(className: storageClass, rawBytes: raw)
            let tensor = try Torch7Tensor(className: tensorClass, sizes: [expected.count], strides: [1], storageOffset: 1, storage: storage)
            let parsed = try XCTUnwrap(Torch7.parse(Torch7.serialize(.tensor(tensor)), source: source).tensor)
            XCTAssertEqual(parsed.className, tensorClass)
            XCTAssertEqual(try parsed.floats(), expected, tensorClass)
        }
        try check("torch.HalfStorage", "torch.HalfTensor", le(UInt16(0x3C00)) + le(UInt16(0xC000)), [1, -2])
        try check("torch.CudaHalfStorage", "torch.CudaHalfTensor", le(UInt16(0x3555)), [Float(0x3555 & 0x3FF | 0x400) * 0x1p-12])
        try check("torch.CudaStorage", "torch.CudaTensor", le(Float(3.5).bitPattern), [3.5])
        try check("torch.CudaDoubleStorage", "torch.CudaDoubleTensor", le(Double(-0.5).bitPattern), [-0.5])
        try check("torch.LongStorage", "torch.LongTensor", le(Int64(-7)) + le(Int64(1 << 40)), [-7, Float(1 << 40)])
        try check("torch.IntStorage", "torch.IntTensor", le(Int32(-3)), [-3])
        try check("torch.ShortStorage", "torch.ShortTensor", le(Int16(-300)), [-300])
        try check("torch.ByteStorage", "torch.ByteTensor", [255, 1], [255, 1])
        try check("torch.CharStorage", "torch.CharTensor", [255, 1], [-1, 1])
        // A CudaTensor may sit on a FloatStorage (same element type), not on a DoubleStorage.
        XCTAssertNoThrow(
            try Torch7Tensor(
                className: "torch.CudaTensor", sizes: [1], strides: [1], storageOffset: 1,
                storage: Torch7Storage(floats: [1])))
        XCTAssertThrowsError(
            try Torch7Tensor(
                className: "torch.FloatTensor", sizes: [1], strides: [1], storageOffset: 1,
                storage: Torch7Storage(doubles: [1])))
        XCTAssertThrowsError(
            try Torch7Tensor(
                className: "torch.FloatTensor", sizes: [3], strides: [1], storageOffset: 2,
                storage: Torch7Storage(floats: [1, 2, 3])))
        XCTAssertThrowsError(try Torch7Tensor(className: "torch.Nonsense", sizes: [], strides: [], storageOffset: 1, storage: nil))
        XCTAssertThrowsError(try Torch7Storage(className: "torch.FloatStorage", rawBytes: [1, 2, 3]))
        // An empty tensor has no elements.
        XCTAssertEqual(try Torch7Tensor.empty().floats(), [])
        XCTAssertEqual(Torch7Tensor.empty().elementCount, 0)
    }

    func testWindowsFourByteLongs() throws {
        let value = Torch7Value.table(
            Torch7Table(fields: [
                ("tensor", .tensor(Torch7Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]))),
                ("sizes", .storage(Torch7Storage(int64s: [-5, 7])))
            ]))
        let wide = Torch7.serialize(value), narrow = Torch7.serialize(value, longSize: 4)
        // 2 sizes + 2 strides + offset + storage count (tensor) and 1 count + 2 elements (LongStorage), 4 bytes fewer each.
        XCTAssertEqual(wide.count - narrow.count, 4 * (2 + 2 + 1 + 1) + 4 * (1 + 2))
        let parsed = try Torch7.parse(narrow, source: source, longSize: 4)
        XCTAssertEqual(try parsed["tensor"]?.tensor?.floats(), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(parsed["tensor"]?.tensor?.strides, [3, 1])
        XCTAssertEqual(parsed["sizes"]?.storage?.doubles(), [-5, 7])
        // Read back with 8-byte longs the file is garbage, but a clean error.
        XCTAssertThrowsError(try Torch7.parse(narrow, source: source)) { XCTAssertTrue("\($0)".contains(self.source)) }
        XCTAssertThrowsError(try Torch7.parse(narrow, source: source, longSize: 2)) { error in
            XCTAssertEqual(error as? ResNeXtError, .invalidArgument("torch7: longSize must be 4 or 8, got 2"))
        }
    }

    func testWriteAndReadFile() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let path = directory.path + "/model.t7"
        try Torch7.write(.table(Torch7Table(fields: [("hello", .number(123))])), to: path)
        XCTAssertEqual(try Torch7.read(path)["hello"]?.number, 123)
        XCTAssertEqual(try FileIO.readAll(path), Torch7Fixtures.bytes("hello=123.t7"))
        assertIOError(try Torch7.read(directory.path + "/missing.t7"), contains: ["missing.t7", "No such file"])
    }

    // MARK: - Hostile input

    func testMalformedFiles() {
        reject([], "empty file")
        reject([1, 0, 0], "type tag needs 4 bytes but only 3 remain", "at byte 0")
        reject(le(Int32(9)), "unknown type tag 9", "at byte 0")
        reject(le(Int32(-1)), "unknown type tag -1")
        reject(le(Int32(1)) + [0, 0, 0], "number needs 8 bytes but only 3 remain", "at byte 4")
        reject(le(Int32(5)) + le(Int32(2)), "boolean value 2 is neither 0 nor 1", "at byte 4")
        reject(le(Int32(0)) + [0], "1 unexpected bytes after the top-level object", "at byte 4")

        var nilKey = T7Bytes()
        nilKey.int(3); nilKey.int(1); nilKey.int(1); nilKey.int(0); nilKey.int(1); nilKey.double(1)
        reject(nilKey.bytes, "table key is nil", "at byte 12")
        var nanKey = T7Bytes()
        nanKey.int(3); nanKey.int(1); nanKey.int(1); nanKey.int(1); nanKey.double(.nan); nanKey.int(0)
        reject(nanKey.bytes, "table key is NaN")

        var badVersion = T7Bytes()
        badVersion.int(4); badVersion.int(1); badVersion.string("V one"); badVersion.string("nn.Module")
        reject(badVersion.bytes, "bad class version string \"V one\"", "at byte 8")
        var emptyClass = T7Bytes()
        emptyClass.int(4); emptyClass.int(1); emptyClass.string("V 1"); emptyClass.string("")
        reject(emptyClass.bytes, "empty class name")

        // A tensor whose storage is the tensor itself.
        var cycle = T7Bytes()
        cycle.object(1, "torch.FloatTensor"); cycle.int(1); cycle.long(1); cycle.long(1); cycle.long(1); cycle.int(4); cycle.int(1)
        reject(cycle.bytes, "reference to torch.FloatTensor (object #1) from inside itself")
        // A tensor with a table where its storage should be.
        var notStorage = T7Bytes()
        notStorage.object(1, "torch.FloatTensor"); notStorage.int(0); notStorage.long(1); notStorage.int(3); notStorage.int(2);
        notStorage.int(0)
        reject(notStorage.bytes, "tensor torch.FloatTensor has a {…} where its storage should be")
        // A FloatTensor over a DoubleStorage.
        var wrongType = T7Bytes()
        wrongType.object(1, "torch.FloatTensor"); wrongType.int(1); wrongType.long(1); wrongType.long(1); wrongType.long(1)
        wrongType.object(2, "torch.DoubleStorage"); wrongType.long(1); wrongType.double(1)
        reject(wrongType.bytes, "float32 tensor on a torch.DoubleStorage")
        // Views that reach outside the storage, a 0 offset, a negative stride, elements without a storage.
        func view(sizes: [Int64], strides: [Int64], offset: Int64, storageCount: Int64?) -> [UInt8] {
            var b = T7Bytes()
            b.object(1, "torch.FloatTensor"); b.int(Int32(sizes.count))
            for s in sizes { b.long(s) }
            for s in strides { b.long(s) }
            b.long(offset)
            if let storageCount {
                b.object(2, "torch.FloatStorage"); b.long(storageCount)
                b.bytes += [UInt8](repeating: 0, count: Int(storageCount) * 4)
            } else {
                b.int(0)
            }
            return b.bytes
        }
        reject(view(sizes: [10], strides: [1], offset: 1, storageCount: 5), "reach element 10 of a storage of 5 elements", "at byte 0")
        reject(view(sizes: [2, 3], strides: [3, 1], offset: 2, storageCount: 6), "reach element 7 of a storage of 6 elements")
        reject(view(sizes: [2], strides: [1], offset: 0, storageCount: 6), "storage offset 0 is below 1")
        reject(view(sizes: [2], strides: [-1], offset: 2, storageCount: 6), "stride -1 of dimension 1 is negative")
        reject(view(sizes: [2], strides: [1], offset: 1, storageCount: nil), "2 elements but no storage")
        reject(view(sizes: [3, -1], strides: [1, 1], offset: 1, storageCount: 6), "size -1 of dimension 2 is negative")
        reject(view(sizes: [1 << 62, 1 << 62], strides: [1, 1], offset: 1, storageCount: 6), "element count overflows")
        reject(view(sizes: [2, 2], strides: [1 << 62, 1 << 62], offset: 1, storageCount: 6), "overflow")
        XCTAssertNoThrow(try Torch7.parse(view(sizes: [0, 5], strides: [1, 1], offset: 77, storageCount: nil), source: source))
    }

    func testHugeDeclaredLengths() {
        reject(le(Int32(2)) + le(Int32.max) + Array("abc".utf8), "string of 2147483647 bytes exceeds the 3 bytes that remain", "at byte 4")
        reject(le(Int32(2)) + le(Int32(-5)), "string has a negative length -5")
        var table = T7Bytes()
        table.int(3); table.int(1); table.int(Int32.max)
        reject(table.bytes, "table of 2147483647 entries cannot fit in the 0 bytes that remain", "at byte 8")
        var negativeTable = T7Bytes()
        negativeTable.int(3); negativeTable.int(1); negativeTable.int(-1)
        reject(negativeTable.bytes, "table has a negative entry count -1")
        var dims = T7Bytes()
        dims.object(1, "torch.FloatTensor"); dims.int(Int32.max)
        reject(dims.bytes, "tensor torch.FloatTensor of 2147483647 dimensions needs 34359738360 bytes of sizes, strides and offset")
        var negativeDims = T7Bytes()
        negativeDims.object(1, "torch.DoubleTensor"); negativeDims.int(-3)
        reject(negativeDims.bytes, "negative dimension count -3")
        var storage = T7Bytes()
        storage.object(1, "torch.DoubleStorage"); storage.long(1 << 40)
        reject(storage.bytes, "storage torch.DoubleStorage of 1099511627776 elements needs 8796093022208 bytes but only 0 remain")
        var overflowing = T7Bytes()
        overflowing.object(1, "torch.DoubleStorage"); overflowing.long(Int64.max)
        reject(overflowing.bytes, "needs more than")
        var negativeStorage = T7Bytes()
        negativeStorage.object(1, "torch.ByteStorage"); negativeStorage.long(-1)
        reject(negativeStorage.bytes, "negative element count -1")
        var function = T7Bytes()
        function.int(8); function.int(1); function.int(Int32.max)
        reject(function.bytes, "function bytecode of 2147483647 bytes does not fit")
        var className = T7Bytes()
        className.int(4); className.int(1); className.int(0x7FFF_FFF0)
        reject(className.bytes, "class version of 2147483632 bytes exceeds")
    }

    func testNestingDepthLimit() throws {
        func nested(_ levels: Int) -> [UInt8] {
            var b = T7Bytes()
            for i in 0..<levels {
                b.int(3); b.int(Int32(i + 1))
                if i == levels - 1 { b.int(0) } else { b.int(1); b.int(1); b.double(1) }
            }
            return b.bytes
        }
        XCTAssertNoThrow(try Torch7.parse(nested(Torch7.maxDepth + 1), source: source))
        reject(nested(Torch7.maxDepth + 2), "values nested deeper than \(Torch7.maxDepth) levels")
        reject(nested(5_000), "values nested deeper than")

        // Chains through shared references count too: [T1 ⊃ … ⊃ T300, U1 ⊃ … ⊃ U300 ⊃ T1] is 600 deep
        // even though no table is written more than 301 levels down.
        func chain(segments: Int, length: Int) -> [UInt8] {
            var b = T7Bytes()
            var index: Int32 = 1
            b.int(3); b.int(index); b.int(Int32(segments))
            var previousHead: Int32?
            for segment in 0..<segments {
                b.int(1); b.double(Double(segment + 1))
                let head = index + 1
                for level in 0..<length {
                    index += 1
                    b.int(3); b.int(index)
                    if level < length - 1 {
                        b.int(1); b.int(1); b.double(1)
                    } else if let previousHead {
                        b.int(1); b.int(1); b.double(1); b.int(3); b.int(previousHead)
                    } else {
                        b.int(0)
                    }
                }
                previousHead = head
            }
            return b.bytes
        }
        XCTAssertEqual(try Torch7.parse(chain(segments: 1, length: 300), source: source).table?.count, 1)
        reject(chain(segments: 2, length: 300), "values nested deeper than \(Torch7.maxDepth) levels (shared references included)")
        reject(chain(segments: 200, length: 300), "values nested deeper than")
    }

    /// Every proper prefix of a valid file is an error (an I/O error naming the file), never a crash.
    func testTruncationsAlwaysFail() throws {
        var files = Torch7Fixtures.names.filter { !$0.hasPrefix("tds_") && $0 != "gmodule_with_linear_identity.t7" }
            .map { ($0, Torch7Fixtures.bytes($0)) }
        files.append(("small-module.t7", smallModuleFile()))
        let gmodule = Torch7Fixtures.bytes("gmodule_with_linear_identity.t7")
        for (name, bytes) in files {
            XCTAssertNoThrow(try Torch7.parse(bytes, source: name))
            for length in 0..<bytes.count {
                assertIOError(try Torch7.parse(Array(bytes[0..<length]), source: name), contains: [name + ": "])
            }
        }
        // The 10 KB nngraph file: every length up to 1 KB, then every 7th.
        for length in Array(0..<1024) + Array(stride(from: 1024, to: gmodule.count, by: 7)) {
            assertIOError(try Torch7.parse(Array(gmodule[0..<length]), source: "gmodule.t7"), contains: ["gmodule.t7: "])
        }
    }

    /// Seeded random corruption: every outcome is a value or an I/O error, with tensors that materialize.
    func testRandomMutations() throws {
        var files = Torch7Fixtures.names.filter { !$0.hasPrefix("tds_") }.map { Torch7Fixtures.bytes($0) }
        files.append(smallModuleFile())
        var rng = SplitMix64(seed: 0x7_7E57)
        var parsed = 0, rejected = 0
        let start = Date()
        for iteration in 0..<2000 {
            var bytes = files[iteration % files.count]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let position = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:  // a huge or negative int32 over a length, count or tag
                    let word: [UInt8] = [[0xFF, 0xFF, 0xFF, 0x7F], [0xFF, 0xFF, 0xFF, 0xFF], [0, 0, 0, 0x80], [0x10, 0, 0, 0]]
                        .randomElement(using: &rng)!
                    for (k, b) in word.enumerated() where position + k < bytes.count { bytes[position + k] = b }
                case 1:
                    bytes[position] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                case 2:
                    bytes.remove(at: position)
                    if bytes.isEmpty { bytes = [0] }
                default:
                    bytes[position] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            do {
                let value = try Torch7.parse(bytes, source: "mutant.t7")
                parsed += 1
                _ = Torch7.serialize(value)
                try touchTensors(value)
            } catch ResNeXtError.io(let message) {
                rejected += 1
                XCTAssertTrue(message.hasPrefix("mutant.t7: "), message)
            } catch {
                XCTFail("iteration \(iteration): unexpected error \(error)")
            }
        }
        XCTAssertEqual(parsed + rejected, 2000)
        XCTAssertGreaterThan(rejected, 500)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    }

    /// Materializes every tensor reachable from `value` (tables visited once).
    private func touchTensors(_ value: Torch7Value) throws {
        var seen = Set<ObjectIdentifier>()
        func visit(_ v: Torch7Value, _ depth: Int) throws {
            guard depth < 50 else { return }
            switch v {
            case .tensor(let t): _ = try t.floats()
            case .storage(let s): _ = s.doubles()
            case .object(_, _, let payload): try visit(payload, depth + 1)
            case .function(let f): try visit(f.upvalues, depth + 1)
            case .table(let t):
                guard seen.insert(ObjectIdentifier(t)).inserted else { return }
                for (k, item) in t.entries { try visit(k, depth + 1); try visit(item, depth + 1) }
            default: break
            }
        }
        try visit(value, 0)
    }
}
