import ResNeXtCore

/// The checks every CUDA operation makes before touching the GPU: shapes, element types, devices and
/// storages, in the same order and with the same messages as the CPU backend, so that a bad call fails
/// the same way on either. Pure: testable without a GPU (with storages from an allocator whose device
/// functions are fakes).
public struct CUDAValidator: Sendable {
    public let device: Device

    public init(device: Device) { self.device = device }

    // MARK: Tensors

    /// The CUDA storage of `tensor`, or the error naming `what`: another device, another element type,
    /// or a storage of another backend.
    public func storage(_ tensor: Tensor, _ what: @autoclosure () -> String, dtype: DType = .float32) throws -> CUDAStorage {
        guard tensor.device == device else {
            throw ResNeXtError.wrongDevice("\(what()) is on \(tensor.device), but this backend computes on \(device)")
        }
        guard tensor.dtype == dtype else {
            throw ResNeXtError.unsupported("\(what()) has element type \(tensor.dtype); this operation takes \(dtype)")
        }
        guard let s = tensor.storage as? CUDAStorage else {
            throw ResNeXtError.wrongDevice("\(what()) has storage \(type(of: tensor.storage)), not this backend's")
        }
        guard s.block.requested >= tensor.elementCount * dtype.byteSize else {
            throw ResNeXtError.invalidArgument("\(what()) of shape \(tensor.shape) is larger than its storage (\(s.block.requested) bytes)")
        }
        return s
    }

    public func requireShape(_ tensor: Tensor, _ shape: Shape, _ what: @autoclosure () -> String) throws {
        guard tensor.shape == shape else {
            throw ResNeXtError.shapeMismatch("\(what()) has shape \(tensor.shape), expected \(shape)")
        }
    }

    // MARK: Memory

    public func upload(count: Int, shape: Shape) throws -> Shape {
        let shape = try shape.validated()
        guard count == shape.elementCount else {
            throw ResNeXtError.shapeMismatch("\(count) values do not fill shape \(shape) (\(shape.elementCount) elements)")
        }
        return shape
    }

    public func reshape(_ tensor: Tensor, to shape: Shape) throws -> (storage: CUDAStorage, shape: Shape) {
        let shape = try shape.validated()
        guard shape.elementCount == tensor.elementCount else {
            throw ResNeXtError.shapeMismatch("cannot reshape \(tensor.shape) (\(tensor.elementCount) elements) to \(shape)")
        }
        return (try storage(tensor, "reshaped tensor"), shape)
    }

    // MARK: Convolution

    public func convolutionForward(_ input: Tensor, weight: Tensor, bias: Tensor?, _ p: Convolution2DParameters) throws
        -> (x: CUDAStorage, w: CUDAStorage, bias: CUDAStorage?, geometry: ConvolutionGeometry) {
        let geometry = try ConvolutionGeometry(input: input.shape, weight: weight.shape, p)
        let x = try storage(input, "convolution input")
        let w = try storage(weight, "convolution weight")
        var b: CUDAStorage?
        if let bias {
            try requireShape(bias, [weight.shape[0]], "convolution bias")
            b = try storage(bias, "convolution bias")
        }
        return (x, w, b, geometry)
    }

    public func convolutionBackwardData(_ outputGradient: Tensor, weight: Tensor, inputShape: Shape, _ p: Convolution2DParameters) throws
        -> (dy: CUDAStorage, w: CUDAStorage, geometry: ConvolutionGeometry) {
        let inputShape = try inputShape.validated("convolution input")
        let geometry = try ConvolutionGeometry(input: inputShape, weight: weight.shape, p)
        try requireShape(outputGradient, geometry.outputShape, "convolution output gradient")
        let dy = try storage(outputGradient, "convolution output gradient")
        let w = try storage(weight, "convolution weight")
        return (dy, w, geometry)
    }

    public func convolutionBackwardWeights(_ outputGradient: Tensor, input: Tensor, weightShape: Shape, _ p: Convolution2DParameters) throws
        -> (dy: CUDAStorage, x: CUDAStorage, geometry: ConvolutionGeometry) {
        let weightShape = try weightShape.validated("convolution weight")
        let geometry = try ConvolutionGeometry(input: input.shape, weight: weightShape, p)
        try requireShape(outputGradient, geometry.outputShape, "convolution output gradient")
        let dy = try storage(outputGradient, "convolution output gradient")
        let x = try storage(input, "convolution input")
        return (dy, x, geometry)
    }

    // MARK: Batch normalization

    /// The input's storage, then the `[C]` vectors (shape, then storage, each in turn).
    public func batchNorm(_ input: Tensor, _ vectors: [(Tensor, String)]) throws -> (x: CUDAStorage, vectors: [CUDAStorage], dims: [Int32]) {
        let x = try storage(input, "batch normalization input")
        guard input.shape.rank == 4 || input.shape.rank == 2 else {
            throw ResNeXtError.shapeMismatch("batch normalization input must be [N, C, H, W] or [N, C], got \(input.shape)")
        }
        let v = try vectors.map { t, what in
            try requireShape(t, [input.shape[1]], "batch normalization \(what)")
            return try storage(t, "batch normalization \(what)")
        }
        guard input.elementCount > 0 else {
            throw ResNeXtError.invalidArgument("batch normalization of an empty input \(input.shape)")
        }
        return (x, v, try BatchNormGeometry.dims(input.shape))
    }

