import ResNeXtCore

/// Max pooling (floor mode; padded positions never win).
public final class MaxPool2d: Layer {
    public let backend: any Backend
    public let parameters: Pool2DParameters
    public var isTraining = true
    private var saved: (result: MaxPoolResult, inputShape: Shape)?

    public init(_ backend: any Backend, kernelSize: Int, stride: Int, padding: Int = 0) {
        self.backend = backend
        self.parameters = Pool2DParameters(kernel: kernelSize, stride: stride, padding: padding)
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        let result = try backend.maxPool2D(x, parameters)
        saved = isTraining ? (result, x.shape) : nil
        return result.output
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let (result, shape) = try ResNeXtNN.saved(saved, "MaxPool2d")
        saved = nil
        return try backend.maxPool2DBackward(dy, forward: result, inputShape: shape, parameters)
    }
}

/// Average pooling over a fixed window, or over the whole map when `global` (any input size works;
/// output `[N, C, 1, 1]`).
public final class AvgPool2d: Layer {
    public let backend: any Backend
    public let window: Pool2DParameters?
    public var isTraining = true
    private var saved: (inputShape: Shape, parameters: Pool2DParameters)?

    /// A fixed `kernelSize × kernelSize` window.
    public init(_ backend: any Backend, kernelSize: Int, stride: Int, padding: Int = 0, countIncludesPadding: Bool = true) {
        self.backend = backend
        self.window = Pool2DParameters(kernel: kernelSize, stride: stride, padding: padding, countIncludesPadding: countIncludesPadding)
    }

    /// Global average pooling (adaptive to the input's spatial size).
    public init(global backend: any Backend) {
        self.backend = backend
        self.window = nil
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try x.shape.requireRank(4, "AvgPool2d input")
        let p = window ?? .global(height: x.shape[2], width: x.shape[3])
        saved = (x.shape, p)
        return try backend.averagePool2D(x, p)
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let (shape, p) = try ResNeXtNN.saved(saved, "AvgPool2d")
        return try backend.averagePool2DBackward(dy, inputShape: shape, p)
    }
}
