import ResNeXtCore

// A restricted unpickler for the pickles inside `torch.save` archives: a stack machine over the opcodes
// that state dicts use, which builds plain values and never calls, imports or executes anything. The only
// globals it resolves are the allow-list in `PyTorchGlobal.resolve`; the only callables it applies are
// `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and `torch._utils._rebuild_parameter`,
// each interpreted here (not run). This mirrors what `torch.load(weights_only=True)` accepts for
// state dicts, minus everything a state dict does not need.

/// The restricted stack machine. `run()` returns the unpickled root value; tensors and storages it
/// references are in `tensors` and `storages`. Call `releaseContainers()` when done with the values
/// (it breaks reference cycles a hostile pickle may have built between dicts and lists).
struct PyTorchUnpickler {
    /// Resolves a persistent id ('storage', type, key, location, count) to the storage's bytes.
    typealias StorageResolver = (_ key: String, _ dtype: PyTorchDType, _ count: Int) throws -> ArraySlice<UInt8>

    static let maxStackSize = 1_000_000
    static let maxMarks = 100_000
    static let maxMemoSize = 4_000_000
    static let maxStringBytes = 16 << 20
    static let maxTupleDepth = 64
    static let maxTensorRank = 64
    static let maxGlobalNameBytes = 256

    let data: [UInt8]
    let source: String
    let resolveStorage: StorageResolver
    private(set) var storages: [PyTorchStorage] = []
    private(set) var tensors: [PyTorchTensorView] = []

    private var position = 0
    private var opcodeStart = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var dicts: [PickleDict] = []
    private var lists: [PickleList] = []

    init(pickle: [UInt8], source: String, resolveStorage: @escaping StorageResolver) {
        self.data = pickle
        self.source = source
        self.resolveStorage = resolveStorage
    }

    /// Empties every dict and list built, so that cycles among them are freed.
    mutating func releaseContainers() {
        for dict in dicts { dict.removeAll() }
        for list in lists { list.items = [] }
        stack = []
        memo = [:]
        dicts = []
        lists = []
    }

    // MARK: - Errors

    private func bad(_ message: String) -> ResNeXtError {
        .io("\(source): data.pkl: \(message) (at pickle byte \(opcodeStart))")
    }

    private func refuse(_ what: String) -> ResNeXtError {
        .io("refusing to load \(source): pickle references \(what) (only tensors and dicts are allowed)")
    }

