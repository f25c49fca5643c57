import ResNeXtCore

extension CUDABackend {
    public func relu(_ input: Tensor) throws -> Tensor {
        let x = try operands.relu(input)
        try prepare()
        let out = try allocate(input.shape)
        try launch(.reluForward, count: input.elementCount, [.pointer(x.address), .pointer(out.address), .count(input.elementCount)])
        return wrap(out, input.shape)
    }

    public func reluBackward(_ outputGradient: Tensor, output: Tensor) throws -> Tensor {
        let (dy, y) = try operands.reluBackward(outputGradient, output: output)
        try prepare()
        let dx = try allocate(output.shape)
        try launch(
            .reluBackward, count: output.elementCount,
            [.pointer(dy.address), .pointer(y.address), .pointer(dx.address), .count(output.elementCount)])
        return wrap(dx, output.shape)
    }

    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let (x, y) = try operands.add(a, b)
        try prepare()
        let out = try allocate(a.shape)
        try launch(
            .addTensors, count: a.elementCount, [.pointer(x.address), .pointer(y.address), .pointer(out.address), .count(a.elementCount)])
        return wrap(out, a.shape)
    }
}
