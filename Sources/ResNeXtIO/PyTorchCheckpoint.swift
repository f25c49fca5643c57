import ResNeXtCore

/// Reads `.pth`/`.pt` files written by `torch.save(state_dict)` in the zip format (PyTorch ≥ 1.6), the
/// way `torch.load(weights_only=True)` does: the pickle is interpreted by a restricted stack machine that
/// only rebuilds tensors and (ordered) dicts and never executes anything (see `PyTorchPickle.swift`).
/// Any other global (e.g. `os.system`, `builtins.eval`, a model class) is refused with an error naming it.
///
/// Archive layout: `<archive>/data.pkl` (the pickle), `<archive>/data/<key>` (one entry per storage),
/// `<archive>/byteorder` ("little" or "big"; little when absent), `<archive>/version` and others (ignored).
///
/// Output:
/// - Floating tensors (float32, float64, float16, bfloat16) become `F32` (float64 is rounded to nearest;
///   float16 and bfloat16 convert exactly). Integer and bool tensors keep their type (`I64`, `I32`, `I16`,
///   `I8`, `U8`, `BOOL`), e.g. batch norm's `num_batches_tracked` is an `I64` scalar (shape `[]`).
/// - Views are materialized row-major (non-contiguous views, shared storages, storage offsets).
/// - Tensors are listed in dict order. Nested dicts are flattened with "." between keys (int keys in
///   decimal). If the top-level dict has a `state_dict` or a `model` key (but not both) whose value is a
///   dict, as training checkpoints do, only that dict is read. Other values that are not tensors or dicts
///   (numbers, strings, None, lists, tuples) are ignored.
///
/// Limits, checked before allocating: the pickle (256 MiB), strings (16 MiB), the stack, memo and MARK
/// depth, tuple nesting (64), dict nesting (32), tensor rank (64), flattened names (64 KiB each,
/// 10 million entries visited), and the total materialized output (4 × the file size + 64 MiB, which bounds
/// views that repeat elements with stride 0).
public enum PyTorchCheckpoint {
    /// The largest `data.pkl` accepted.
    public static let maxPickleBytes = 256 << 20
    /// The deepest nesting of dicts that is flattened.
    public static let maxDictDepth = 32
    /// The longest flattened tensor name.
    public static let maxNameBytes = 64 << 10
    /// The most dict entries (counted along every path, as flattening visits them) that are flattened.
    public static let maxVisitedEntries = 10_000_000

    /// Reads and parses the checkpoint at `path`.
    public static func read(_ path: String) throws -> [(name: String, tensor: StoredTensor)] {
        try parse(FileIO.readAll(path), source: path)
    }

