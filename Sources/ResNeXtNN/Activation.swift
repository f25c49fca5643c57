import ResNeXtCore

/// Rectified linear unit.
public final class ReLU: Layer {
    public let backend: any Backend
    public var isTraining = true
    private var output: Tensor?

    public init(_ backend: any Backend) { self.backend = backend }

    public func forward(_ x: Tensor) throws -> Tensor {
        let y = try backend.relu(x)
        output = isTraining ? y : nil
        return y
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let y = try saved(output, "ReLU")
        output = nil
        return try backend.reluBackward(dy, output: y)
    }
}

/// Passes its input through unchanged.
public final class Identity: Layer {
    public var isTraining = true
    public init() {}
    public func forward(_ x: Tensor) throws -> Tensor { x }
    public func backward(_ dy: Tensor) throws -> Tensor { dy }
}

/// Reshapes `[N, C, 1, 1]` (or any `[N, ...]`) to `[N, C·...]`.
public final class Flatten: Layer {
    public let backend: any Backend
    public var isTraining = true
    private var inputShape: Shape?

    public init(_ backend: any Backend) { self.backend = backend }

    public func forward(_ x: Tensor) throws -> Tensor {
        inputShape = x.shape
        guard x.shape.rank >= 1 else { throw ResNeXtError.shapeMismatch("Flatten needs a batch dimension, got \(x.shape)") }
        return try backend.reshape(x, to: [x.shape[0], x.elementCount / max(x.shape[0], 1)])
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        try backend.reshape(dy, to: try saved(inputShape, "Flatten"))
    }
}
