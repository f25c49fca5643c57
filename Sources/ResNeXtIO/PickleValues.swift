import ResNeXtCore

// The values the restricted unpickler (PyTorchPickle.swift) builds: element types, allowed globals,
// dicts, lists, storages and tensor views.

/// Element types of PyTorch storages this reader understands.
enum PyTorchDType: Sendable, Equatable {
    case float64, float32, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    var itemSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16, .int16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// The dtype of the tensors `PyTorchCheckpoint` returns: F32 for every floating type, else the same type.
    var output: SafetensorsDType {
        switch self {
        case .float64, .float32, .float16, .bfloat16: .F32
        case .int64: .I64
        case .int32: .I32
        case .int16: .I16
        case .int8: .I8
        case .uint8: .U8
        case .bool: .BOOL
        }
    }
}

/// A global the unpickler may resolve.
enum PyTorchGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    /// `torch.FloatStorage` and friends, and `torch.UntypedStorage` (bytes).
    case storageType(PyTorchDType, String)
    /// `torch.float32` and friends.
    case dtype(PyTorchDType, String)

    var name: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .storageType(_, let name), .dtype(_, let name): name
        }
    }

    /// The allow-list. Anything else is refused by name.
    static func resolve(module: String, name: String) -> PyTorchGlobal? {
        let full = module + "." + name
        switch full {
        case "collections.OrderedDict": return .orderedDict
        case "torch._utils._rebuild_tensor_v2": return .rebuildTensorV2
        case "torch._utils._rebuild_parameter": return .rebuildParameter
        case "torch.UntypedStorage", "torch.storage.UntypedStorage": return .storageType(.uint8, full)
        default: break
        }
        guard module == "torch" else { return nil }
        let storages: [String: PyTorchDType] = [
            "DoubleStorage": .float64, "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
            "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16, "CharStorage": .int8,
            "ByteStorage": .uint8, "BoolStorage": .bool
        ]
        if let dtype = storages[name] { return .storageType(dtype, full) }
        let dtypes: [String: PyTorchDType] = [
            "float64": .float64, "float32": .float32, "float16": .float16, "bfloat16": .bfloat16,
            "int64": .int64, "int32": .int32, "int16": .int16, "int8": .int8, "uint8": .uint8, "bool": .bool
        ]
        if let dtype = dtypes[name] { return .dtype(dtype, full) }
        return nil
    }
}

/// A dict key: pickled state dicts use strings (and optimizer states ints; `True`/`False` are 1/0 as in Python).
enum PickleKey: Hashable {
    case string(String)
    case int(Int)

    var text: String {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        }
    }
}

/// A mutable dict (reference semantics, as memoized Python objects are shared), in insertion order.
final class PickleDict {
    private(set) var keys: [PickleKey] = []
    private(set) var values: [PickleValue] = []
    private var index: [PickleKey: Int] = [:]

    var count: Int { keys.count }

    func set(_ key: PickleKey, _ value: PickleValue) {
        if let i = index[key] {
            values[i] = value
        } else {
            index[key] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    subscript(key: PickleKey) -> PickleValue? { index[key].map { values[$0] } }

    func removeAll() {
        keys = []
        values = []
        index = [:]
    }
}

/// A mutable list (reference semantics).
final class PickleList {
    var items: [PickleValue] = []
}

/// A value on the unpickler's stack.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    /// Items, and the tuple's nesting depth (containers count as depth 1).
    case tuple([PickleValue], depth: Int)
    case dict(PickleDict)
    case list(PickleList)
    case global(PyTorchGlobal)
    /// An index into `PyTorchUnpickler.storages`.
    case storage(Int)
    /// An index into `PyTorchUnpickler.tensors`.
    case tensor(Int)

    var typeName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .tuple: "tuple"
        case .dict: "dict"
        case .list: "list"
        case .global(let g): g.name
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }

    var depth: Int {
        if case .tuple(_, let depth) = self { return depth }
        return 1
    }
}

/// A storage named by a persistent id: its element type and bytes (a slice of the archive).
struct PyTorchStorage {
    let key: String
    let dtype: PyTorchDType
    let count: Int
    let bytes: ArraySlice<UInt8>
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage, bounds-checked.
struct PyTorchTensorView {
    let storage: Int
    let offset: Int
    let shape: [Int]
    let strides: [Int]
    let elementCount: Int
}