    /// Parses checkpoint bytes; `source` names the file in error messages.
    /// - Throws: `ResNeXtError.io("<source>: <what is wrong>")`, or for a pickle that references anything
    ///   beyond tensors and dicts, `ResNeXtError.io("refusing to load <source>: pickle references <global> (only tensors and dicts are
    ///   allowed)")`.
    public static func parse(_ bytes: [UInt8], source: String) throws -> [(name: String, tensor: StoredTensor)] {
        func bad(_ message: String) -> ResNeXtError { .io("\(source): \(message)") }

        if bytes.count >= 2, bytes[0] == 0x80, (2...5).contains(bytes[1]) {
            throw bad(
                "legacy (non-zip) torch.save format is not supported; re-save it with PyTorch ≥ 1.6 (torch.save's default zip format)")
        }
        guard bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B else {
            throw bad("not a PyTorch checkpoint: it is not a zip archive (torch.save's format since PyTorch 1.6)")
        }
        let archive = try ZipArchive(bytes: bytes, source: source)

        // As PyTorch's reader: the archive name is the first entry's top-level directory.
        guard let first = archive.entries.first, let slash = first.name.firstIndex(of: "/") else {
            throw bad("not a PyTorch checkpoint: the zip archive has no <archive>/data.pkl entry")
        }
        let prefix = String(first.name[..<slash]) + "/"
        guard let pickleEntry = archive.entry(named: prefix + "data.pkl") else {
            throw bad("not a PyTorch checkpoint: the zip archive has no \(prefix)data.pkl entry")
        }
        guard pickleEntry.uncompressedSize <= maxPickleBytes else {
            throw bad("\(prefix)data.pkl of \(pickleEntry.uncompressedSize) bytes exceeds the limit of \(maxPickleBytes)")
        }
        var bigEndian = false
        if let order = try archive.contents(named: prefix + "byteorder") {
            switch String(decoding: order, as: UTF8.self) {
            case "little": bigEndian = false
            case "big": bigEndian = true
            default: throw bad("\(prefix)byteorder is neither \"little\" nor \"big\"")
            }
        }
        let pickle = Array(try archive.contents(of: pickleEntry))

        var verified = Set<String>()
        var machine = PyTorchUnpickler(pickle: pickle, source: source) { key, dtype, count in
            let name = prefix + "data/" + key
            guard let entry = archive.entry(named: name) else {
                throw bad("storage \"\(key)\" referenced by the pickle is missing (no \(name) entry)")
            }
            let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize)
            guard !overflow, needed == entry.uncompressedSize else {
                throw bad(
                    "storage \"\(key)\" holds \(entry.uncompressedSize) bytes but the pickle declares \(count) elements of "
                        + "\(dtype.itemSize) bytes"
                )
            }
            if verified.insert(key).inserted {
                return try archive.contents(of: entry)  // CRC-checked once
            }
            return try archive.contents(of: entry, checkingCRC: false)
        }
        defer { machine.releaseContainers() }
        let root = try machine.run()

        guard case .dict(var dict) = root else {
            throw bad("the pickle holds a \(root.typeName), not a dict of tensors")
        }
        let nested = ["state_dict", "model"].compactMap { key -> PickleDict? in
            if case .dict(let inner)? = dict[.string(key)] { return inner }
            return nil
        }
        if nested.count == 1, dict[.string("state_dict")] == nil || dict[.string("model")] == nil {
            dict = nested[0]
        }

        // Count the entries first (each distinct dict once), so that shared sub-dicts that would flatten
        // to exponentially many names, and dicts that contain themselves, fail fast.
        var counts: [ObjectIdentifier: Int] = [:]
        func entryCount(_ dict: PickleDict, depth: Int) throws -> Int {
            guard depth <= maxDictDepth else { throw bad("dicts nested deeper than \(maxDictDepth) (or a dict that contains itself)") }
            if let known = counts[ObjectIdentifier(dict)] { return known }
            var total = 0
            for value in dict.values {
                total += 1
                if case .dict(let inner) = value { total += try entryCount(inner, depth: depth + 1) }
                total = min(total, maxVisitedEntries + 1)
            }
            counts[ObjectIdentifier(dict)] = total
            return total
        }
        guard try entryCount(dict, depth: 1) <= maxVisitedEntries else {
            throw bad("more than \(maxVisitedEntries) dict entries to flatten")
        }

        // Flatten (depth-first, dict order), then materialize each distinct tensor once.
        var named: [(name: String, tensor: Int)] = []
        var seen = Set<String>()
        func flatten(_ dict: PickleDict, prefix: String) throws {
            for (key, value) in zip(dict.keys, dict.values) {
                let name = prefix.isEmpty ? key.text : prefix + "." + key.text
                guard name.utf8.count <= maxNameBytes else { throw bad("a tensor name is longer than \(maxNameBytes) bytes") }
                switch value {
                case .tensor(let index):
                    guard seen.insert(name).inserted else { throw bad("duplicate tensor name \"\(name)\"") }
                    named.append((name, index))
                case .dict(let inner):
                    try flatten(inner, prefix: name)
                default:
                    continue  // numbers, strings, None, lists, tuples, storages: not part of the state dict
                }
            }
        }
        try flatten(dict, prefix: "")

