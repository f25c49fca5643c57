import ResNeXtCore

// Values of Torch7's binary serialization (`torch.save` / `torch.load`), as read by `Torch7.parse` and
// written by `Torch7.serialize`. Tables, tensors, storages and functions are reference types so that
// objects shared in a file (the same storage under many tensors, a table that contains itself) stay
// shared: identity is the `===` of these classes.

/// Element types of Torch7 storages. `int64` is a C `long` (8 bytes on Linux/macOS; files written on
/// Windows use 4-byte longs, which the reader widens to 8).
public enum Torch7ElementType: String, Sendable, CaseIterable {
    case float32, float64, float16, int64, int32, int16, uint8, int8

    /// Bytes per element in memory (and in 64-bit-long files).
    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .int16: 2
        case .uint8, .int8: 1
        }
    }

    /// The element type of a `torch.*Tensor` class (CPU or CUDA), or nil for any other class.
    public static func ofTensorClass(_ className: String) -> Torch7ElementType? {
        guard className.hasSuffix("Tensor") else { return nil }
        return ofTypePrefix(String(className.dropLast("Tensor".count)))
    }

    /// The element type of a `torch.*Storage` class (CPU or CUDA), or nil for any other class.
    public static func ofStorageClass(_ className: String) -> Torch7ElementType? {
        guard className.hasSuffix("Storage") else { return nil }
        return ofTypePrefix(String(className.dropLast("Storage".count)))
    }

    /// `torch.Float` → float32, `torch.Cuda` → float32, `torch.CudaHalf` → float16, …
    private static func ofTypePrefix(_ prefix: String) -> Torch7ElementType? {
        switch prefix {
        case "torch.Float", "torch.Cuda": .float32
        case "torch.Double", "torch.CudaDouble": .float64
        case "torch.Half", "torch.CudaHalf": .float16
        case "torch.Long", "torch.CudaLong": .int64
        case "torch.Int", "torch.CudaInt": .int32
        case "torch.Short", "torch.CudaShort": .int16
        case "torch.Byte", "torch.CudaByte": .uint8
        case "torch.Char", "torch.CudaChar": .int8
        default: nil
        }
    }

    /// The CPU class names for this element type: ("torch.FloatTensor", "torch.FloatStorage"), …
    public var cpuClassNames: (tensor: String, storage: String) {
        let stem: String
        switch self {
        case .float32: stem = "torch.Float"
        case .float64: stem = "torch.Double"
        case .float16: stem = "torch.Half"
        case .int64: stem = "torch.Long"
        case .int32: stem = "torch.Int"
        case .int16: stem = "torch.Short"
        case .uint8: stem = "torch.Byte"
        case .int8: stem = "torch.Char"
        }
        return (stem + "Tensor", stem + "Storage")
    }
}

