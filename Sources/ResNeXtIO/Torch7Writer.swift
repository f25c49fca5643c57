import ResNeXtCore

extension Torch7 {
    /// The bytes `torch.save` would write for `value` (binary mode, little-endian).
    ///
    /// Shared references are preserved: a table, tensor, storage or function that appears more than once
    /// (or inside itself) is written once and then referred to by its index, numbered 1, 2, 3, … in
    /// first-write order as Torch7 does. An object is identified by its field table. Torch objects are
    /// written with a "V <version>" string, then the class name, then their payload.
    /// - Parameter longSize: 8 (default; Linux/macOS) or 4 (Windows-style files, for tests); longs that
    ///   do not fit 4 bytes are truncated.
    public static func serialize(_ value: Torch7Value, longSize: Int = 8) -> [UInt8] {
        precondition(longSize == 4 || longSize == 8, "Torch7.serialize: longSize must be 4 or 8")
        var writer = Torch7Serializer(longSize: longSize)
        writer.write(value)
        return writer.out
    }

    /// Writes `serialize(value)` to `path` atomically.
    /// - Throws: `ResNeXtError.io` naming `path` when it cannot be written.
    public static func write(_ value: Torch7Value, to path: String) throws {
        try FileIO.writeAtomically(serialize(value), to: path)
    }
}

struct Torch7Serializer {
    let longSize: Int
    var out: [UInt8] = []
    private var indices: [Torch7Table.ReferenceKey: Int32] = [:]
    private var nextIndex: Int32 = 1

    init(longSize: Int) { self.longSize = longSize }

    private mutating func int32(_ v: Int32) { torch7AppendLittleEndian(v, to: &out) }

    private mutating func int32(_ v: Int) { int32(Int32(truncatingIfNeeded: v)) }

    private mutating func long(_ v: Int) {
        if longSize == 8 { torch7AppendLittleEndian(Int64(v), to: &out) } else { int32(v) }
    }

    private mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        int32(utf8.count)
        out.append(contentsOf: utf8)
    }

    /// Writes the tag and index; returns false when the object was written before (only a reference).
    private mutating func reference(_ tag: Int32, _ key: Torch7Table.ReferenceKey?) -> Bool {
        int32(tag)
        if let key, let index = indices[key] {
            int32(index)
            return false
        }
        let index = nextIndex
        nextIndex += 1
        if let key { indices[key] = index }
        int32(index)
        return true
    }

    private mutating func classHeader(_ className: String, version: Int) {
        string("V \(version)")
        string(className)
    }

    /// Writes `value` depth-first with an explicit stack of pending values (no recursion, so deeply
    /// nested values cannot exhaust the thread's stack).
    mutating func write(_ value: Torch7Value) {
        var pending: [Torch7Value] = [value]
        while let next = pending.popLast() { writeHead(next, then: &pending) }
    }

    /// Writes `value` up to its contents, pushing those (last first) onto `pending`.
    private mutating func writeHead(_ value: Torch7Value, then pending: inout [Torch7Value]) {
        switch value {
        case .nil:
            int32(0)
        case .number(let x):
            int32(1)
            torch7AppendLittleEndian(x.bitPattern, to: &out)
        case .string(let s):
            int32(2)
            string(s)
        case .boolean(let b):
            int32(5)
            int32(b ? 1 : 0)
        case .table(let t):
            guard reference(3, Torch7Table.referenceKey(value)) else { return }
            int32(t.count)
            for (key, item) in t.entries.reversed() {
                pending.append(item)
                pending.append(key)
            }
        case let .object(className, version, payload):
            guard reference(4, Torch7Table.referenceKey(value)) else { return }
            classHeader(className, version: version)
            pending.append(payload)
        case .tensor(let t):
            guard reference(4, Torch7Table.referenceKey(value)) else { return }
            classHeader(t.className, version: t.version)
            int32(t.sizes.count)
            for size in t.sizes { long(size) }
            for stride in t.strides { long(stride) }
            long(t.storageOffset)
            if let storage = t.storage { pending.append(.storage(storage)) } else { int32(0) }
        case .storage(let s):
            guard reference(4, Torch7Table.referenceKey(value)) else { return }
            classHeader(s.className, version: s.version)
            long(s.count)
            if s.elementType == .int64 && longSize == 4 {
                s.bytes.withUnsafeBytes { raw in
                    for i in 0..<s.count {
                        let v = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                        torch7AppendLittleEndian(Int32(truncatingIfNeeded: v), to: &out)
                    }
                }
            } else {
                out.append(contentsOf: s.bytes)
            }
        case .function(let f):
            guard reference(Int32(f.tag), Torch7Table.referenceKey(value)) else { return }
            int32(f.bytecode.count)
            out.append(contentsOf: f.bytecode)
            pending.append(f.upvalues)
        }
    }
}
