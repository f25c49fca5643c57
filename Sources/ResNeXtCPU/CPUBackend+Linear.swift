import CDNNL
import ResNeXtCore

extension CPUBackend {
    private func innerProductForward(input: Shape, weight: Shape, withBias: Bool) throws -> Primitive {
        let key = "ip_fwd|\(input)|\(weight)|\(withBias)"
        return try primitive(
            key,
            desc: {
                var src = try MemoryDesc.plain(input.dims), wei = try MemoryDesc.plain(weight.dims)
                var bias = withBias ? try MemoryDesc.plain([weight[0]]) : MemoryDesc(), dst = try MemoryDesc.plain([input[0], weight[0]])
                var d = dnnl_inner_product_desc_t()
                try dnnlCheck(
                    dnnl_inner_product_forward_desc_init(&d, dnnl_forward_training, &src, &wei, &bias, &dst),
                    "dnnl_inner_product_forward_desc_init(\(key))")
                return d
            })
    }

    public func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        let (x, w, b, outShape) = try operands.linear(input, weight: weight, bias: bias)
        let fwd = try innerProductForward(input: input.shape, weight: weight.shape, withBias: bias != nil)
        let out = try allocate(try .plain(outShape.dims))
        var args = [
            Argument(DNNL_ARG_SRC, try plain(x, input.shape)), Argument(DNNL_ARG_WEIGHTS, try plain(w, weight.shape)),
            Argument(DNNL_ARG_DST, out)
        ]
        if let b { args.append(Argument(DNNL_ARG_BIAS, try plain(b, [weight.shape[0]]))) }
        try run(fwd, args, "linear forward")
        return wrap(out, outShape)
    }

    public func linearBackwardData(_ outputGradient: Tensor, weight: Tensor) throws -> Tensor {
        let (dy, w, inputShape) = try operands.linearBackwardData(outputGradient, weight: weight)
        let fwd = try innerProductForward(input: inputShape, weight: weight.shape, withBias: false)
        let key = "ip_bwd_data|\(inputShape)|\(weight.shape)"
        let bwd = try primitive(
            key,
            desc: {
                var diffSrc = try MemoryDesc.plain(inputShape.dims), wei = try MemoryDesc.plain(weight.shape.dims)
                var diffDst = try MemoryDesc.plain(outputGradient.shape.dims)
                var d = dnnl_inner_product_desc_t()
                try dnnlCheck(
                    dnnl_inner_product_backward_data_desc_init(&d, &diffSrc, &wei, &diffDst),
                    "dnnl_inner_product_backward_data_desc_init(\(key))")
                return d
            }, hint: fwd)
        let dx = try allocate(try .plain(inputShape.dims))
        try run(
            bwd,
            [
                Argument(DNNL_ARG_DIFF_DST, try plain(dy, outputGradient.shape)), Argument(DNNL_ARG_WEIGHTS, try plain(w, weight.shape)),
                Argument(DNNL_ARG_DIFF_SRC, dx)
            ], "linear backward data")
        return wrap(dx, inputShape)
    }

    public func linearBackwardWeights(_ outputGradient: Tensor, input: Tensor, withBias: Bool) throws -> (weight: Tensor, bias: Tensor?) {
        let (dy, x, weightShape) = try operands.linearBackwardWeights(outputGradient, input: input)
        let fwd = try innerProductForward(input: input.shape, weight: weightShape, withBias: withBias)
        let key = "ip_bwd_weights|\(input.shape)|\(weightShape)|\(withBias)"
        let bwd = try primitive(
            key,
            desc: {
                var src = try MemoryDesc.plain(input.shape.dims), diffWei = try MemoryDesc.plain(weightShape.dims)
                var diffBias = withBias ? try MemoryDesc.plain([weightShape[0]]) : MemoryDesc(),
                    diffDst = try MemoryDesc.plain(outputGradient.shape.dims)
                var d = dnnl_inner_product_desc_t()
                try dnnlCheck(
                    dnnl_inner_product_backward_weights_desc_init(&d, &src, &diffWei, &diffBias, &diffDst),
                    "dnnl_inner_product_backward_weights_desc_init(\(key))")
                return d
            }, hint: fwd)
        let dw = try allocate(try .plain(weightShape.dims))
        var args = [
            Argument(DNNL_ARG_SRC, try plain(x, input.shape)), Argument(DNNL_ARG_DIFF_DST, try plain(dy, outputGradient.shape)),
            Argument(DNNL_ARG_DIFF_WEIGHTS, dw)
        ]
        var db: CPUStorage?
        if withBias {
            db = try allocate(try .plain([weightShape[0]]))
            args.append(Argument(DNNL_ARG_DIFF_BIAS, db!))
        }
        try run(bwd, args, "linear backward weights")
        return (wrap(dw, weightShape), db.map { wrap($0, [weightShape[0]]) })
    }
}
