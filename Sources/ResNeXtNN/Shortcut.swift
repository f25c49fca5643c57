import ResNeXtCore

/// The original's type-A shortcut: subsample with stride (1×1 average pooling), then append zero
/// channels up to `outChannels` (the original concatenates `[x, 0·x]`, doubling the channels).
public final class ZeroPadShortcut: Layer {
    public let backend: any Backend
    public let stride: Int
    public let outChannels: Int
    public var isTraining = true
    private var inputShape: Shape?

    public init(_ backend: any Backend, stride: Int, outChannels: Int) {
        self.backend = backend
        self.stride = stride
        self.outChannels = outChannels
    }

    private var subsample: Pool2DParameters { Pool2DParameters(kernel: 1, stride: stride) }

    public func forward(_ x: Tensor) throws -> Tensor {
        try x.shape.requireRank(4, "zero-padding shortcut input")
        guard outChannels >= x.shape[1] else {
            throw ResNeXtError.shapeMismatch("zero-padding shortcut cannot shrink \(x.shape[1]) channels to \(outChannels)")
        }
        inputShape = x.shape
        let y = stride == 1 ? x : try backend.averagePool2D(x, subsample)
        guard outChannels > x.shape[1] else { return y }
        let zeros = try backend.zeros([y.shape[0], outChannels - x.shape[1], y.shape[2], y.shape[3]])
        return try backend.concatenateChannels([y, zeros])
    }

    public func backward(_ dy: Tensor) throws -> Tensor {
        let shape = try saved(inputShape, "ZeroPadShortcut")
        let kept = outChannels > shape[1] ? try backend.splitChannels(dy, sizes: [shape[1], outChannels - shape[1]])[0] : dy
        return stride == 1 ? kept : try backend.averagePool2DBackward(kept, inputShape: shape, subsample)
    }
}