        var budget = 4 * bytes.count + (64 << 20)
        var made: [Int: StoredTensor] = [:]
        var result: [(name: String, tensor: StoredTensor)] = []
        result.reserveCapacity(named.count)
        for (name, index) in named {
            if let tensor = made[index] {
                result.append((name, tensor))
                continue
            }
            let view = machine.tensors[index]
            let storage = machine.storages[view.storage]
            let outputSize = storage.dtype.output.byteSize
            guard view.elementCount <= budget / outputSize else {
                throw bad("tensor \"\(name)\" of shape \(view.shape) would exceed the output limit of 4 × the file size + 64 MiB")
            }
            budget -= view.elementCount * outputSize
            let tensor = materialize(view, storage, bigEndian: bigEndian)
            made[index] = tensor
            result.append((name, tensor))
        }
        return result
    }

    /// The view's elements in row-major order as the output dtype (little-endian).
    static func materialize(_ view: PyTorchTensorView, _ storage: PyTorchStorage, bigEndian: Bool) -> StoredTensor {
        let dtype = storage.dtype
        let itemSize = dtype.itemSize
        let outputSize = dtype.output.byteSize
        let count = view.elementCount
        let rank = view.shape.count

        // Row-major strides for the view's shape: a contiguous view reads one run of elements.
        var contiguous = true
        var expected = 1
        for d in stride(from: rank - 1, through: 0, by: -1) where view.shape[d] != 1 {
            if view.strides[d] != expected { contiguous = false }
            expected *= view.shape[d]
        }

        let bytes = [UInt8](unsafeUninitializedCapacity: count * outputSize) { out, initialized in
            storage.bytes.withUnsafeBytes { raw in
                let output = UnsafeMutableRawBufferPointer(out)
                if contiguous, !bigEndian, itemSize == outputSize {
                    if count > 0 {
                        output.copyMemory(
                            from: UnsafeRawBufferPointer(rebasing: raw[(view.offset * itemSize)..<((view.offset + count) * itemSize)]))
                    }
                } else if contiguous {
                    for e in 0..<count { convert(raw, view.offset + e, output, e, dtype, bigEndian) }
                } else if count > 0 {
                    var index = [Int](repeating: 0, count: rank)
                    var source = view.offset
                    for e in 0..<count {
                        convert(raw, source, output, e, dtype, bigEndian)
                        var d = rank - 1
                        while d >= 0 {
                            index[d] += 1
                            source += view.strides[d]
                            if index[d] < view.shape[d] { break }
                            source -= view.strides[d] * view.shape[d]
                            index[d] = 0
                            d -= 1
                        }
                    }
                }
            }
            initialized = count * outputSize
        }
        return StoredTensor(validated: dtype.output, shape: view.shape, bytes: bytes)
    }

    /// Converts element `source` of `raw` to the output type and stores it as element `target` of `output`.
    @inline(__always)
    private static func convert(
        _ raw: UnsafeRawBufferPointer, _ source: Int, _ output: UnsafeMutableRawBufferPointer,
        _ target: Int, _ dtype: PyTorchDType, _ bigEndian: Bool
    ) {
        func load<T: FixedWidthInteger>(_: T.Type) -> T {
            let value = raw.loadUnaligned(fromByteOffset: source * MemoryLayout<T>.size, as: T.self)
            return bigEndian ? T(bigEndian: value) : T(littleEndian: value)
        }
        func store<T: FixedWidthInteger>(_ value: T) {
            output.storeBytes(of: value.littleEndian, toByteOffset: target * MemoryLayout<T>.size, as: T.self)
        }
        switch dtype {
        case .float32: store(load(UInt32.self))
        case .float64: store(Float(Double(bitPattern: load(UInt64.self))).bitPattern)
        case .float16: store(StoredTensor.halfToFloat(load(UInt16.self)).bitPattern)
        case .bfloat16: store(UInt32(load(UInt16.self)) << 16)
        case .int64: store(load(UInt64.self))
        case .int32: store(load(UInt32.self))
        case .int16: store(load(UInt16.self))
        case .int8, .uint8, .bool: store(load(UInt8.self))
        }
    }
}
