import ResNeXtCore

extension CUDABackend {
    public func sgdStep(
        parameter: Tensor, gradient: Tensor, velocity: Tensor, learningRate: Float,
        _ h: SGDHyperparameters, isFirstStep: Bool
    ) throws {
        let (theta, g, v) = try operands.sgdStep(parameter: parameter, gradient: gradient, velocity: velocity)
        try prepare()
        try launch(
            .sgdStep, count: parameter.elementCount,
            [
                .pointer(theta.address), .pointer(g.address), .pointer(v.address), .float32(learningRate), .float32(h.momentum),
                .float32(1 - h.dampening), .float32(h.weightDecay), .int32(h.nesterov ? 1 : 0), .int32(isFirstStep ? 1 : 0),
                .count(parameter.elementCount)
            ])
    }
}

extension CUDABackend {
    /// Every parameter in one launch: a table of the tensors' element offsets and their parameter, gradient
    /// and velocity addresses goes up through the pinned staging buffer (one small asynchronous copy), then
    /// one kernel updates all elements.
    public func sgdStep(
        parameters: [Tensor], gradients: [Tensor], velocities: [Tensor], learningRate: Float,
        _ h: SGDHyperparameters, isFirstStep: Bool
    ) throws {
        let triples = try operands.sgdStep(parameters: parameters, gradients: gradients, velocities: velocities)
        guard !triples.isEmpty else { return }
        try prepare()
        let table = SGDTable(
            triples.map { ($0.parameter.address, $0.gradient.address, $0.velocity.address) }, counts: parameters.map(\.elementCount))
        let device = try uploadBytes(table.words, "SGD parameter table")
        let count = parameters.count
        try launch(
            .sgdStepAll, count: table.elements,
            [
                .pointer(device.address + table.parametersOffset), .pointer(device.address + table.gradientsOffset),
                .pointer(device.address + table.velocitiesOffset), .pointer(device.address), .int32(Int32(count)),
                .float32(learningRate), .float32(h.momentum), .float32(1 - h.dampening), .float32(h.weightDecay),
                .int32(h.nesterov ? 1 : 0), .int32(isFirstStep ? 1 : 0), .count(table.elements)
            ])
    }
}

/// The table the all-parameter SGD kernel reads, as 8-byte words: the tensors' element offsets in their
/// concatenation (one more than tensors, the last the total), then the parameter, gradient and velocity
/// addresses.
public struct SGDTable: Equatable, Sendable {
    public let words: [UInt64]
    /// Elements of all tensors together.
    public let elements: Int
    /// Byte offsets of the address lists in the table.
    public let parametersOffset: UInt64, gradientsOffset: UInt64, velocitiesOffset: UInt64

    public init(_ addresses: [(parameter: CUdeviceptr, gradient: CUdeviceptr, velocity: CUdeviceptr)], counts: [Int]) {
        var offsets = [UInt64]()
        var total = 0
        for n in counts {
            offsets.append(UInt64(total))
            total += n
        }
        offsets.append(UInt64(total))
        words = offsets + addresses.map(\.parameter) + addresses.map(\.gradient) + addresses.map(\.velocity)
        elements = total
        let n = UInt64(counts.count)
        parametersOffset = 8 * (n + 1)
        gradientsOffset = 8 * (2 * n + 1)
        velocitiesOffset = 8 * (3 * n + 1)
    }
}