/// A Torch7 value. Numbers are Lua numbers (float64), so array keys and integer fields are doubles.
public indirect enum Torch7Value: CustomStringConvertible {
    case `nil`
    case number(Double)
    case string(String)
    case boolean(Bool)
    /// A Lua table; shared and self-referencing tables are the same `Torch7Table` instance.
    case table(Torch7Table)
    case tensor(Torch7Tensor)
    case storage(Torch7Storage)
    /// Any other torch class (nn modules, custom `torch.class` instances): the class name, its version
    /// (the "V <n>" string; 0 for pre-versioning files) and its payload, for nn modules the table of fields.
    case object(className: String, version: Int, payload: Torch7Value)
    /// A serialized Lua function: kept as opaque bytecode, never executed.
    case function(Torch7Function)

    public var number: Double? { if case .number(let x) = self { x } else { nil } }

    /// The number as an Int when it is integral and in range.
    public var int: Int? { number.flatMap { Int(exactly: $0) } }

    public var string: String? { if case .string(let s) = self { s } else { nil } }

    public var boolean: Bool? { if case .boolean(let b) = self { b } else { nil } }

    public var table: Torch7Table? { if case .table(let t) = self { t } else { nil } }

    public var tensor: Torch7Tensor? { if case .tensor(let t) = self { t } else { nil } }

    public var storage: Torch7Storage? { if case .storage(let s) = self { s } else { nil } }

    public var isNil: Bool { if case .nil = self { true } else { false } }

    /// The torch class of an object, tensor or storage.
    public var className: String? {
        switch self {
        case .object(let name, _, _): name
        case .tensor(let t): t.className
        case .storage(let s): s.className
        default: nil
        }
    }

    /// An object's field table (its payload when that is a table).
    public var fields: Torch7Table? {
        if case .object(_, _, .table(let t)) = self { t } else { nil }
    }

    /// `value[name]`: the field of a table, or of an object's field table.
    public subscript(field: String) -> Torch7Value? {
        switch self {
        case .table(let t): t[field]
        case .object(_, _, .table(let t)): t[field]
        default: nil
        }
    }

    /// True when both are the same shared object (same table, tensor, storage, function, or an object
    /// with the same payload table).
    public func isSameReference(as other: Torch7Value) -> Bool {
        guard let a = Torch7Table.referenceKey(self), let b = Torch7Table.referenceKey(other) else { return false }
        return a == b
    }

    public var description: String { describe(depth: 3) }

    /// A short rendering that stops `depth` levels down (so cycles are harmless).
    public func describe(depth: Int) -> String {
        switch self {
        case .nil: return "nil"
        case .number(let x): return Int(exactly: x).map(String.init) ?? "\(x)"
        case .string(let s): return "\"\(s.count > 60 ? String(s.prefix(60)) + "…" : s)\""
        case .boolean(let b): return b ? "true" : "false"
        case .tensor(let t): return "\(t.className)\(t.sizes)"
        case .storage(let s): return "\(s.className)(\(s.count))"
        case .function(let f): return "function(\(f.bytecode.count) bytes)"
        case let .object(name, version, payload):
            return depth <= 0 ? "\(name){…}" : "\(name) V\(version) " + payload.describe(depth: depth - 1)
        case .table(let t):
            guard depth > 0 else { return "{…}" }
            let shown = t.entries.prefix(8).map { "\($0.key.describe(depth: 0)) = \($0.value.describe(depth: depth - 1))" }
            return "{" + shown.joined(separator: ", ") + (t.count > 8 ? ", … (\(t.count) entries)" : "") + "}"
        }
    }
}

/// A Lua table: key/value pairs in insertion (file) order. Keys are compared as Lua does: numbers,
/// strings and booleans by value (0.0 == -0.0), everything else by identity. nil and NaN keys are
/// not allowed.
///
/// Tables that contain themselves form reference cycles and are never freed; this only matters for
/// programs that load many such files.
public final class Torch7Table {
    public private(set) var entries: [(key: Torch7Value, value: Torch7Value)] = []
    private var positions: [KeyID: Int] = [:]
    /// Levels of nesting inside, set by the reader (which bounds it).
    var height = 0

    enum KeyID: Hashable {
        case number(UInt64), string(String), boolean(Bool), reference(ReferenceKey)
    }

    /// Identity of the reference-like values (objects are identified by their payload table).
    enum ReferenceKey: Hashable {
        case table(ObjectIdentifier), object(ObjectIdentifier), tensor(ObjectIdentifier)
        case storage(ObjectIdentifier), function(ObjectIdentifier)
    }

    public init() {}

    /// A table of `pairs` in order; a repeated key keeps its first position and its last value.
    public convenience init(_ pairs: [(Torch7Value, Torch7Value)]) {
        self.init()
        for (key, value) in pairs { self[key] = value }
    }

    /// A table with string keys (an object's fields).
    public convenience init(fields: [(String, Torch7Value)]) {
        self.init(fields.map { (.string($0.0), $0.1) })
    }

    /// A Lua array: keys 1.0 … n.0.
    public convenience init(array: [Torch7Value]) {
        self.init(array.enumerated().map { (.number(Double($0.offset + 1)), $0.element) })
    }

    public var count: Int { entries.count }

    static func referenceKey(_ value: Torch7Value) -> ReferenceKey? {
        switch value {
        case .table(let t): .table(ObjectIdentifier(t))
        case .object(_, _, .table(let t)): .object(ObjectIdentifier(t))
        case .tensor(let t): .tensor(ObjectIdentifier(t))
        case .storage(let s): .storage(ObjectIdentifier(s))
        case .function(let f): .function(ObjectIdentifier(f))
        default: nil
        }
    }

    /// Whether `key` can index a table (not nil, not NaN).
    static func isValidKey(_ key: Torch7Value) -> Bool {
        switch key {
        case .nil: false
        case .number(let x): !x.isNaN
        default: true
        }
    }

    private static func keyID(_ key: Torch7Value) -> KeyID? {
        switch key {
        case .number(let x): .number(x == 0 ? 0 : x.bitPattern)
        case .string(let s): .string(s)
        case .boolean(let b): .boolean(b)
        default: referenceKey(key).map { .reference($0) }
        }
    }