    // MARK: Element-wise

    public func reluBackward(_ outputGradient: Tensor, output: Tensor) throws -> (dy: CUDAStorage, y: CUDAStorage) {
        try requireShape(outputGradient, output.shape, "ReLU output gradient")
        let y = try storage(output, "ReLU output")
        return (try storage(outputGradient, "ReLU output gradient"), y)
    }

    public func add(_ a: Tensor, _ b: Tensor) throws -> (a: CUDAStorage, b: CUDAStorage) {
        try requireShape(b, a.shape, "second addend")
        let x = try storage(a, "first addend")
        return (x, try storage(b, "second addend"))
    }

    // MARK: Pooling

    public func maxPoolBackward(_ outputGradient: Tensor, forward: MaxPoolResult, inputShape: Shape, _ p: Pool2DParameters) throws
        -> (dy: CUDAStorage, indices: CUDAStorage, outputShape: Shape) {
        let outShape = try p.outputShape(input: inputShape)
        try requireShape(outputGradient, outShape, "max pooling output gradient")
        let indices = try storage(forward.indices, "max pooling indices", dtype: .uint8)
        guard let record = indices.maxPoolRecord, record.inputShape == inputShape, record.parameters == p,
              forward.indices.elementCount == outShape.elementCount * 4 else {
            throw ResNeXtError.invalidArgument("max pooling backward needs the indices that maxPool2D returned for an input of shape \(inputShape)")
        }
        return (try storage(outputGradient, "max pooling output gradient"), indices, outShape)
    }

    public func averagePoolBackward(_ outputGradient: Tensor, inputShape: Shape, _ p: Pool2DParameters) throws -> (dy: CUDAStorage, inputShape: Shape) {
        let inputShape = try inputShape.validated("average pooling input")
        let outShape = try p.outputShape(input: inputShape)
        try requireShape(outputGradient, outShape, "average pooling output gradient")
        return (try storage(outputGradient, "average pooling output gradient"), inputShape)
    }

    // MARK: Linear

    public func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) throws -> (x: CUDAStorage, w: CUDAStorage, bias: CUDAStorage?, outputShape: Shape) {
        let outputShape = try ShapeRules.linear(input: input.shape, weight: weight.shape)
        if let bias { try requireShape(bias, [weight.shape[0]], "linear bias") }
        let x = try storage(input, "linear input")
        let w = try storage(weight, "linear weight")
        let b = try bias.map { try storage($0, "linear bias") }
        return (x, w, b, outputShape)
    }

    public func linearBackwardData(_ outputGradient: Tensor, weight: Tensor) throws -> (dy: CUDAStorage, w: CUDAStorage, inputShape: Shape) {
        let inputShape = try ShapeRules.linearBackwardData(outputGradient: outputGradient.shape, weight: weight.shape)
        let dy = try storage(outputGradient, "linear output gradient")
        return (dy, try storage(weight, "linear weight"), inputShape)
    }

    public func linearBackwardWeights(_ outputGradient: Tensor, input: Tensor) throws -> (dy: CUDAStorage, x: CUDAStorage, weightShape: Shape) {
        let weightShape = try ShapeRules.linearBackwardWeights(outputGradient: outputGradient.shape, input: input.shape)
        let x = try storage(input, "linear input")
        return (try storage(outputGradient, "linear output gradient"), x, weightShape)
    }

    // MARK: Channels

    public func concatenate(_ inputs: [Tensor]) throws -> (storages: [CUDAStorage], outputShape: Shape) {
        let outputShape = try ShapeRules.concatenateChannels(inputs.map(\.shape))
        let storages = try inputs.enumerated().map { try storage($1, "concatenated tensor \($0)") }
        return (storages, outputShape)
    }

    public func split(_ input: Tensor, sizes: [Int]) throws -> CUDAStorage {
        try ShapeRules.splitChannels(input.shape, sizes: sizes)
        return try storage(input, "split tensor")
    }

    // MARK: Loss and metrics

    public func labels(_ logits: Tensor, _ labels: [Int32]) throws -> (rows: Int, classes: Int) {
        try ShapeRules.labels(logits.shape, labels)
    }

    public func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) throws -> (logits: CUDAStorage, rows: Int, classes: Int) {
        let (rows, classes) = try self.labels(logits, labels)
        guard rows > 0 else { throw ResNeXtError.invalidArgument("cross-entropy of an empty batch") }
        return (try storage(logits, "logits"), rows, classes)
    }

    public func topK(_ logits: Tensor, labels: [Int32], ks: [Int]) throws -> (logits: CUDAStorage, rows: Int, classes: Int) {
        let (rows, classes) = try self.labels(logits, labels)
        guard ks.allSatisfy({ $0 > 0 }) else { throw ResNeXtError.invalidArgument("top-k needs positive k, got \(ks)") }
        return (try storage(logits, "logits"), rows, classes)
    }

    // MARK: Optimizer

    public func sgd(parameter: Tensor, gradient: Tensor, velocity: Tensor) throws -> (parameter: CUDAStorage, gradient: CUDAStorage, velocity: CUDAStorage) {
        try requireShape(gradient, parameter.shape, "SGD gradient")
        try requireShape(velocity, parameter.shape, "SGD velocity")
        let theta = try storage(parameter, "SGD parameter")
        let v = try storage(velocity, "SGD velocity")
        return (theta, try storage(gradient, "SGD gradient"), v)
    }
}
