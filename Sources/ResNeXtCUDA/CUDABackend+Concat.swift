import ResNeXtCore

extension CUDABackend {
    public func concatenateChannels(_ inputs: [Tensor]) throws -> Tensor {
        let (sources, outShape) = try operands.concatenateChannels(inputs)
        try prepare()
        let out = try allocate(outShape)
        let (batch, plane) = (outShape[0], outShape[2] * outShape[3])
        var offset = 0
        for (source, tensor) in zip(sources, inputs) {
            let channels = tensor.shape[1]
            try launch(
                .copyChannels, count: batch * channels * plane,
                [
                    .pointer(source.address), .pointer(out.address), .count(batch), .count(channels), .count(0),
                    .count(outShape[1]), .count(offset), .count(channels), .count(plane)
                ])
            offset += channels
        }
        return wrap(out, outShape)
    }

    public func splitChannels(_ input: Tensor, sizes: [Int]) throws -> [Tensor] {
        let source = try operands.splitChannels(input, sizes: sizes)
        try prepare()
        let (batch, plane) = (input.shape[0], input.shape[2] * input.shape[3])
        var offset = 0
        return try sizes.map { channels in
            let shape: Shape = [batch, channels, input.shape[2], input.shape[3]]
            let piece = try allocate(shape)
            try launch(
                .copyChannels, count: batch * channels * plane,
                [
                    .pointer(source.address), .pointer(piece.address), .count(batch), .count(input.shape[1]), .count(offset),
                    .count(channels), .count(0), .count(channels), .count(plane)
                ])
            offset += channels
            return wrap(piece, shape)
        }
    }
}
