import ResNeXtCore

extension CUDABackend {
    /// Runs one column-major SGEMM `C = op(A)·op(B)` (β = 0) through cuBLAS.
    func gemm(_ call: GemmCall, operands: [GemmCall.Operand: CUDAStorage], output: CUDAStorage) throws {
        guard !call.isEmpty else { return }
        guard call.k > 0 else {
            try fillZeros(output, count: call.m * call.n)
            return
        }
        guard let a = operands[call.a], let b = operands[call.b] else {
            throw ResNeXtError.backend("\(call) is missing an operand")
        }
        guard [call.m, call.n, call.k, call.lda, call.ldb, call.ldc].allSatisfy({ $0 <= Int(Int32.max) }) else {
            throw ResNeXtError.unsupported("\(call) exceeds cuBLAS's 32-bit sizes")
        }
        let api = cublas
        let handle = cublasHandle
        try cublasLock.withLock { _ in
            var alpha: Float = 1, beta: Float = 0
            try api.check(
                api.cublasSgemm(
                    handle, call.transA, call.transB, Int32(call.m), Int32(call.n), Int32(call.k), &alpha,
                    a.floats, Int32(call.lda), b.floats, Int32(call.ldb), &beta, output.floats, Int32(call.ldc)),
                "cublasSgemm_v2(\(call))")
        }
        try afterCall("cublasSgemm_v2")
    }

    public func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        let (x, w, b, outShape) = try operands.linear(input, weight: weight, bias: bias)
        try prepare()
        let y = try allocate(outShape)
        let call = LinearGemm.forward(batch: input.shape[0], inFeatures: input.shape[1], outFeatures: weight.shape[0])
        try gemm(call, operands: [.input: x, .weight: w], output: y)
        if let b {
            try launch(
                .addChannelBias, count: outShape.elementCount,
                [.pointer(y.address), .pointer(b.address), .count(outShape.elementCount), .count(outShape[1]), .count(1)])
        }
        return wrap(y, outShape)
    }

    public func linearBackwardData(_ outputGradient: Tensor, weight: Tensor) throws -> Tensor {
        let (dy, w, inputShape) = try operands.linearBackwardData(outputGradient, weight: weight)
        try prepare()
        let dx = try allocate(inputShape)
        let call = LinearGemm.backwardData(batch: inputShape[0], inFeatures: inputShape[1], outFeatures: weight.shape[0])
        try gemm(call, operands: [.outputGradient: dy, .weight: w], output: dx)
        return wrap(dx, inputShape)
    }

    public func linearBackwardWeights(_ outputGradient: Tensor, input: Tensor, withBias: Bool) throws -> (weight: Tensor, bias: Tensor?) {
        let (dy, x, weightShape) = try operands.linearBackwardWeights(outputGradient, input: input)
        try prepare()
        let dw = try allocate(weightShape)
        let (batch, outFeatures) = (input.shape[0], weightShape[0])
        let call = LinearGemm.backwardWeights(batch: batch, inFeatures: weightShape[1], outFeatures: outFeatures)
        try gemm(call, operands: [.outputGradient: dy, .input: x], output: dw)
        var db: Tensor?
        if withBias {
            let bias = try allocate([outFeatures])
            if batch == 0 {
                try fillZeros(bias, count: outFeatures)
            } else {
                try launch(
                    .channelSum, count: outFeatures,
                    [.pointer(dy.address), .pointer(bias.address), .count(batch), .count(outFeatures), .count(1)])
            }
            db = wrap(bias, [outFeatures])
        }
        return (wrap(dw, weightShape), db)
    }
}
