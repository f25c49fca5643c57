import ResNeXtCore

/// Torch7 binary serialization (`torch.save(path, obj)` in the default binary mode, as torch7's `File.lua`
/// writes it; docs/FORMATS.md):
/// little-endian int32 type tags, string lengths, booleans and dimension counts; float64 numbers;
/// "long" sizes, strides, offsets and storage lengths (8 bytes, or 4 for files written on Windows).
///
/// Type tags: 0 nil, 1 number, 2 string, 3 table, 4 torch object, 5 boolean, 6–8 functions. Tags 3, 4
/// and 6–8 are followed by an int32 reference index; an index seen before is a reference to that object.
public enum Torch7 {
    /// The deepest nesting of values `parse` accepts (tables in tables, objects, tensor → storage, …),
    /// counted along shared references too. Parsing itself uses no recursion; the bound keeps anything
    /// that walks a parsed value recursively (including its deallocation) within a small stack.
    /// ResNeXt models need about 25 levels.
    public static let maxDepth = 400

    /// Reads and parses the file at `path`.
    /// - Parameter longSize: bytes per C `long` in the file: 8 (Linux, macOS) or 4 (Windows).
    public static func read(_ path: String, longSize: Int = 8) throws -> Torch7Value {
        try parse(FileIO.readAll(path), source: path, longSize: longSize)
    }

    /// Parses one serialized object occupying all of `bytes` (trailing bytes are an error). Every length
    /// and count is checked against the bytes that remain before anything is allocated; functions are
    /// kept as opaque bytecode and never executed. Unsupported: `tds.*` containers (custom payloads).
    /// - Throws: `ResNeXtError.io("<source>: <what is wrong> at byte <offset>")`;
    ///   `ResNeXtError.invalidArgument` for a `longSize` other than 4 or 8.
    public static func parse(_ bytes: [UInt8], source: String, longSize: Int = 8) throws -> Torch7Value {
        guard longSize == 4 || longSize == 8 else {
            throw ResNeXtError.invalidArgument("torch7: longSize must be 4 or 8, got \(longSize)")
        }
        guard !bytes.isEmpty else { throw ResNeXtError.io("\(source): empty file, not a torch7 object") }
        var parser = Torch7Parser(bytes: bytes, source: source, longSize: longSize)
        let value = try parser.readValue()
        guard parser.position == bytes.count else {
            throw parser.failure("\(bytes.count - parser.position) unexpected bytes after the top-level object", at: parser.position)
        }
        return value
    }
}

/// The state of one parse: the bytes, the read position and the objects seen so far by index.
struct Torch7Parser {
    let bytes: [UInt8]
    let source: String
    let longSize: Int
    private(set) var position = 0

    private enum Slot {
        case done(Torch7Value)
        /// Registered but not yet complete (a tensor reading its storage, an object reading a
        /// non-table payload): a reference to it now is a cycle that cannot be represented.
        case pending(String)
    }

    private var objects: [Int32: Slot] = [:]

    init(bytes: [UInt8], source: String, longSize: Int) {
        self.bytes = bytes
        self.source = source
        self.longSize = longSize
    }

    func failure(_ what: String, at offset: Int) -> ResNeXtError {
        .io("\(source): \(what) at byte \(offset)")
    }

    private var remaining: Int { bytes.count - position }

    /// Advances over `n` bytes, returning where they start.
    private mutating func take(_ n: Int, _ what: String) throws -> Int {
        guard n >= 0, n <= remaining else {
            throw failure("\(what) needs \(n) bytes but only \(remaining) remain", at: position)
        }
        let start = position
        position += n
        return start
    }

    private mutating func int32(_ what: String) throws -> Int32 {
        let s = try take(4, what)
        let bits = UInt32(bytes[s]) | UInt32(bytes[s + 1]) << 8 | UInt32(bytes[s + 2]) << 16 | UInt32(bytes[s + 3]) << 24
        return Int32(bitPattern: bits)
    }

