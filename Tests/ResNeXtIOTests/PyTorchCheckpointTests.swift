import Foundation
import ResNeXtCore
import ResNeXtIO
import XCTest

final class PyTorchCheckpointTests: XCTestCase {
    private let source = "test.pth"

    /// Compares a parse result with `PyTorchFixtures.valuesExpected` exactly (F32 bit patterns, integers).
    private func assertExpectedValues(_ tensors: [(name: String, tensor: StoredTensor)], file: StaticString = #filePath, line: UInt = #line)
    {
        let expected = PyTorchFixtures.valuesExpected
        XCTAssertEqual(tensors.map(\.name), expected.map(\.name), file: file, line: line)
        for ((name, tensor), want) in zip(tensors, expected) {
            XCTAssertEqual(tensor.dtype.rawValue, want.dtype, name, file: file, line: line)
            XCTAssertEqual(tensor.shape, want.shape, name, file: file, line: line)
            let got: [Int64] = tensor.bytes.withUnsafeBytes { raw in
                (0..<tensor.elementCount).map { i -> Int64 in
                    switch tensor.dtype {
                    case .F32: Int64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    case .I64: Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                    case .I32: Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                    case .U8, .BOOL: Int64(raw[i])
                    default: -999
                    }
                }
            }
            XCTAssertEqual(got, want.values, name, file: file, line: line)
        }
    }

    // MARK: - Files written by torch.save

    func testValuesAreExact() throws {
        let tensors = try PyTorchCheckpoint.parse(pthFixture(PyTorchFixtures.values), source: source)
        assertExpectedValues(tensors)
        // Spot checks in plain numbers: float64 0.1 rounds to Float(0.1); the transpose is materialized row-major.
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
        XCTAssertEqual(byName["f64"]?.floats(), [0.1, -2.5, 1e10, 3, -0.0, Float(1e-40)])
        XCTAssertEqual(byName["f16"]?.floats(), [1, -0.5, 65504, 0x1p-24, Float(Float16(0.333)), .infinity])
        XCTAssertEqual(byName["base"]?.floats(), (0..<12).map { Float($0) * 0.5 - 1 })
        XCTAssertEqual(byName["transposed"]?.floats(), [-1, 1, 3, -0.5, 1.5, 3.5, 0, 2, 4, 0.5, 2.5, 4.5])
        XCTAssertEqual(byName["slice"]?.floats(), [-0.5, 1, 2.5, 4])
        XCTAssertEqual(byName["row"]?.floats(), [1, 1.5, 2, 2.5])
        XCTAssertEqual(byName["steps"], try StoredTensor(dtype: .I64, shape: [], bytes: le(Int64(7))))
    }

    func testProtocol4AndZip64FilesReadTheSame() throws {
        assertExpectedValues(try PyTorchCheckpoint.parse(pthFixture(PyTorchFixtures.valuesProtocol4), source: source))
        assertExpectedValues(try PyTorchCheckpoint.parse(pthFixture(PyTorchFixtures.valuesZip64), source: source))
    }

    func testReadsFromAFile() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let path = directory.path + "/values.pth"
        try FileIO.writeAtomically(pthFixture(PyTorchFixtures.values), to: path)
        assertExpectedValues(try PyTorchCheckpoint.read(path))
        assertIOError(try PyTorchCheckpoint.read(directory.path + "/missing.pth"), contains: ["missing.pth", "No such file"])
    }

    func testTrainingCheckpointReadsItsStateDict() throws {
        let tensors = try PyTorchCheckpoint.parse(pthFixture(PyTorchFixtures.trainingCheckpoint), source: source)
        XCTAssertEqual(tensors.map(\.name), ["conv.weight", "conv.bias"])
        XCTAssertEqual(tensors[0].tensor, StoredTensor(shape: [1, 2], floats: [0.25, -0.75]))
        XCTAssertEqual(tensors[1].tensor, StoredTensor(shape: [1], floats: [0.5]))
    }

    // MARK: - Hostile and broken files

