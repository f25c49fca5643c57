import Foundation
import ResNeXtCore
import ResNeXtIO
import XCTest

/// The bytes of a base64 fixture from PyTorchFixtureData.swift.
func pthFixture(_ base64: String) -> [UInt8] {
    [UInt8](Data(base64Encoded: base64, options: .ignoreUnknownCharacters)!)
}

/// A zip archive of stored entries with correct CRCs (optionally recording a compression method it
/// does not apply, to test refusals).
func storedZip(_ entries: [(name: String, data: [UInt8])], method: UInt16 = 0) -> [UInt8] {
    var out: [UInt8] = [], central: [UInt8] = []
    for (name, data) in entries {
        let nameBytes = Array(name.utf8), crc = ZipArchive.crc32(data), offset = out.count
        let common: [UInt8] =
            le(UInt16(20)) + le(UInt16(0)) + le(method) + le(UInt32(0)) + le(crc)
            + le(UInt32(data.count)) + le(UInt32(data.count)) + le(UInt16(nameBytes.count)) + le(UInt16(0))
        out += le(UInt32(0x0403_4B50)) + common + nameBytes + data
        central +=
            le(UInt32(0x0201_4B50)) + le(UInt16(20)) + common + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0))
            + le(UInt32(0)) + le(UInt32(offset)) + nameBytes
    }
    let directoryOffset = out.count
    out += central
    out +=
        le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count)) + le(UInt16(entries.count))
        + le(UInt32(central.count)) + le(UInt32(directoryOffset)) + le(UInt16(0))
    return out
}

/// A torch.save-style archive: `archive/data.pkl`, `archive/byteorder`, `archive/data/<key>`, `archive/version`.
func pthArchive(pickle: [UInt8], storages: [(key: String, data: [UInt8])] = [], byteorder: String? = "little") -> [UInt8] {
    var entries: [(name: String, data: [UInt8])] = [("archive/data.pkl", pickle)]
    if let byteorder { entries.append(("archive/byteorder", Array(byteorder.utf8))) }
    entries += storages.map { ("archive/data/\($0.key)", $0.data) }
    entries.append(("archive/version", Array("3\n".utf8)))
    return storedZip(entries)
}

/// The entries of a stored zip archive, read back with `ZipArchive`.
func zipEntries(_ bytes: [UInt8]) throws -> [(name: String, data: [UInt8])] {
    let archive = try ZipArchive(bytes: bytes, source: "test")
    return try archive.entries.map { ($0.name, Array(try archive.contents(of: $0))) }
}

/// Little-endian float32 bytes.
func f32Bytes(_ values: [Float]) -> [UInt8] { values.flatMap { le($0.bitPattern) } }

/// Writes pickle opcodes (protocol 2 unless stated).
struct PickleBuilder {
    var bytes: [UInt8] = [0x80, 0x02]

    mutating func raw(_ b: UInt8...) { bytes += b }
    mutating func mark() { raw(0x28) }
    mutating func stop() { raw(0x2E) }
    mutating func emptyDict() { raw(0x7D) }
    mutating func setItems() { raw(0x75) }
    mutating func setItem() { raw(0x73) }
    mutating func put(_ index: UInt8) { raw(0x71, index) }
    mutating func get(_ index: UInt8) { raw(0x68, index) }
    mutating func tuple() { raw(0x74) }
    mutating func reduce() { raw(0x52) }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes += [0x58] + le(UInt32(utf8.count)) + utf8
    }

    mutating func int(_ value: Int) {
        if (0..<256).contains(value) { raw(0x4B, UInt8(value)) } else { bytes += [0x4A] + le(Int32(value)) }
    }

    mutating func global(_ module: String, _ name: String) {
        bytes += [0x63] + Array("\(module)\n\(name)\n".utf8)
    }

    mutating func ints(_ values: [Int]) {
        mark()
        for v in values { int(v) }
        tuple()
    }

    /// `_rebuild_tensor_v2(storage key, offset, size, stride, False, OrderedDict())` pushed as one value.
    mutating func tensor(key: String, storageType: String = "FloatStorage", count: Int, offset: Int = 0, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark()
        string("storage")
        global("torch", storageType)
        string(key)
        string("cpu")
        int(count)
        tuple()
        raw(0x51)  // BINPERSID
        int(offset)
        ints(size)
        ints(stride)
        raw(0x89)  // NEWFALSE
        global("collections", "OrderedDict")
        raw(0x29)  // EMPTY_TUPLE
        reduce()
        tuple()
        reduce()
    }

    /// A protocol-2 pickle of a dict {name: tensor over storage "0"} with the given view.
    static func singleTensor(count: Int, offset: Int = 0, size: [Int], stride: [Int], storageType: String = "FloatStorage") -> [UInt8] {
        var p = PickleBuilder()
        p.emptyDict()
        p.string("t")
        p.tensor(key: "0", storageType: storageType, count: count, offset: offset, size: size, stride: stride)
        p.setItem()
        p.stop()
        return p.bytes
    }
}