    /// A name from the pickle, made safe to print.
    private static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(200) {
            if scalar.value >= 0x20, scalar.value < 0x7F { out.unicodeScalars.append(scalar) } else { out += "?" }
        }
        return text.unicodeScalars.count > 200 ? out + "…" : out
    }

    // MARK: - Reading

    private mutating func take(_ count: Int) throws -> Range<Int> {
        guard count >= 0, count <= data.count - position else {
            throw bad("truncated: needs \(count) more bytes, \(data.count - position) left")
        }
        defer { position += count }
        return position..<(position + count)
    }

    private mutating func uint(_ count: Int) throws -> UInt64 {
        let range = try take(count)
        var value: UInt64 = 0
        for (i, byte) in data[range].enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
        return value
    }

    private mutating func string(byteCount: UInt64) throws -> String {
        guard byteCount <= UInt64(Self.maxStringBytes) else {
            throw bad("string of \(byteCount) bytes exceeds the limit of \(Self.maxStringBytes)")
        }
        let range = try take(Int(byteCount))
        guard let text = String(validating: data[range], as: UTF8.self) else { throw bad("string is not valid UTF-8") }
        return text
    }

    private mutating func line() throws -> String {
        let start = position
        let end = min(data.count, start + Self.maxGlobalNameBytes + 1)
        guard let newline = data[start..<end].firstIndex(of: 0x0A) else {
            throw bad(end == data.count ? "truncated GLOBAL name" : "GLOBAL name longer than \(Self.maxGlobalNameBytes) bytes")
        }
        position = newline + 1
        guard let text = String(validating: data[start..<newline], as: UTF8.self) else { throw bad("GLOBAL name is not valid UTF-8") }
        return text
    }

    // MARK: - Stack

    private var frameBottom: Int { marks.last ?? 0 }

    private mutating func push(_ value: PickleValue) throws {
        guard stack.count < Self.maxStackSize else { throw bad("stack exceeds \(Self.maxStackSize) items") }
        stack.append(value)
    }

    private mutating func pop() throws -> PickleValue {
        guard stack.count > frameBottom else { throw bad("stack underflow") }
        return stack.removeLast()
    }

    private func top() throws -> PickleValue {
        guard stack.count > frameBottom else { throw bad("stack underflow") }
        return stack[stack.count - 1]
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw bad("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func tuple(_ items: [PickleValue]) throws -> PickleValue {
        let depth = 1 + (items.map(\.depth).max() ?? 0)
        guard depth <= Self.maxTupleDepth else { throw bad("tuples nested deeper than \(Self.maxTupleDepth)") }
        return .tuple(items, depth: depth)
    }

    private mutating func newDict() -> PickleDict {
        let dict = PickleDict()
        dicts.append(dict)
        return dict
    }

    private mutating func memoize(_ index: Int) throws {
        let value = try top()
        guard memo[index] != nil || memo.count < Self.maxMemoSize else { throw bad("memo exceeds \(Self.maxMemoSize) entries") }
        memo[index] = value
    }

    private mutating func memoGet(_ index: Int) throws {
        guard let value = memo[index] else { throw bad("memo entry \(index) is not defined") }
        try push(value)
    }

    private func key(_ value: PickleValue) throws -> PickleKey {
        switch value {
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .bool(let b): return .int(b ? 1 : 0)
        default: throw bad("dict key of type \(value.typeName) is not supported")
        }
    }

    private func setItems(_ pairs: ArraySlice<PickleValue>, into target: PickleValue) throws {
        guard case .dict(let dict) = target else { throw bad("SETITEM on a \(target.typeName), not a dict") }
        var i = pairs.startIndex
        while i < pairs.endIndex {
            dict.set(try key(pairs[i]), pairs[i + 1])
            i += 2
        }
    }

    // MARK: - The machine

    mutating func run() throws -> PickleValue {
        while position < data.count {
            opcodeStart = position
            let op = data[position]
            position += 1
            switch op {
            case 0x80:  // PROTO
                let version = try uint(1)
                guard version >= 2, version <= 5 else { throw bad("unsupported pickle protocol \(version)") }
            case 0x95:  // FRAME: an 8-byte length, then the frame's opcodes inline
                let length = try uint(8)
                guard length <= UInt64(data.count - position) else { throw bad("FRAME of \(length) bytes runs past the end") }
            case 0x7D:  // EMPTY_DICT
                try push(.dict(newDict()))
            case 0x5D:  // EMPTY_LIST
                let list = PickleList()
                lists.append(list)
                try push(.list(list))
            case 0x29:  // EMPTY_TUPLE
                try push(.tuple([], depth: 1))
            case 0x28:  // MARK
                guard marks.count < Self.maxMarks else { throw bad("more than \(Self.maxMarks) nested MARKs") }
                marks.append(stack.count)
            case 0x58:  // BINUNICODE
                try push(.string(try string(byteCount: try uint(4))))
            case 0x8C:  // SHORT_BINUNICODE
                try push(.string(try string(byteCount: try uint(1))))
            case 0x8D:  // BINUNICODE8
                try push(.string(try string(byteCount: try uint(8))))
            case 0x4A:  // BININT
                try push(.int(Int(Int32(truncatingIfNeeded: try uint(4)))))
            case 0x4B:  // BININT1
                try push(.int(Int(try uint(1))))
            case 0x4D:  // BININT2
                try push(.int(Int(try uint(2))))
            case 0x8A:  // LONG1: little-endian two's complement of n bytes
                let count = Int(try uint(1))
                let range = try take(count)
                var value: Int64 = 0
                if count > 0 {
                    let lower = range.lowerBound
                    if count > 8 {  // allowed only when the extra bytes are sign extension
                        let fill: UInt8 = data[lower + 7] & 0x80 != 0 ? 0xFF : 0
                        guard data[(lower + 8)..<range.upperBound].allSatisfy({ $0 == fill }) else {
                            throw bad("LONG1 integer of \(count) bytes is out of the 64-bit range")
                        }
                    }
                    var bits: UInt64 = 0
                    for i in 0..<min(count, 8) { bits |= UInt64(data[lower + i]) << (8 * UInt64(i)) }
                    if count < 8, data[range.upperBound - 1] & 0x80 != 0 { bits |= ~UInt64(0) << (8 * UInt64(count)) }
                    value = Int64(bitPattern: bits)
                }
                try push(.int(Int(value)))
            case 0x47:  // BINFLOAT: big-endian double
                let range = try take(8)
                var bits: UInt64 = 0
                for byte in data[range] { bits = bits << 8 | UInt64(byte) }
                try push(.float(Double(bitPattern: bits)))
            case 0x4E:  // NONE
                try push(.none)
            case 0x88:  // NEWTRUE
                try push(.bool(true))
            case 0x89:  // NEWFALSE
                try push(.bool(false))
            case 0x74:  // TUPLE
                let items = try popMark()
                try push(try tuple(items))
            case 0x85, 0x86, 0x87:  // TUPLE1, TUPLE2, TUPLE3
                let count = Int(op - 0x84)
                guard stack.count - frameBottom >= count else { throw bad("stack underflow") }
                let items = Array(stack.suffix(count))
                stack.removeLast(count)
                try push(try tuple(items))
            case 0x71:  // BINPUT
                try memoize(Int(try uint(1)))
            case 0x72:  // LONG_BINPUT
                try memoize(Int(try uint(4)))
            case 0x94:  // MEMOIZE
                try memoize(memo.count)
            case 0x68:  // BINGET
                try memoGet(Int(try uint(1)))
            case 0x6A:  // LONG_BINGET
                try memoGet(Int(try uint(4)))
            case 0x73:  // SETITEM
                let value = try pop()
                let key = try pop()
                try setItems([key, value], into: try top())
            case 0x75:  // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw bad("SETITEMS with an odd number of items") }
                try setItems(items[...], into: try top())
            case 0x61:  // APPEND
                let value = try pop()
                let target = try top()
                guard case .list(let list) = target else { throw bad("APPEND to a \(target.typeName), not a list") }
                list.items.append(value)
            case 0x65:  // APPENDS
                let items = try popMark()
                let target = try top()
                guard case .list(let list) = target else { throw bad("APPENDS to a \(target.typeName), not a list") }
                list.items += items
            case 0x63:  // GLOBAL: "module\nname\n"
                let module = try line()
                let name = try line()
                try push(.global(try resolve(module: module, name: name)))
            case 0x93:  // STACK_GLOBAL
                let nameValue = try pop()
                let moduleValue = try pop()
                guard case .string(let module) = moduleValue, case .string(let name) = nameValue else {
                    throw bad("STACK_GLOBAL needs two strings, got \(moduleValue.typeName) and \(nameValue.typeName)")
                }
                try push(.global(try resolve(module: module, name: name)))
            case 0x52:  // REDUCE
                let arguments = try pop()
                let callable = try pop()
                try push(try reduce(callable, arguments))
            case 0x62:  // BUILD
                let state = try pop()
                let instance = try top()
                switch (instance, state) {
                case (.dict, .dict), (.dict, .none):
                    break  // OrderedDict attributes (state dicts carry `_metadata` with module versions): ignored
                default:
                    throw bad("BUILD on a \(instance.typeName) is not allowed (only OrderedDict attributes)")
                }
            case 0x51:  // BINPERSID
                try push(try persistentLoad(try pop()))
            case 0x2E:  // STOP
                return try pop()
            default:
                throw bad(Self.describe(opcode: op))
            }
        }
        throw bad("pickle data ends without a STOP opcode")
    }

    private static func describe(opcode: UInt8) -> String {
        let known: [UInt8: String] = [
            0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x69: "INST", 0x6F: "OBJ", 0x50: "PERSID", 0x96: "BYTEARRAY8",
            0x97: "NEXT_BUFFER", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8E: "BINBYTES8", 0x8F: "EMPTY_SET",
            0x90: "ADDITEMS", 0x91: "FROZENSET", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x49: "INT", 0x4C: "LONG",
            0x46: "FLOAT", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x64: "DICT",
            0x6C: "LIST", 0x70: "PUT", 0x67: "GET", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x8B: "LONG4"
        ]
        let digits = String(opcode, radix: 16)
        let code = "0x" + (digits.count < 2 ? "0" : "") + digits
        if let name = known[opcode] { return "pickle opcode \(name) (\(code)) is not supported in a state dict" }
        return "unknown pickle opcode \(code)"
    }

    private func resolve(module: String, name: String) throws -> PyTorchGlobal {
        guard let global = PyTorchGlobal.resolve(module: module, name: name) else {
            throw refuse(Self.printable(module + "." + name))
        }
        return global
    }

    // MARK: - Calls

    private mutating func reduce(_ callable: PickleValue, _ arguments: PickleValue) throws -> PickleValue {
        guard case .global(let global) = callable else { throw bad("REDUCE calls a \(callable.typeName), which is not allowed") }
        guard case .tuple(let args, _) = arguments else {
            throw bad("REDUCE of \(global.name) with a \(arguments.typeName) as arguments, not a tuple")
        }
        switch global {
        case .orderedDict:
            let dict = newDict()
            if args.count == 1 {
                let pairs: [PickleValue]
                switch args[0] {
                case .list(let list): pairs = list.items
                case .tuple(let items, _): pairs = items
                case .dict(let other):
                    for (k, v) in zip(other.keys, other.values) { dict.set(k, v) }
                    pairs = []
                default: throw bad("collections.OrderedDict called with a \(args[0].typeName)")
                }
                for pair in pairs {
                    let items: [PickleValue]
                    switch pair {
                    case .tuple(let t, _): items = t
                    case .list(let l): items = l.items
                    default: throw bad("collections.OrderedDict called with a \(pair.typeName) item, not a pair")
                    }
                    guard items.count == 2 else { throw bad("collections.OrderedDict called with an item of \(items.count) values") }
                    dict.set(try key(items[0]), items[1])
                }
            } else if !args.isEmpty {
                throw bad("collections.OrderedDict called with \(args.count) arguments")
            }
            return .dict(dict)
        case .rebuildTensorV2:
            return try rebuildTensor(args)
        case .rebuildParameter:
            guard args.count == 3, case .tensor = args[0] else {
                throw bad("torch._utils._rebuild_parameter needs (tensor, requires_grad, hooks), got \(args.count) arguments")
            }
            return args[0]
        case .storageType, .dtype:
            throw bad("REDUCE calls \(global.name), which is not allowed")
        }
    }

    private func ints(_ value: PickleValue, _ what: String) throws -> [Int] {
        guard case .tuple(let items, _) = value else { throw bad("_rebuild_tensor_v2: \(what) is a \(value.typeName), not a tuple") }
        guard items.count <= Self.maxTensorRank else {
            throw bad("_rebuild_tensor_v2: \(what) has more than \(Self.maxTensorRank) dimensions")
        }
        return try items.map {
            guard case .int(let n) = $0, n >= 0 else {
                throw bad("_rebuild_tensor_v2: \(what) holds \($0.typeName) \(describe($0)), not a non-negative int")
            }
            return n
        }
    }

    private func describe(_ value: PickleValue) -> String {
        if case .int(let n) = value { return String(n) }
        return ""
    }

    /// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`.
    private mutating func rebuildTensor(_ args: [PickleValue]) throws -> PickleValue {
        guard args.count == 6 || args.count == 7 else {
            throw bad("torch._utils._rebuild_tensor_v2 called with \(args.count) arguments, expected 6 or 7")
        }
        guard case .storage(let storageIndex) = args[0] else {
            throw bad("_rebuild_tensor_v2: the storage is a \(args[0].typeName)")
        }
        guard case .int(let offset) = args[1], offset >= 0 else {
            throw bad("_rebuild_tensor_v2: storage offset is \(args[1].typeName) \(describe(args[1])), not a non-negative int")
        }
        let shape = try ints(args[2], "size")
        let strides = try ints(args[3], "stride")
        guard shape.count == strides.count else {
            throw bad("_rebuild_tensor_v2: size has \(shape.count) dimensions but stride has \(strides.count)")
        }
        switch args[4] {
        case .bool, .int: break
        default: throw bad("_rebuild_tensor_v2: requires_grad is a \(args[4].typeName)")
        }
        switch args[5] {
        case .dict, .none: break
        default: throw bad("_rebuild_tensor_v2: backward hooks are a \(args[5].typeName)")
        }
        let storage = storages[storageIndex]
        var count = 1
        var last = offset  // the largest element index the view touches
        for (size, stride) in zip(shape, strides) {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw bad("_rebuild_tensor_v2: size \(shape) has too many elements") }
            count = product
            if size > 0 {
                let (reach, o1) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, o2) = last.addingReportingOverflow(reach)
                guard !o1, !o2 else { throw bad("_rebuild_tensor_v2: size \(shape) with stride \(strides) overflows") }
                last = sum
            }
        }
        if count > 0 {
            guard last < storage.count else {
                throw bad(
                    "_rebuild_tensor_v2: size \(shape), stride \(strides) at offset \(offset) reaches element \(last) of storage "
                        + "\"\(storage.key)\", which has \(storage.count)"
                )
            }
        } else {
            guard offset <= storage.count else {
                throw bad("_rebuild_tensor_v2: offset \(offset) is beyond storage \"\(storage.key)\" of \(storage.count) elements")
            }
        }
        tensors.append(PyTorchTensorView(storage: storageIndex, offset: offset, shape: shape, strides: strides, elementCount: count))
        return .tensor(tensors.count - 1)
    }

    /// BINPERSID with `('storage', storage_type, key, location, count)`.
    private mutating func persistentLoad(_ id: PickleValue) throws -> PickleValue {
        guard case .tuple(let items, _) = id, items.count == 5, case .string("storage") = items[0] else {
            throw bad("persistent id is not ('storage', type, key, location, count)")
        }
        let dtype: PyTorchDType
        switch items[1] {
        case .global(.storageType(let t, _)), .global(.dtype(let t, _)): dtype = t
        default: throw bad("persistent id names a \(items[1].typeName), not a storage type")
        }
        guard case .string(let key) = items[2] else { throw bad("persistent id key is a \(items[2].typeName), not a str") }
        guard case .string = items[3] else { throw bad("persistent id location is a \(items[3].typeName), not a str") }
        guard case .int(let count) = items[4], count >= 0 else { throw bad("persistent id element count is not a non-negative int") }
        let bytes = try resolveStorage(key, dtype, count)
        storages.append(PyTorchStorage(key: key, dtype: dtype, count: count, bytes: bytes))
        return .storage(storages.count - 1)
    }
}