    /// The value under `key`; setting nil removes the entry. Keys must be valid (not nil or NaN).
    public subscript(key: Torch7Value) -> Torch7Value? {
        get {
            if let id = Self.keyID(key) { return positions[id].map { entries[$0].value } }
            return nil
        }
        set {
            precondition(Self.isValidKey(key), "Torch7Table: a Lua table key cannot be nil or NaN")
            guard let id = Self.keyID(key) else {
                // An object without a field table: no identity to compare, so always a new entry.
                if let newValue { entries.append((key, newValue)) }
                return
            }
            if let position = positions[id] {
                if let newValue {
                    entries[position].value = newValue
                } else {
                    entries.remove(at: position)
                    positions[id] = nil
                    for i in position..<entries.count { if let moved = Self.keyID(entries[i].key) { positions[moved] = i } }
                }
            } else if let newValue {
                positions[id] = entries.count
                entries.append((key, newValue))
            }
        }
    }

    public subscript(key: String) -> Torch7Value? {
        get { self[.string(key)] }
        set { self[.string(key)] = newValue }
    }

    public subscript(index: Int) -> Torch7Value? {
        get { self[.number(Double(index))] }
        set { self[.number(Double(index))] = newValue }
    }

    /// The values under keys 1 … n when the keys are exactly the numbers 1 … n (in any order), else nil.
    public var arrayValues: [Torch7Value]? {
        var values: [Torch7Value] = []
        values.reserveCapacity(count)
        for i in 0..<count {
            guard let v = self[i + 1] else { return nil }
            values.append(v)
        }
        return values
    }
}

/// A typed block of elements, stored as raw little-endian bytes (8-byte longs).
public final class Torch7Storage: Sendable {
    public let className: String
    public let version: Int
    public let elementType: Torch7ElementType
    public let count: Int
    public let bytes: [UInt8]

    init(validated className: String, version: Int, elementType: Torch7ElementType, count: Int, bytes: [UInt8]) {
        self.className = className
        self.version = version
        self.elementType = elementType
        self.count = count
        self.bytes = bytes
    }

    /// A storage of a `torch.*Storage` class from its raw little-endian bytes (longs as 8 bytes).
    /// - Throws: `ResNeXtError.invalidArgument` for an unknown class or a byte count that is not a
    ///   whole number of elements.
    public convenience init(className: String, version: Int = 1, rawBytes: [UInt8]) throws {
        guard let type = Torch7ElementType.ofStorageClass(className) else {
            throw ResNeXtError.invalidArgument("torch7 storage: unknown storage class \(className)")
        }
        guard rawBytes.count % type.byteSize == 0 else {
            throw ResNeXtError.invalidArgument(
                "torch7 storage: \(rawBytes.count) bytes is not a whole number of \(type.byteSize)-byte elements")
        }
        self.init(validated: className, version: version, elementType: type, count: rawBytes.count / type.byteSize, bytes: rawBytes)
    }

    /// A `torch.FloatStorage`.
    public convenience init(floats: [Float]) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(floats.count * 4)
        for x in floats { torch7AppendLittleEndian(x.bitPattern, to: &bytes) }
        self.init(validated: "torch.FloatStorage", version: 1, elementType: .float32, count: floats.count, bytes: bytes)
    }

    /// A `torch.DoubleStorage`.
    public convenience init(doubles: [Double]) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(doubles.count * 8)
        for x in doubles { torch7AppendLittleEndian(x.bitPattern, to: &bytes) }
        self.init(validated: "torch.DoubleStorage", version: 1, elementType: .float64, count: doubles.count, bytes: bytes)
    }

    /// A `torch.LongStorage` (e.g. `nn.View`'s sizes).
    public convenience init(int64s: [Int64]) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(int64s.count * 8)
        for x in int64s { torch7AppendLittleEndian(UInt64(bitPattern: x), to: &bytes) }
        self.init(validated: "torch.LongStorage", version: 1, elementType: .int64, count: int64s.count, bytes: bytes)
    }

    /// Every element converted to Double (exact for all but int64 values beyond 2^53).
    public func doubles() -> [Double] {
        bytes.withUnsafeBytes { raw in (0..<count).map { Self.element(raw, $0, elementType) } }
    }

    static func element(_ raw: UnsafeRawBufferPointer, _ i: Int, _ type: Torch7ElementType) -> Double {
        func load<T: FixedWidthInteger>(_: T.Type) -> T {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        }
        switch type {
        case .float32: return Double(Float(bitPattern: load(UInt32.self)))
        case .float64: return Double(bitPattern: load(UInt64.self))
        case .float16: return Double(StoredTensor.halfToFloat(load(UInt16.self)))
        case .int64: return Double(load(Int64.self))
        case .int32: return Double(load(Int32.self))
        case .int16: return Double(load(Int16.self))
        case .uint8: return Double(load(UInt8.self))
        case .int8: return Double(load(Int8.self))
        }
    }

    static func floatElement(_ raw: UnsafeRawBufferPointer, _ i: Int, _ type: Torch7ElementType) -> Float {
        switch type {
        case .float32:
            return Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
        case .float16:
            return StoredTensor.halfToFloat(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
        default:
            return Float(element(raw, i, type))
        }
    }
}