    private mutating func uint64(_ what: String) throws -> UInt64 {
        let s = try take(8, what)
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(bytes[s + i]) << (8 * UInt64(i)) }
        return bits
    }

    private mutating func long(_ what: String) throws -> Int {
        longSize == 8 ? Int(Int64(bitPattern: try uint64(what))) : Int(try int32(what))
    }

    private mutating func double(_ what: String) throws -> Double {
        Double(bitPattern: try uint64(what))
    }

    private mutating func string(_ what: String) throws -> String {
        let at = position
        let n = try int32("\(what) length")
        guard n >= 0 else { throw failure("\(what) has a negative length \(n)", at: at) }
        guard Int(n) <= remaining else {
            throw failure("\(what) of \(n) bytes exceeds the \(remaining) bytes that remain", at: at)
        }
        let s = try take(Int(n), what)
        return String(decoding: bytes[s..<(s + Int(n))], as: UTF8.self)
    }

    /// A value whose contents are still being read. Nesting lives in this explicit stack rather than in
    /// recursive calls, so hostile nesting cannot exhaust the thread's stack.
    private enum Frame {
        /// `key` is nil while a key is awaited (its first byte at `keyAt`), else the value for it is.
        /// `height` is the greatest height among the entries read so far.
        case table(Torch7Table, remaining: Int32, key: Torch7Value?, keyAt: Int, height: Int)
        /// A torch object awaiting its payload (the next value read).
        case object(index: Int32, className: String, version: Int)
        /// A tensor awaiting its storage.
        case tensor(index: Int32, TensorHeader)
        /// A function awaiting its upvalues.
        case function(Torch7Function)
    }

    private struct TensorHeader {
        let className: String
        let version: Int
        let elementType: Torch7ElementType
        let sizes: [Int]
        let strides: [Int]
        let offset: Int
        let at: Int
        let storageAt: Int
    }

    /// Reads one complete value (and everything inside it).
    mutating func readValue() throws -> Torch7Value {
        var stack: [Frame] = []
        while true {
            if case let .table(table, remaining, nil, _, height)? = stack.last {
                stack[stack.count - 1] = .table(table, remaining: remaining, key: nil, keyAt: position, height: height)
            }
            var completed = try readToken(&stack)
            // Hand each completed value to the frame waiting for it; finished frames complete in turn.
            while let value = completed {
                guard let top = stack.popLast() else { return value }
                completed = nil
                switch top {
                case let .table(table, remaining, key, keyAt, height):
                    let height = max(height, Self.height(of: value))
                    if let key {
                        // Lua tables cannot hold nil values; a nil entry just leaves the key unset.
                        if !value.isNil { table[key] = value }
                        if remaining > 1 {
                            stack.append(.table(table, remaining: remaining - 1, key: nil, keyAt: position, height: height))
                        } else {
                            table.height = try checkedHeight(height + 1)
                            completed = .table(table)
                        }
                    } else {
                        guard Torch7Table.isValidKey(value) else { throw problem(.badKey(value.isNil), at: keyAt) }
                        stack.append(.table(table, remaining: remaining, key: value, keyAt: keyAt, height: height))
                    }
                case let .object(index, className, version):
                    let object = Torch7Value.object(className: className, version: version, payload: value)
                    _ = try checkedHeight(Self.height(of: object))
                    objects[index] = .done(object)
                    completed = object
                case let .tensor(index, header):
                    let tensor = try makeTensor(header, storage: value)
                    objects[index] = .done(.tensor(tensor))
                    completed = .tensor(tensor)
                case .function(let function):
                    function.upvalues = value
                    function.height = try checkedHeight(Self.height(of: value) + 1)
                    completed = .function(function)
                }
            }
        }
    }

    /// How many levels of tables, objects, tensors and functions `value` holds, following shared
    /// references too (a reference back into an unfinished table counts 0: that is a cycle). Bounding it
    /// bounds the recursion of anything that walks the value, including its deallocation.
    static func height(of value: Torch7Value) -> Int {
        switch value {
        case .nil, .number, .string, .boolean: 0
        case .table(let t): t.height
        case .object(_, _, let payload): height(of: payload) + 1
        case .tensor(let t): t.storage == nil ? 1 : 2
        case .storage: 1
        case .function(let f): f.height
        }
    }

    private func checkedHeight(_ height: Int) throws -> Int {
        guard height <= Torch7.maxDepth + 1 else { throw problem(.tooDeep, at: position) }
        return height
    }

    /// Reads one type tag and what follows it: returns a complete value, or pushes a frame for a value
    /// whose contents follow (and returns nil).
    private mutating func readToken(_ stack: inout [Frame]) throws -> Torch7Value? {
        let at = position
        guard stack.count <= Torch7.maxDepth else { throw problem(.tooDeep, at: at) }
        let tag = try int32("type tag")
        switch tag {
        case 0: return .nil
        case 1: return .number(try double("number"))
        case 2: return .string(try string("string"))
        case 5:
            let flag = try int32("boolean")
            guard flag == 0 || flag == 1 else { throw problem(.badBoolean(flag), at: at + 4) }
            return .boolean(flag == 1)
        case 3, 4, 6, 7, 8:
            let index = try int32("reference index")
            if let slot = objects[index] {
                switch slot {
                case .done(let value): return value
                case .pending(let what): throw problem(.selfReference(what, index), at: at)
                }
            }
            switch tag {
            case 3:
                let table = Torch7Table()
                // Registered first: the table may contain itself (as a key or a value), and an object
                // whose payload it is may be referenced from inside it.
                objects[index] = .done(.table(table))
                if case let .object(objectIndex, className, version)? = stack.last {
                    objects[objectIndex] = .done(.object(className: className, version: version, payload: .table(table)))
                }
                let countAt = position
                let count = try int32("table entry count")
                // Every entry takes at least two 4-byte type tags.
                guard count >= 0, Int(count) <= remaining / 8 else { throw problem(.tableCount(count, remaining), at: countAt) }
                if count == 0 {
                    table.height = 1
                    return .table(table)
                }
                stack.append(.table(table, remaining: count, key: nil, keyAt: position, height: 0))
                return nil
            case 4:
                let versionAt = position
                let (className, version) = try classHeader()
                if let type = Torch7ElementType.ofTensorClass(className) {
                    objects[index] = .pending(className)
                    stack.append(.tensor(index: index, try tensorHeader(className: className, version: version, elementType: type, at: at)))
                    return nil
                }
                if let type = Torch7ElementType.ofStorageClass(className) {
                    objects[index] = .pending(className)
                    let storage = try readStorage(className: className, version: version, elementType: type)
                    objects[index] = .done(.storage(storage))
                    return .storage(storage)
                }
                if Self.hasCustomPayload(className) { throw problem(.unsupportedClass(className), at: versionAt) }
                // Any other class (nn modules, torch.class instances) writes one object: its field table.
                objects[index] = .pending("object " + className)
                stack.append(.object(index: index, className: className, version: version))
                return nil
            default:
                let sizeAt = position
                let size = try int32("function bytecode length")
                guard size >= 0, Int(size) <= remaining else {
                    throw failure("function bytecode of \(size) bytes does not fit in the \(remaining) bytes that remain", at: sizeAt)
                }
                let start = try take(Int(size), "function bytecode")
                let function = Torch7Function(tag: Int(tag), bytecode: Array(bytes[start..<(start + Int(size))]), upvalues: .nil)
                // Registered before its upvalues, which may refer back to it (a recursive function).
                objects[index] = .done(.function(function))
                stack.append(.function(function))
                return nil
            }
        default:
            throw problem(.unknownTag(tag), at: at)
        }
    }

    /// "V <n>" then the class name, or (files from before versioning) just the class name: version 0.
    private mutating func classHeader() throws -> (className: String, version: Int) {
        let versionAt = position
        let first = try string("class version")
        if first.hasPrefix("V ") {
            guard let version = Int(first.dropFirst(2)), version >= 0 else {
                throw failure("bad class version string \"\(first.prefix(40))\"", at: versionAt)
            }
            let nameAt = position
            let className = try string("class name")
            guard !className.isEmpty else { throw failure("empty class name", at: nameAt) }
            return (className, version)
        }
        guard !first.isEmpty else { throw failure("empty class name", at: versionAt) }
        return (first, 0)
    }

    /// Classes whose payload is not one serialized object (tds containers, unknown tensor types).
    private static func hasCustomPayload(_ className: String) -> Bool {
        className.hasPrefix("tds.") || className.hasPrefix("torch.") && (className.hasSuffix("Tensor") || className.hasSuffix("Storage"))
    }

    /// Errors raised on the recursive path, built here so that the recursive functions' stack frames
    /// stay small (nesting depth is bounded by `Torch7.maxDepth`, but each level costs stack).
    private enum Problem {
        case tooDeep, badBoolean(Int32), selfReference(String, Int32), unknownTag(Int32), tableCount(Int32, Int), badKey(Bool)
        case unsupportedClass(String)
    }

    @inline(never)
    private func problem(_ problem: Problem, at offset: Int) -> ResNeXtError {
        let what: String
        switch problem {
        case .tooDeep: what = "values nested deeper than \(Torch7.maxDepth) levels (shared references included)"
        case .badBoolean(let flag): what = "boolean value \(flag) is neither 0 nor 1"
        case let .selfReference(object, index): what = "reference to \(object) (object #\(index)) from inside itself"
        case .unknownTag(let tag): what = "unknown type tag \(tag)"
        case let .tableCount(count, remaining):
            what =
                count < 0
                ? "table has a negative entry count \(count)"
                : "table of \(count) entries cannot fit in the \(remaining) bytes that remain"
        case .badKey(let isNil): what = "table key is \(isNil ? "nil" : "NaN")"
        case .unsupportedClass(let name): what = "unsupported class \(name) (custom binary payload)"
        }
        return failure(what, at: offset)
    }

    /// Dimension count, sizes, strides and offset of a tensor; its storage follows as a value.
    private mutating func tensorHeader(className: String, version: Int, elementType: Torch7ElementType, at: Int) throws -> TensorHeader {
        let dimsAt = position
        let ndim = try int32("tensor dimension count")
        guard ndim >= 0 else { throw failure("tensor \(className) has a negative dimension count \(ndim)", at: dimsAt) }
        let needed = (2 * Int(ndim) + 1) * longSize
        guard needed <= remaining else {
            throw failure(
                "tensor \(className) of \(ndim) dimensions needs \(needed) bytes of sizes, strides and offset but only \(remaining) remain",
                at: dimsAt)
        }
        var sizes = [Int]()
        sizes.reserveCapacity(Int(ndim))
        for d in 0..<Int(ndim) {
            let sizeAt = position
            let size = try long("tensor size")
            guard size >= 0 else { throw failure("tensor \(className) size \(size) of dimension \(d + 1) is negative", at: sizeAt) }
            sizes.append(size)
        }
        var strides = [Int]()
        strides.reserveCapacity(Int(ndim))
        for _ in 0..<Int(ndim) { strides.append(try long("tensor stride")) }
        let offset = try long("tensor storage offset")
        return TensorHeader(
            className: className, version: version, elementType: elementType, sizes: sizes, strides: strides,
            offset: offset, at: at, storageAt: position)
    }

    /// The tensor once its storage value is read; every element must lie inside the storage.
    private func makeTensor(_ header: TensorHeader, storage value: Torch7Value) throws -> Torch7Tensor {
        let storage: Torch7Storage?
        switch value {
        case .nil: storage = nil
        case .storage(let s): storage = s
        default:
            throw failure("tensor \(header.className) has a \(value.describe(depth: 0)) where its storage should be", at: header.storageAt)
        }
        let tensor = Torch7Tensor(
            validated: header.className, version: header.version, elementType: header.elementType,
            sizes: header.sizes, strides: header.strides, storageOffset: header.offset, storage: storage)
        if let problem = tensor.layoutProblem() { throw failure("tensor \(header.className) \(header.sizes): \(problem)", at: header.at) }
        return tensor
    }

    private mutating func readStorage(className: String, version: Int, elementType: Torch7ElementType) throws -> Torch7Storage {
        let countAt = position
        let count = try long("storage element count")
        guard count >= 0 else { throw failure("storage \(className) has a negative element count \(count)", at: countAt) }
        let fileElementSize = elementType == .int64 ? longSize : elementType.byteSize
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: fileElementSize)
        guard !overflow, byteCount <= remaining else {
            throw failure(
                "storage \(className) of \(count) elements needs \(overflow ? "more than \(Int.max)" : String(byteCount)) bytes but only "
                    + "\(remaining) remain",
                at: countAt)
        }
        let start = try take(byteCount, "storage data")
        var data: [UInt8]
        if fileElementSize == elementType.byteSize {
            data = Array(bytes[start..<(start + byteCount)])
        } else {
            // 4-byte longs (Windows files): widen to 8 bytes, sign-extended.
            data = []
            data.reserveCapacity(count * 8)
            for i in 0..<count {
                let s = start + 4 * i
                let bits = UInt32(bytes[s]) | UInt32(bytes[s + 1]) << 8 | UInt32(bytes[s + 2]) << 16 | UInt32(bytes[s + 3]) << 24
                torch7AppendLittleEndian(Int64(Int32(bitPattern: bits)), to: &data)
            }
        }
        return Torch7Storage(validated: className, version: version, elementType: elementType, count: count, bytes: data)
    }
}
