/// Device memory holding a tensor's elements in whatever physical layout its backend chose.
/// Backends define concrete storages; model code only passes them around.
public protocol TensorStorage: AnyObject, Sendable {
    var device: Device { get }
}

/// An n-dimensional array on a device: a logical shape and element type over backend-owned storage.
///
/// Tensors are cheap values that share storage. Operations on a ``Backend`` return new tensors, except
/// where an operation documents that it updates a tensor in place (running statistics, SGD).
public struct Tensor: Sendable, CustomStringConvertible {
    public let shape: Shape
    public let dtype: DType
    public let storage: any TensorStorage

    public init(shape: Shape, dtype: DType = .float32, storage: any TensorStorage) {
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
    }

    public var device: Device { storage.device }
    public var elementCount: Int { shape.elementCount }
    public var description: String { "Tensor(\(shape), \(dtype), \(device))" }
}