/// A view into a storage: sizes, strides (in elements) and a **1-based** storage offset, as in the file.
public final class Torch7Tensor: Sendable {
    public let className: String
    public let version: Int
    public let elementType: Torch7ElementType
    public let sizes: [Int]
    public let strides: [Int]
    /// 1-based, as Torch7 writes it (`storageOffset + 1`).
    public let storageOffset: Int
    public let storage: Torch7Storage?

    init(
        validated className: String, version: Int, elementType: Torch7ElementType, sizes: [Int], strides: [Int],
        storageOffset: Int, storage: Torch7Storage?
    ) {
        self.className = className
        self.version = version
        self.elementType = elementType
        self.sizes = sizes
        self.strides = strides
        self.storageOffset = storageOffset
        self.storage = storage
    }

    /// A tensor of a `torch.*Tensor` class viewing `storage`.
    /// - Throws: `ResNeXtError.invalidArgument` for an unknown class, a storage of another element type,
    ///   or sizes/strides/offset that reach outside the storage.
    public convenience init(
        className: String, version: Int = 1, sizes: [Int], strides: [Int], storageOffset: Int,
        storage: Torch7Storage?
    ) throws {
        guard let type = Torch7ElementType.ofTensorClass(className) else {
            throw ResNeXtError.invalidArgument("torch7 tensor: unknown tensor class \(className)")
        }
        self.init(
            validated: className, version: version, elementType: type, sizes: sizes, strides: strides,
            storageOffset: storageOffset, storage: storage)
        if let problem = layoutProblem() { throw ResNeXtError.invalidArgument("torch7 tensor \(className) \(sizes): \(problem)") }
    }

    /// A contiguous `torch.FloatTensor` with its own storage; `floats.count` must equal the product of `shape`
    /// (0 for an empty shape, as Torch7 counts a tensor without dimensions as empty).
    public convenience init(shape: [Int], floats: [Float]) {
        precondition(
            shape.allSatisfy { $0 >= 0 } && (shape.isEmpty ? 0 : shape.reduce(1, *)) == floats.count,
            "Torch7Tensor(shape:floats:): shape \(shape) does not hold \(floats.count) values")
        self.init(
            validated: "torch.FloatTensor", version: 1, elementType: .float32, sizes: shape,
            strides: Self.contiguousStrides(shape), storageOffset: 1, storage: Torch7Storage(floats: floats))
    }

    /// A contiguous `torch.DoubleTensor` with its own storage.
    public convenience init(shape: [Int], doubles: [Double]) {
        precondition(
            shape.allSatisfy { $0 >= 0 } && (shape.isEmpty ? 0 : shape.reduce(1, *)) == doubles.count,
            "Torch7Tensor(shape:doubles:): shape \(shape) does not hold \(doubles.count) values")
        self.init(
            validated: "torch.DoubleTensor", version: 1, elementType: .float64, sizes: shape,
            strides: Self.contiguousStrides(shape), storageOffset: 1, storage: Torch7Storage(doubles: doubles))
    }

    /// An empty tensor (no dimensions, no storage), as unused `output`/`gradInput` fields are saved.
    public static func empty(_ className: String = "torch.FloatTensor") -> Torch7Tensor {
        Torch7Tensor(
            validated: className, version: 1, elementType: Torch7ElementType.ofTensorClass(className) ?? .float32,
            sizes: [], strides: [], storageOffset: 1, storage: nil)
    }

