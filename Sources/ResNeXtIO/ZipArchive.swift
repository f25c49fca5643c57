import ResNeXtCore

/// A read-only zip archive held in memory: its central directory (zip64 records when present) and the
/// contents of stored (uncompressed, method 0) entries. This is all `torch.save` writes; compressed,
/// encrypted and multi-disk archives are rejected with an error that says so.
///
/// Every size and offset read from the archive is bounds-checked against the bytes before use, and an
/// entry's CRC-32 is verified when it is read (except where the archive stores 0, as `torch.save` does
/// when CRC computation is turned off).
///
/// Why this reader is not ZIPFoundation (0.9.20, the release available here; measured on Linux with
/// Swift 6.3.1 in a scratch package that read the `PyTorchFixtures` archives and mutations of them):
/// - It does not read torch.save's zip64 archives. `valuesZip64` (torch 2.x; every 32-bit size and offset
///   is 0xFFFFFFFF and the real ones are in zip64 extra fields) lists 0 entries, with no error, through
///   `Archive(url:)`, and `Archive(data:)` kills the process ("Range requires lowerBound <= upperBound" in
///   `MemoryFile.readData`, which seeks past the end of the data).
/// - Hostile numbers crash it: a zip64 end record whose central directory offset is 2^64 − 256 traps in
///   `Data.readStruct` ("Not enough bits to represent the passed value", the `off_t(offset)` conversion),
///   from a file and from memory alike. Random 1–4 byte mutations of `values` (as in
///   `testRandomMutationsNeverCrash`) crashed `Archive(data:)` within the first 12 files for each of 3 seeds.
/// - It is lax where this reader reports an error: a central directory record it cannot read silently ends
///   the listing. Of 1,200 mutated `values` files read through `Archive(url:)` (seed 1), 686 listed no
///   entries and 181 only some of their 19, without an error; 13 raised one. Duplicate names are not
///   reported, the local header's name is not compared with the directory's, and deflated entries are
///   inflated (torch.save writes stored entries only; refusing others keeps zlib and zip bombs out).
/// Guarding against all of that means validating the end records and the central directory first, which
/// is what this file does; ZIPFoundation would then add only zlib and a copy of every entry it extracts.
public struct ZipArchive: Sendable {
    /// One central-directory record.
    public struct Entry: Sendable, Equatable {
        /// The entry's path inside the archive.
        public let name: String
        /// 0 = stored; anything else is a compression method this reader does not implement.
        public let method: UInt16
        /// General-purpose flags (bit 0: encrypted; bit 3: sizes in a data descriptor; bit 11: UTF-8 name).
        public let flags: UInt16
        public let crc32: UInt32
        public let compressedSize: Int
        public let uncompressedSize: Int
        /// Offset of the entry's local header from the start of the archive.
        public let localHeaderOffset: Int
    }

    /// The name used in error messages (usually the file path).
    public let source: String
    /// Central-directory records in directory order.
    public let entries: [Entry]
    private let bytes: [UInt8]
    private let index: [String: Int]

    /// The most entries an archive may declare.
    public static let maxEntries = 1_000_000

    /// Parses the end-of-central-directory record (zip64 when needed) and the central directory.
    /// - Throws: `ResNeXtError.io("<source>: <what is wrong>")`.
    public init(bytes: [UInt8], source: String) throws {
        self.bytes = bytes
        self.source = source
        func bad(_ message: String) -> ResNeXtError { .io("\(source): \(message)") }
        let reader = ZipByteReader(bytes: bytes)

        // End of central directory: 22 bytes plus a comment of at most 65535 bytes, at the very end.
        guard bytes.count >= 22 else {
            throw bad("not a zip archive: \(bytes.count) bytes is too short for an end-of-central-directory record")
        }
        var eocd = -1
        var position = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65_535)
        while position >= lowest {
            if reader.u32(position) == 0x0605_4B50, position + 22 + Int(reader.u16(position + 20)) <= bytes.count {
                eocd = position
                break
            }
            position -= 1
        }
        guard eocd >= 0 else {
            throw bad("not a zip archive or truncated: no end-of-central-directory record found")
        }
        var diskNumber = UInt64(reader.u16(eocd + 4))
        var directoryDisk = UInt64(reader.u16(eocd + 6))
        var entriesOnDisk = UInt64(reader.u16(eocd + 8))
        var entryCount = UInt64(reader.u16(eocd + 10))
        var directorySize = UInt64(reader.u32(eocd + 12))
        var directoryOffset = UInt64(reader.u32(eocd + 16))
        var directoryLimit = eocd  // the central directory must end before this offset

