import ResNeXtCore

/// Element types of the safetensors format.
public enum SafetensorsDType: String, Sendable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .F64, .I64: 8
        case .F32, .I32: 4
        case .F16, .BF16, .I16: 2
        case .I8, .U8, .BOOL: 1
        }
    }
}

/// One tensor as stored: raw little-endian bytes.
public struct StoredTensor: Sendable, Equatable {
    public let dtype: SafetensorsDType
    public let shape: [Int]
    public let bytes: [UInt8]

    /// - Throws: `ResNeXtError.invalidArgument` for negative dimensions, an overflowing element count,
    ///   or a byte count other than `elementCount * dtype.byteSize`.
    public init(dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) throws {
        guard let needed = Self.byteCount(dtype: dtype, shape: shape) else {
            throw ResNeXtError.invalidArgument("stored tensor: shape \(shape) has a negative dimension or too many elements")
        }
        guard needed == bytes.count else {
            throw ResNeXtError.invalidArgument("stored tensor: \(dtype.rawValue) shape \(shape) needs \(needed) bytes, got \(bytes.count)")
        }
        self.init(validated: dtype, shape: shape, bytes: bytes)
    }

    /// An F32 tensor; `floats.count` must equal the product of `shape` (checked with a precondition).
    public init(shape: [Int], floats: [Float]) {
        precondition(
            Self.byteCount(dtype: .F32, shape: shape) == floats.count * 4,
            "StoredTensor(shape:floats:): shape \(shape) does not hold \(floats.count) values")
        var bytes = [UInt8]()
        bytes.reserveCapacity(floats.count * 4)
        for value in floats {
            let bits = value.bitPattern
            bytes.append(UInt8(truncatingIfNeeded: bits))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 16))
            bytes.append(UInt8(truncatingIfNeeded: bits >> 24))
        }
        self.init(validated: .F32, shape: shape, bytes: bytes)
    }

    init(validated dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// The product of `shape` (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }

    /// Values converted to Float (F64, F32, F16, BF16 exactly as IEEE conversions; integers and BOOL converted numerically).
    public func floats() -> [Float] {
        let count = elementCount
        return bytes.withUnsafeBytes { raw -> [Float] in
            func load<T: FixedWidthInteger>(_ i: Int, _: T.Type) -> T {
                T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
            }
            switch dtype {
            case .F64: return (0..<count).map { Float(Double(bitPattern: load($0, UInt64.self))) }
            case .F32: return (0..<count).map { Float(bitPattern: load($0, UInt32.self)) }
            case .F16: return (0..<count).map { Self.halfToFloat(load($0, UInt16.self)) }
            case .BF16: return (0..<count).map { Float(bitPattern: UInt32(load($0, UInt16.self)) << 16) }
            case .I64: return (0..<count).map { Float(load($0, Int64.self)) }
            case .I32: return (0..<count).map { Float(load($0, Int32.self)) }
            case .I16: return (0..<count).map { Float(load($0, Int16.self)) }
            case .I8: return (0..<count).map { Float(load($0, Int8.self)) }
            case .U8: return (0..<count).map { Float(load($0, UInt8.self)) }
            case .BOOL: return (0..<count).map { load($0, UInt8.self) != 0 ? 1 : 0 }
            }
        }
    }

    /// IEEE binary16 to binary32 (exact).
    static func halfToFloat(_ half: UInt16) -> Float {
        let sign = UInt32(half >> 15) << 31
        let exponent = UInt32(half >> 10) & 0x1F
        let mantissa = UInt32(half) & 0x3FF
        switch exponent {
        case 0:  // zero or subnormal: mantissa * 2^-24, exact in Float
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        case 0x1F:  // infinity or NaN (payload kept)
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }

    /// `elementCount * dtype.byteSize`, or nil for a negative dimension or overflow.
    static func byteCount(dtype: SafetensorsDType, shape: [Int]) -> Int? {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { return nil }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        return overflow ? nil : bytes
    }
}

/// A safetensors file: named tensors plus optional string metadata.
/// Layout: UInt64 little-endian header size N, N bytes of JSON header, then the tensor data buffer.
public struct SafetensorsFile: Sendable, Equatable {
    /// Tensors in data-offset order (`parse`) or in the order `serialized()` lays them out.
    public var tensors: [(name: String, tensor: StoredTensor)]
    /// The `__metadata__` entries, in header order.
    public var metadata: [(key: String, value: String)]

    /// The largest header `parse` accepts.
    public static let maxHeaderSize = 100_000_000

    public init(tensors: [(name: String, tensor: StoredTensor)], metadata: [(key: String, value: String)] = []) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Equal when tensors (names, order, contents) and metadata (order included) are equal.
    public static func == (lhs: SafetensorsFile, rhs: SafetensorsFile) -> Bool {
        lhs.tensors.count == rhs.tensors.count && lhs.metadata.count == rhs.metadata.count
            && zip(lhs.tensors, rhs.tensors).allSatisfy { $0.name == $1.name && $0.tensor == $1.tensor }
            && zip(lhs.metadata, rhs.metadata).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    /// The tensor called `name`, if any.
    public subscript(name: String) -> StoredTensor? {
        tensors.first(where: { $0.name == name })?.tensor
    }

    /// Reads and parses the file at `path`.
    public static func read(_ path: String) throws -> SafetensorsFile {
        try parse(FileIO.readAll(path), source: path)
    }

    /// Parses safetensors bytes, validating every size and offset before use.
    /// - Throws: `ResNeXtError.io("<source>: <what is wrong>")`.
    public static func parse(_ bytes: [UInt8], source: String) throws -> SafetensorsFile {
        func bad(_ message: String) -> ResNeXtError { .io("\(source): \(message)") }

        guard bytes.count >= 8 else {
            throw bad("file too short: \(bytes.count) bytes, a safetensors file needs at least 8")
        }
        var declared: UInt64 = 0
        for i in 0..<8 { declared |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard declared <= UInt64(maxHeaderSize) else {
            throw bad("header size \(declared) exceeds the \(maxHeaderSize / 1_000_000) MB limit")
        }
        guard declared <= UInt64(bytes.count - 8) else {
            throw bad("header size \(declared) exceeds the \(bytes.count - 8) bytes after the size field")
        }
        let headerEnd = 8 + Int(declared)
        let bufferCount = bytes.count - headerEnd

        let header: JSONValue
        do {
            header = try JSONValue.parseDocument(Array(bytes[8..<headerEnd]))
        } catch {
            throw bad("header is not valid JSON: \(error.reason) at header byte \(error.offset)")
        }
        guard case .object(let entries) = header else { throw bad("header is not a JSON object") }

        struct Entry { let name: String; let dtype: SafetensorsDType; let shape: [Int]; let begin: Int; let end: Int }
        var found: [Entry] = []
        var metadata: [(key: String, value: String)] = []
        var seen = Set<String>()

        for (name, value) in entries {
            guard seen.insert(name).inserted else { throw bad("duplicate tensor name \"\(name)\" in header") }
            if name == "__metadata__" {
                guard case .object(let pairs) = value else { throw bad("__metadata__ is not a JSON object") }
                for (key, item) in pairs {
                    guard let text = item.string else { throw bad("__metadata__ value for \"\(key)\" is not a string") }
                    metadata.append((key: key, value: text))
                }
                continue
            }
            func badEntry(_ message: String) -> ResNeXtError { bad("tensor \"\(name)\": \(message)") }
            guard case .object = value else { throw badEntry("entry is not a JSON object") }

            guard let dtypeValue = value["dtype"] else { throw badEntry("missing dtype") }
            guard let dtypeName = dtypeValue.string else { throw badEntry("dtype is not a string") }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw badEntry("unknown dtype \"\(dtypeName)\"") }

            guard let shapeValue = value["shape"] else { throw badEntry("missing shape") }
            guard let dims = shapeValue.array else { throw badEntry("shape is not an array") }
            var shape: [Int] = []
            for dim in dims {
                guard let d = dim.int, d >= 0 else {
                    throw badEntry("shape dimension \(dim.serialized()) is not a non-negative integer")
                }
                shape.append(d)
            }
            guard let needed = StoredTensor.byteCount(dtype: dtype, shape: shape) else {
                throw badEntry("element count of shape \(shapeValue.serialized()) overflows")
            }

            guard let offsetsValue = value["data_offsets"] else { throw badEntry("missing data_offsets") }
            guard let offsets = offsetsValue.array, offsets.count == 2,
                let begin = offsets[0].int, let end = offsets[1].int, begin >= 0, end >= 0
            else {
                throw badEntry("data_offsets \(offsetsValue.serialized()) is not two non-negative integers")
            }
            guard begin <= end else { throw badEntry("data_offsets begin \(begin) is after end \(end)") }
            guard end <= bufferCount else {
                throw badEntry("data_offsets end \(end) is beyond the data buffer of \(bufferCount) bytes")
            }
            guard end - begin == needed else {
                throw badEntry("data_offsets span \(end - begin) bytes but \(dtype.rawValue) shape \(shape) needs \(needed)")
            }
            found.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }

        // Data-offset order (header order among equal offsets), then reject overlapping byte ranges.
        let ordered = found.enumerated().sorted {
            ($0.element.begin, $0.element.end, $0.offset) < ($1.element.begin, $1.element.end, $1.offset)
        }.map(\.element)
        var coveredEnd = 0
        var coveredBy = ""
        for entry in ordered where entry.begin < entry.end {
            guard entry.begin >= coveredEnd else {
                throw bad("tensor \"\(entry.name)\" overlaps tensor \"\(coveredBy)\" in the data buffer")
            }
            coveredEnd = entry.end
            coveredBy = entry.name
        }

        let tensors = ordered.map { entry in
            (
                name: entry.name,
                tensor: StoredTensor(
                    validated: entry.dtype, shape: entry.shape,
                    bytes: Array(bytes[(headerEnd + entry.begin)..<(headerEnd + entry.end)]))
            )
        }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    /// The file's bytes: the header (metadata first when non-empty) padded with spaces to a multiple
    /// of 8 bytes, then the tensors back to back in array order.
    public func serialized() -> [UInt8] {
        var entries: [(key: String, value: JSONValue)] = []
        if !metadata.isEmpty {
            entries.append((key: "__metadata__", value: .object(metadata.map { (key: $0.key, value: .string($0.value)) })))
        }
        var offset = 0
        for (name, tensor) in tensors {
            let end = offset + tensor.bytes.count
            entries.append(
                (
                    key: name,
                    value: .object([
                        (key: "dtype", value: .string(tensor.dtype.rawValue)),
                        (key: "shape", value: .array(tensor.shape.map { .number(Double($0)) })),
                        (key: "data_offsets", value: .array([.number(Double(offset)), .number(Double(end))]))
                    ])
                ))
            offset = end
        }
        var header = Array(JSONValue.object(entries).serialized().utf8)
        while header.count % 8 != 0 { header.append(0x20) }

        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + offset)
        let size = UInt64(header.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: size >> (8 * UInt64(i)))) }
        out.append(contentsOf: header)
        for (_, tensor) in tensors { out.append(contentsOf: tensor.bytes) }
        return out
    }

    /// Writes `serialized()` to `path` atomically, returning the bytes written.
    /// - Throws: `ResNeXtError.invalidArgument` for duplicate or reserved (`__metadata__`) tensor names;
    ///   `ResNeXtError.io` if the file cannot be written.
    @discardableResult
    public func write(to path: String) throws -> [UInt8] {
        var names = Set<String>()
        for (name, _) in tensors {
            guard name != "__metadata__" else {
                throw ResNeXtError.invalidArgument("\(path): \"__metadata__\" is reserved and cannot name a tensor")
            }
            guard names.insert(name).inserted else {
                throw ResNeXtError.invalidArgument("\(path): duplicate tensor name \"\(name)\"")
            }
        }
        let bytes = serialized()
        try FileIO.writeAtomically(bytes, to: path)
        return bytes
    }
}