    /// Row-major strides of `shape`.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = step
            step = step &* max(shape[d], 1)
        }
        return strides
    }

    /// The number of elements (0 for a tensor without dimensions, as Torch7's `nElement`).
    public var elementCount: Int {
        sizes.isEmpty ? 0 : sizes.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
    }

    /// What is wrong with the sizes, strides and offset against the storage, or nil when every element
    /// lies inside the storage.
    func layoutProblem() -> String? {
        guard strides.count == sizes.count else { return "\(sizes.count) sizes but \(strides.count) strides" }
        if let negative = sizes.firstIndex(where: { $0 < 0 }) { return "size \(sizes[negative]) of dimension \(negative + 1) is negative" }
        guard !sizes.isEmpty else { return nil }
        var count = 1
        for size in sizes {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { return "element count overflows" }
            count = product
        }
        guard count > 0 else { return nil }
        guard let storage else { return "\(count) elements but no storage" }
        guard storage.elementType == elementType else {
            return "\(elementType.rawValue) tensor on a \(storage.className) (\(storage.elementType.rawValue))"
        }
        guard storageOffset >= 1 else { return "storage offset \(storageOffset) is below 1 (offsets are 1-based)" }
        var last = storageOffset - 1
        for (d, (size, stride)) in zip(sizes, strides).enumerated() {
            guard stride >= 0 else { return "stride \(stride) of dimension \(d + 1) is negative" }
            let (step, o1) = (size - 1).multipliedReportingOverflow(by: stride)
            let (sum, o2) = last.addingReportingOverflow(step)
            guard !o1, !o2 else { return "strides \(strides) overflow" }
            last = sum
        }
        guard last < storage.count else {
            return "offset \(storageOffset) and strides \(strides) reach element \(last + 1) of a storage of \(storage.count) elements"
        }
        return nil
    }

    /// Whether the elements are laid out row-major without gaps.
    public var isContiguous: Bool {
        var expected = 1
        for d in stride(from: sizes.count - 1, through: 0, by: -1) where sizes[d] != 1 {
            guard strides[d] == expected else { return false }
            expected = expected &* sizes[d]
        }
        return true
    }

    /// Gathers every element in row-major order, honouring strides, offset and shared storage.
    private func gather<T>(_ convert: (UnsafeRawBufferPointer, Int, Torch7ElementType) -> T) throws -> [T] {
        if let problem = layoutProblem() { throw ResNeXtError.invalidArgument("torch7 tensor \(className) \(sizes): \(problem)") }
        let n = elementCount
        guard n > 0, let storage else { return [] }
        let type = storage.elementType
        let base = storageOffset - 1
        return storage.bytes.withUnsafeBytes { raw in
            var out = [T]()
            out.reserveCapacity(n)
            if isContiguous {
                for i in base..<(base + n) { out.append(convert(raw, i, type)) }
                return out
            }
            var index = [Int](repeating: 0, count: sizes.count)
            var linear = base
            for _ in 0..<n {
                out.append(convert(raw, linear, type))
                var d = sizes.count - 1
                while d >= 0 {
                    index[d] += 1
                    linear += strides[d]
                    if index[d] < sizes[d] { break }
                    linear -= strides[d] * sizes[d]
                    index[d] = 0
                    d -= 1
                }
            }
            return out
        }
    }

    /// The elements in row-major order converted to Float.
    /// - Throws: `ResNeXtError.invalidArgument` when the view reaches outside its storage.
    public func floats() throws -> [Float] { try gather(Torch7Storage.floatElement) }

    /// The elements in row-major order converted to Double.
    public func doubles() throws -> [Double] { try gather(Torch7Storage.element) }

    /// The tensor as a float32 `StoredTensor` of shape `sizes`.
    public func storedTensor() throws -> StoredTensor {
        StoredTensor(shape: sizes, floats: try floats())
    }
}

/// A Lua function from a file: its dumped bytecode and upvalues, kept only to be written back.
/// Nothing here ever executes it.
public final class Torch7Function {
    /// The type tag it was stored with: 6 (function), 7 (legacy recursive function) or 8 (recursive function).
    public let tag: Int
    public let bytecode: [UInt8]
    public internal(set) var upvalues: Torch7Value
    /// Levels of nesting inside, set by the reader (which bounds it).
    var height = 0

    public init(tag: Int = 8, bytecode: [UInt8], upvalues: Torch7Value) {
        precondition((6...8).contains(tag), "Torch7Function: tag must be 6, 7 or 8")
        self.tag = tag
        self.bytecode = bytecode
        self.upvalues = upvalues
    }
}

func torch7AppendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    var v = value.littleEndian
    withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
}