        // Zip64: a locator sits right before the classic record and points at the zip64 record.
        if eocd >= 20, reader.u32(eocd - 20) == 0x0706_4B50 {
            let locatorDisk = reader.u32(eocd - 16)
            let recordOffset = reader.u64(eocd - 12)
            guard locatorDisk == 0, reader.u32(eocd - 4) <= 1 else {
                throw bad("multi-disk zip archives are not supported")
            }
            guard recordOffset <= UInt64(eocd - 20), Int(recordOffset) + 56 <= eocd - 20 else {
                throw bad("zip64 end-of-central-directory record offset \(recordOffset) is out of bounds")
            }
            let record = Int(recordOffset)
            guard reader.u32(record) == 0x0606_4B50 else {
                throw bad("zip64 end-of-central-directory record not found at offset \(record)")
            }
            diskNumber = UInt64(reader.u32(record + 16))
            directoryDisk = UInt64(reader.u32(record + 20))
            entriesOnDisk = reader.u64(record + 24)
            entryCount = reader.u64(record + 32)
            directorySize = reader.u64(record + 40)
            directoryOffset = reader.u64(record + 48)
            directoryLimit = record
        } else if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            throw bad("the end-of-central-directory record needs zip64 values, but the zip64 locator is missing")
        }
        guard diskNumber == 0, directoryDisk == 0, entriesOnDisk == entryCount else {
            throw bad("multi-disk zip archives are not supported")
        }
        guard directoryOffset <= UInt64(directoryLimit), directorySize <= UInt64(directoryLimit) - directoryOffset else {
            throw bad(
                "central directory (offset \(directoryOffset), \(directorySize) bytes) lies outside the archive's \(directoryLimit) bytes "
                    + "before its end records"
            )
        }
        guard entryCount <= UInt64(Self.maxEntries) else {
            throw bad("\(entryCount) entries exceed the limit of \(Self.maxEntries)")
        }
        guard entryCount * 46 <= directorySize else {
            throw bad("\(entryCount) entries cannot fit in a central directory of \(directorySize) bytes")
        }

        var entries: [Entry] = []
        entries.reserveCapacity(Int(entryCount))
        var index: [String: Int] = [:]
        var cursor = Int(directoryOffset)
        let directoryEnd = Int(directoryOffset) + Int(directorySize)
        for number in 0..<Int(entryCount) {
            guard cursor + 46 <= directoryEnd, reader.u32(cursor) == 0x0201_4B50 else {
                throw bad("central directory record \(number) is missing or truncated at offset \(cursor)")
            }
            let flags = reader.u16(cursor + 8)
            let method = reader.u16(cursor + 10)
            let crc = reader.u32(cursor + 16)
            var compressed = UInt64(reader.u32(cursor + 20))
            var uncompressed = UInt64(reader.u32(cursor + 24))
            let nameLength = Int(reader.u16(cursor + 28))
            let extraLength = Int(reader.u16(cursor + 30))
            let commentLength = Int(reader.u16(cursor + 32))
            var startDisk = UInt64(reader.u16(cursor + 34))
            var localOffset = UInt64(reader.u32(cursor + 42))
            let nameStart = cursor + 46
            let extraStart = nameStart + nameLength
            let recordEnd = extraStart + extraLength + commentLength
            guard recordEnd <= directoryEnd else {
                throw bad("central directory record \(number) runs past the end of the directory")
            }
            guard let name = String(validating: bytes[nameStart..<extraStart], as: UTF8.self) else {
                throw bad("central directory record \(number) has a name that is not valid UTF-8")
            }

            // The zip64 extended-information field replaces the 32-bit values that read 0xFFFFFFFF, in order.
            var extra = extraStart
            let extraEnd = extraStart + extraLength
            while extra + 4 <= extraEnd {
                let id = reader.u16(extra)
                let size = Int(reader.u16(extra + 2))
                let fieldEnd = extra + 4 + size
                guard fieldEnd <= extraEnd else { throw bad("entry \"\(name)\": extra field runs past its record") }
                if id == 0x0001 {
                    var field = extra + 4
                    func next64(_ what: String) throws -> UInt64 {
                        guard field + 8 <= fieldEnd else { throw bad("entry \"\(name)\": zip64 extra field lacks the \(what)") }
                        defer { field += 8 }
                        return reader.u64(field)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next64("uncompressed size") }
                    if compressed == 0xFFFF_FFFF { compressed = try next64("compressed size") }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next64("local header offset") }
                    if startDisk == 0xFFFF {
                        guard field + 4 <= fieldEnd else { throw bad("entry \"\(name)\": zip64 extra field lacks the disk number") }
                        startDisk = UInt64(reader.u32(field))
                    }
                }
                extra = fieldEnd
            }
            guard startDisk == 0 else { throw bad("multi-disk zip archives are not supported") }
            let limit = UInt64(bytes.count)
            guard compressed <= limit, uncompressed <= limit || method != 0, localOffset <= limit else {
                throw bad("entry \"\(name)\": size or offset exceeds the archive's \(bytes.count) bytes")
            }
            guard index[name] == nil else { throw bad("duplicate zip entry \"\(name)\"") }
            index[name] = entries.count
            entries.append(
                Entry(
                    name: name, method: method, flags: flags, crc32: crc,
                    compressedSize: Int(compressed), uncompressedSize: Int(min(uncompressed, UInt64(Int.max))),
                    localHeaderOffset: Int(localOffset)))
            cursor = recordEnd
        }
        self.entries = entries
        self.index = index
    }

    /// The entry called `name`, if any.
    public func entry(named name: String) -> Entry? {
        index[name].map { entries[$0] }
    }

    /// The byte range of a stored entry's data within the archive (after its local header), without
    /// checking its CRC.
    /// - Throws: `ResNeXtError.io` for compressed or encrypted entries and for a bad local header.
    public func dataRange(of entry: Entry) throws -> Range<Int> {
        func bad(_ message: String) -> ResNeXtError { .io("\(source): zip entry \"\(entry.name)\": \(message)") }
        guard entry.flags & 1 == 0 else { throw bad("encrypted zip entries are not supported") }
        guard entry.method == 0 else {
            throw bad("compressed zip entries are not supported (compression method \(entry.method)); torch.save writes stored entries")
        }
        guard entry.compressedSize == entry.uncompressedSize else {
            throw bad("stored entry has compressed size \(entry.compressedSize) but uncompressed size \(entry.uncompressedSize)")
        }
        let reader = ZipByteReader(bytes: bytes)
        let header = entry.localHeaderOffset
        guard header <= bytes.count - 30, reader.u32(header) == 0x0403_4B50 else {
            throw bad("local header missing at offset \(header)")
        }
        let nameLength = Int(reader.u16(header + 26))
        let extraLength = Int(reader.u16(header + 28))
        let start = header + 30 + nameLength + extraLength
        guard start <= bytes.count, entry.compressedSize <= bytes.count - start else {
            throw bad("data (\(entry.compressedSize) bytes at offset \(start)) runs past the end of the archive")
        }
        guard bytes[(header + 30)..<(header + 30 + nameLength)].elementsEqual(entry.name.utf8) else {
            throw bad("local header names a different entry")
        }
        return start..<(start + entry.compressedSize)
    }

    /// A stored entry's contents, CRC-checked (when `checkingCRC` and the archive records a CRC other than 0).
    public func contents(of entry: Entry, checkingCRC: Bool = true) throws -> ArraySlice<UInt8> {
        let range = try dataRange(of: entry)
        let data = bytes[range]
        if checkingCRC, entry.crc32 != 0 {
            let computed = ZipArchive.crc32(data)
            guard computed == entry.crc32 else {
                throw ResNeXtError.io(
                    "\(source): zip entry \"\(entry.name)\": CRC-32 mismatch (stored \(hex(entry.crc32)), computed \(hex(computed))); the "
                        + "file is corrupt"
                )
            }
        }
        return data
    }

    /// The contents of the entry called `name`, or nil if there is none.
    public func contents(named name: String) throws -> ArraySlice<UInt8>? {
        guard let entry = entry(named: name) else { return nil }
        return try contents(of: entry)
    }

    /// The CRC-32 (IEEE 802.3, as zip uses) of `data`.
    public static func crc32<C: Collection>(_ data: C) -> UInt32 where C.Element == UInt8 {
        func update(_ crc: inout UInt32, _ buffer: UnsafeBufferPointer<UInt8>) {
            zipCRCTable.withUnsafeBufferPointer { table in
                for byte in buffer { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            }
        }
        var crc: UInt32 = 0xFFFF_FFFF
        if data.withContiguousStorageIfAvailable({ update(&crc, $0) }) == nil {
            for byte in data { crc = zipCRCTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}

private let zipCRCTable: [UInt32] = (0..<256).map { (n: UInt32) -> UInt32 in
    var c = n
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

/// Little-endian reads at offsets the caller has bounds-checked; reads past the end yield zero bytes.
private struct ZipByteReader {
    let bytes: [UInt8]

    func byte(_ offset: Int) -> UInt64 {
        offset >= 0 && offset < bytes.count ? UInt64(bytes[offset]) : 0
    }
    func u16(_ offset: Int) -> UInt16 { UInt16(byte(offset) | byte(offset + 1) << 8) }
    func u32(_ offset: Int) -> UInt32 { UInt32(byte(offset) | byte(offset + 1) << 8 | byte(offset + 2) << 16 | byte(offset + 3) << 24) }
    func u64(_ offset: Int) -> UInt64 { UInt64(u32(offset)) | UInt64(u32(offset + 4)) << 32 }
}