    private func pwnedFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "/tmp").filter { ("/tmp/" + $0).hasPrefix(PyTorchFixtures.pwnedMarker) }
    }

    func testHostilePicklesAreRefusedByNameAndNothingRuns() throws {
        for name in try pwnedFiles() { try? FileManager.default.removeItem(atPath: "/tmp/" + name) }
        let cases: [(String, String)] = [
            (PyTorchFixtures.osSystem, "os.system"),
            (PyTorchFixtures.posixSystemReduce, "posix.system"),
            (PyTorchFixtures.builtinsEval, "builtins.eval"),
            (PyTorchFixtures.customClass, "mytrainer.TrainConfig")
        ]
        for (fixture, global) in cases {
            let message = assertIOError(
                try PyTorchCheckpoint.parse(pthFixture(fixture), source: "evil.pth"),
                contains: ["refusing to load evil.pth: pickle references \(global) (only tensors and dicts are allowed)"])
            XCTAssertNotNil(message, global)
        }
        // Through the file API too.
        let directory = try TempDirectory()
        defer { directory.remove() }
        try FileIO.writeAtomically(pthFixture(PyTorchFixtures.osSystem), to: directory.path + "/evil.pth")
        assertIOError(
            try PyTorchCheckpoint.read(directory.path + "/evil.pth"),
            contains: ["refusing to load \(directory.path)/evil.pth: pickle references os.system"])
        XCTAssertEqual(try pwnedFiles(), [], "a command in a hostile fixture ran")
    }

    func testBrokenArchivesAreRejectedClearly() {
        assertIOError(
            try PyTorchCheckpoint.parse(pthFixture(PyTorchFixtures.truncated), source: source),
            contains: [source, "truncated", "no end-of-central-directory record"])
        assertIOError(
            try PyTorchCheckpoint.parse(pthFixture(PyTorchFixtures.compressed), source: source),
            contains: [source, "values/data.pkl", "compressed zip entries are not supported"])
        assertIOError(
            try PyTorchCheckpoint.parse(pthFixture(PyTorchFixtures.legacy), source: source),
            contains: [source, "legacy (non-zip) torch.save format is not supported"])
        assertIOError(try PyTorchCheckpoint.parse([], source: source), contains: [source, "not a zip archive"])
        assertIOError(
            try PyTorchCheckpoint.parse(Array("PK not really a zip file at all".utf8), source: source),
            contains: [source, "no end-of-central-directory record"])
        assertIOError(
            try PyTorchCheckpoint.parse(storedZip([("archive/other", [1])]), source: source),
            contains: [source, "no archive/data.pkl entry"])
        // A storage byte changed: the CRC check catches it.
        var corrupt = pthFixture(PyTorchFixtures.values)
        let archive = try! ZipArchive(bytes: corrupt, source: source)
        let range = try! archive.dataRange(of: archive.entry(named: "values/data/3")!)
        corrupt[range.lowerBound] ^= 0x01
        assertIOError(try PyTorchCheckpoint.parse(corrupt, source: source), contains: [source, "values/data/3", "CRC-32 mismatch"])
    }

    func testZipArchiveReader() throws {
        let zip = storedZip([("a/x", [1, 2, 3]), ("a/y", [])])
        let archive = try ZipArchive(bytes: zip, source: "t.zip")
        XCTAssertEqual(archive.entries.map(\.name), ["a/x", "a/y"])
        XCTAssertEqual(try archive.contents(named: "a/x").map(Array.init), [1, 2, 3])
        XCTAssertEqual(try archive.contents(named: "a/y").map(Array.init), [])
        XCTAssertNil(try archive.contents(named: "a/z"))
        XCTAssertEqual(ZipArchive.crc32(Array("123456789".utf8)), 0xCBF4_3926)
        // A deflated entry (method 8), an archive comment, a central directory pointing outside the file.
        let deflated = try ZipArchive(bytes: storedZip([("a/x", [1, 2, 3])], method: 8), source: "t.zip")
        assertIOError(
            try deflated.contents(of: deflated.entries[0]), contains: ["t.zip", "a/x", "compressed zip entries are not supported"])
        var commented = zip
        commented[commented.count - 2] = 4
        commented += Array("note".utf8)
        XCTAssertEqual(try ZipArchive(bytes: commented, source: "t.zip").entries.count, 2)
        var outside = zip
        outside[outside.count - 3] = 0x7F  // the central directory offset's high byte
        assertIOError(try ZipArchive(bytes: outside, source: "t.zip"), contains: ["t.zip", "central directory"])
        let zip64 = try ZipArchive(bytes: pthFixture(PyTorchFixtures.valuesZip64), source: "z64.pth")
        XCTAssertEqual(zip64.entries.first?.name, "values/data.pkl")
    }

    /// 64-bit sizes and offsets far beyond the file (which crash ZIPFoundation 0.9.20, see ZipArchive) are
    /// refused with errors that name the file.
    func testHostileZip64NumbersAreRejected() throws {
        let original = pthFixture(PyTorchFixtures.valuesZip64)
        func patched(_ edits: [(offset: Int, value: UInt64)]) -> [UInt8] {
            var bytes = original
            for (offset, value) in edits { bytes.replaceSubrange(offset..<(offset + 8), with: le(value)) }
            return bytes
        }
        let signature: [UInt8] = [0x50, 0x4B, 0x06, 0x06]
        let record = try XCTUnwrap((0...(original.count - 4)).last { Array(original[$0..<($0 + 4)]) == signature })
        assertIOError(
            try PyTorchCheckpoint.parse(patched([(record + 48, 0xFFFF_FFFF_FFFF_FF00)]), source: source),
            contains: [source, "central directory (offset 18446744073709551360", "lies outside"])
        assertIOError(
            try PyTorchCheckpoint.parse(patched([(record + 24, 1 << 40), (record + 32, 1 << 40)]), source: source),
            contains: [source, "1099511627776 entries exceed the limit"])
        // The first central directory record's zip64 extra field: uncompressed size, compressed size, local header offset.
        let directory = Int(
            UInt64(littleEndian: original[(record + 48)..<(record + 56)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        let extra = directory + 46 + Int(original[directory + 28]) + Int(original[directory + 29]) << 8
        XCTAssertEqual(Array(original[extra..<(extra + 2)]), [0x01, 0x00], "zip64 extra field expected first")
        assertIOError(
            try PyTorchCheckpoint.parse(patched([(extra + 20, 1 << 63)]), source: source),
            contains: [source, "values/data.pkl", "size or offset exceeds"])
        assertIOError(
            try PyTorchCheckpoint.parse(patched([(extra + 4, UInt64.max), (extra + 12, UInt64.max)]), source: source),
            contains: [source, "values/data.pkl", "size or offset exceeds"])
    }

    // MARK: - Hand-built pickles

    func testNestedStateDictSelectionAndIgnoredValues() throws {
        // {"model": {"w": t}, "epoch": 1} reads "w"; with both "model" and "state_dict", everything is flattened.
        for keys in [["model"], ["model", "state_dict"]] {
            var p = PickleBuilder()
            p.emptyDict()
            p.mark()
            for key in keys {
                p.string(key)
                p.emptyDict()
                p.string("w")
                p.tensor(key: "0", count: 2, size: [2], stride: [1])
                p.setItem()
            }
            p.string("epoch")
            p.int(1)
            p.setItems()
            p.stop()
            let tensors = try PyTorchCheckpoint.parse(pthArchive(pickle: p.bytes, storages: [("0", f32Bytes([1, 2]))]), source: source)
            XCTAssertEqual(tensors.map(\.name), keys.count == 1 ? ["w"] : ["model.w", "state_dict.w"])
            XCTAssertEqual(tensors[0].tensor.floats(), [1, 2])
        }
    }

    func testBigEndianStoragesAndBroadcastViews() throws {
        let big = [Float(1.5), -2].flatMap { value -> [UInt8] in le(value.bitPattern).reversed() }
        let tensors = try PyTorchCheckpoint.parse(
            pthArchive(pickle: PickleBuilder.singleTensor(count: 2, size: [2], stride: [1]), storages: [("0", big)], byteorder: "big"),
            source: source)
        XCTAssertEqual(tensors[0].tensor.floats(), [1.5, -2])
        // A stride-0 (expanded) view repeats elements.
        let expanded = try PyTorchCheckpoint.parse(
            pthArchive(
                pickle: PickleBuilder.singleTensor(count: 2, offset: 1, size: [2, 3], stride: [0, 0]), storages: [("0", f32Bytes([7, 8]))]),
            source: source)
        XCTAssertEqual(expanded[0].tensor.floats(), [8, 8, 8, 8, 8, 8])
        // ... but not past the output limit (checked before allocating).
        assertIOError(
            try PyTorchCheckpoint.parse(
                pthArchive(
                    pickle: PickleBuilder.singleTensor(count: 2, size: [1 << 20, 1 << 20], stride: [0, 0]),
                    storages: [("0", f32Bytes([7, 8]))]),
                source: source), contains: [source, "would exceed the output limit"])
        assertIOError(
            try PyTorchCheckpoint.parse(
                pthArchive(
                    pickle: PickleBuilder.singleTensor(count: 2, size: [1], stride: [1]), storages: [("0", f32Bytes([7, 8]))],
                    byteorder: "middle"),
                source: source), contains: [source, "byteorder"])
    }

    func testStorageAndViewErrors() {
        func parse(_ pickle: [UInt8], _ storage: [UInt8] = f32Bytes([1, 2, 3, 4])) throws -> [(name: String, tensor: StoredTensor)] {
            try PyTorchCheckpoint.parse(pthArchive(pickle: pickle, storages: [("0", storage)]), source: source)
        }
        assertIOError(
            try parse(PickleBuilder.singleTensor(count: 4, offset: 1, size: [2, 2], stride: [2, 1])),
            contains: [source, "reaches element 4 of storage \"0\", which has 4"])
        assertIOError(
            try parse(PickleBuilder.singleTensor(count: 5, size: [4], stride: [1])),
            contains: [source, "storage \"0\" holds 16 bytes but the pickle declares 5 elements of 4 bytes"])
        assertIOError(
            try parse(PickleBuilder.singleTensor(count: 4, size: [2, 2], stride: [1])),
            contains: [source, "size has 2 dimensions but stride has 1"])
        assertIOError(
            try parse(PickleBuilder.singleTensor(count: 4, size: [Int(Int32.max), Int(Int32.max), Int(Int32.max)], stride: [0, 0, 0])),
            contains: [source, "too many elements"])
        assertIOError(
            try PyTorchCheckpoint.parse(pthArchive(pickle: PickleBuilder.singleTensor(count: 4, size: [4], stride: [1])), source: source),
            contains: [source, "storage \"0\" referenced by the pickle is missing"])
        assertIOError(
            try parse(PickleBuilder.singleTensor(count: 4, size: [4], stride: [1], storageType: "ComplexFloatStorage")),
            contains: ["refusing to load \(source): pickle references torch.ComplexFloatStorage"])
        // Integer storages keep their type; DoubleStorage converts to F32.
        let longs = try? parse(
            PickleBuilder.singleTensor(count: 2, size: [2], stride: [1], storageType: "LongStorage"), le(Int64(-3)) + le(Int64(1 << 40)))
        XCTAssertEqual(longs?[0].tensor, try StoredTensor(dtype: .I64, shape: [2], bytes: le(Int64(-3)) + le(Int64(1 << 40))))
    }

    func testPickleMachineErrors() {
        func parse(_ build: (inout PickleBuilder) -> Void) throws -> [(name: String, tensor: StoredTensor)] {
            var p = PickleBuilder()
            build(&p)
            return try PyTorchCheckpoint.parse(pthArchive(pickle: p.bytes, storages: [("0", [])]), source: source)
        }
        // STACK_GLOBAL (protocol 4) is checked against the same allow-list.
        assertIOError(
            try parse { p in
                p.string("subprocess"); p.string("Popen"); p.raw(0x93)
            },
            contains: ["refusing to load \(source): pickle references subprocess.Popen"])
        assertIOError(try parse { p in p.global("torch", "load") }, contains: ["pickle references torch.load"])
        assertIOError(
            try parse { p in
                p.global("torch", "FloatStorage"); p.raw(0x29); p.reduce(); p.stop()
            },
            contains: [source, "REDUCE calls torch.FloatStorage, which is not allowed"])
        assertIOError(
            try parse { p in
                p.emptyDict(); p.raw(0x29); p.reduce()
            }, contains: [source, "REDUCE calls a dict"])
        assertIOError(try parse { p in p.global("copyreg", "_reconstructor") }, contains: ["pickle references copyreg._reconstructor"])
        assertIOError(try parse { p in p.raw(0x81) }, contains: [source, "NEWOBJ (0x81) is not supported"])
        assertIOError(try parse { p in p.raw(0xFF) }, contains: [source, "unknown pickle opcode 0xff"])
        assertIOError(try parse { p in p.emptyDict() }, contains: [source, "ends without a STOP"])
        assertIOError(try parse { p in p.raw(0x73) }, contains: [source, "stack underflow"])
        assertIOError(try parse { p in p.get(3) }, contains: [source, "memo entry 3 is not defined"])
        assertIOError(try parse { p in p.raw(0x58, 0xFF, 0xFF, 0xFF, 0x7F) }, contains: [source, "exceeds the limit"])
        assertIOError(try parse { p in p.raw(0x58, 0x10, 0, 0, 0, 0x41) }, contains: [source, "truncated"])
        assertIOError(try parse { p in p.raw(0x8C, 2, 0xC3, 0x28) }, contains: [source, "not valid UTF-8"])
        assertIOError(try parse { p in p.raw(0x80, 9) }, contains: [source, "unsupported pickle protocol 9"])
        assertIOError(
            try parse { p in
                p.emptyDict(); p.raw(0x5D); p.raw(0x5D); p.setItem(); p.stop()
            },
            contains: [source, "dict key of type list"])
        assertIOError(
            try parse { p in
                p.raw(0x5D); p.stop()
            }, contains: [source, "holds a list, not a dict"])
        assertIOError(
            try parse { p in
                p.raw(0x29); p.raw(0x29); p.raw(0x62); p.stop()
            }, contains: [source, "BUILD on a tuple is not allowed"])
        assertIOError(try parse { p in for _ in 0..<70 { p.raw(0x85) } }, contains: [source, "stack underflow"])
        assertIOError(
            try parse { p in
                p.raw(0x29); for _ in 0..<70 { p.raw(0x85) }
            }, contains: [source, "tuples nested deeper than 64"])
        assertIOError(try parse { p in p.raw(0x8A, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1) }, contains: [source, "out of the 64-bit range"])
        // A dict that contains itself: flattening stops at the depth limit (and the cycle is freed).
        assertIOError(
            try parse { p in
                p.emptyDict(); p.put(0); p.string("self"); p.get(0); p.setItem(); p.stop()
            },
            contains: [source, "dicts nested deeper than 32"])
        // Sharing one sub-dict at every level would flatten to 2^40 names: the visit limit stops it.
        assertIOError(
            try parse { p in
                p.emptyDict(); p.string("w"); p.tensor(key: "0", count: 0, size: [0], stride: [1]); p.setItem(); p.put(0)
                for level in 1...30 {
                    p.emptyDict(); p.string("a"); p.get(UInt8(level - 1)); p.setItem(); p.string("b"); p.get(UInt8(level - 1)); p.setItem();
                    p.put(UInt8(level))
                }
                p.stop()
            }, contains: [source, "more than 10000000 dict entries to flatten"])
    }

    func testPickleMachineValues() throws {
        // LONG1 (negative and wide), BININT2, BININT, BINFLOAT, NONE, lists, OrderedDict([(k, v)]), duplicate keys.
        var p = PickleBuilder()
        p.global("collections", "OrderedDict")
        p.mark()
        p.raw(0x5D); p.mark()
        p.mark(); p.string("a"); p.tensor(key: "0", count: 1, size: [], stride: []); p.tuple()
        p.raw(0x65)  // APPENDS
        p.tuple()
        p.reduce()
        p.mark()
        p.string("n1"); p.raw(0x8A, 2, 0x00, 0xFF)  // -256
        p.string("n2"); p.raw(0x8A, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0)  // 1 (9 bytes, sign extension)
        p.string("n3"); p.raw(0x4D, 0x34, 0x12); p.string("n4"); p.raw(0x4A, 0xFF, 0xFF, 0xFF, 0xFF)
        p.string("f"); p.raw(0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0); p.string("z"); p.raw(0x4E)
        p.string("l"); p.raw(0x5D); p.int(1); p.raw(0x61)
        p.string("a"); p.tensor(key: "0", count: 1, offset: 0, size: [1], stride: [1])  // replaces "a", keeps its position
        p.setItems()
        p.stop()
        let tensors = try PyTorchCheckpoint.parse(pthArchive(pickle: p.bytes, storages: [("0", f32Bytes([4]))]), source: source)
        XCTAssertEqual(tensors.map(\.name), ["a"])
        XCTAssertEqual(tensors[0].tensor, StoredTensor(shape: [1], floats: [4]))
    }

    // MARK: - Robustness

    /// Seeded random mutations of a valid file, and of its pickle re-zipped with valid CRCs: every result
    /// is a value or a thrown error, never a crash.
    func testRandomMutationsNeverCrash() throws {
        let original = pthFixture(PyTorchFixtures.values)
        let entries = try zipEntries(original)
        let pickleIndex = try XCTUnwrap(entries.firstIndex { $0.name.hasSuffix("data.pkl") })
        var rng = SplitMix64(seed: 20_261_127)
        var accepted = 0, refused = 0
        let start = Date()
        for iteration in 0..<1200 {
            var bytes: [UInt8]
            let rezip = iteration % 2 == 1
            if rezip {
                bytes = entries[pickleIndex].data
            } else {
                bytes = original
            }
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                guard !bytes.isEmpty else { break }
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
                case 1: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 2: bytes[at] = [0, 0xFF, 0x7F, 0x80][Int.random(in: 0..<4, using: &rng)]
                case 3: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &rng)))
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                }
            }
            if rezip {
                var mutated = entries
                mutated[pickleIndex].data = bytes
                bytes = storedZip(mutated)
            }
            do {
                _ = try PyTorchCheckpoint.parse(bytes, source: source)
                accepted += 1
            } catch ResNeXtError.io(_) {
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 100)
        XCTAssertGreaterThan(accepted, 10)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }
}
