import CDNNL
import ResNeXtCore

extension CPUBackend {
    /// Weight dims in oneDNN's convention: `[O, I, KH, KW]`, or `[G, O/G, I/G, KH, KW]` when grouped.
    private func weightDims(_ w: Shape, groups: Int) -> [Int] {
        groups == 1 ? w.dims : [groups, w[0] / groups, w[1], w[2], w[3]]
    }

    /// The plain (PyTorch-layout) descriptor of the weights, 5-D goihw when grouped.
    private func plainWeightDesc(_ w: Shape, groups: Int) throws -> MemoryDesc {
        try .plain(weightDims(w, groups: groups))
    }

    private func geometry(_ p: Convolution2DParameters) -> (strides: [Int64], padding: [Int64]) {
        ([Int64(p.strideH), Int64(p.strideW)], [Int64(p.padH), Int64(p.padW)])
    }

    /// The forward primitive for these shapes; also the hint for both backward primitives.
    private func convolutionForward(
        input: Shape, weight: Shape, output: Shape, withBias: Bool,
        _ p: Convolution2DParameters
    ) throws -> Primitive {
        let key = "conv_fwd|\(input)|\(weight)|\(withBias)|\(p)"
        return try primitive(
            key,
            desc: {
                var src = try MemoryDesc.make(input.dims, dnnl_format_tag_any)
                var wei = try MemoryDesc.make(weightDims(weight, groups: p.groups), dnnl_format_tag_any)
                var bias = withBias ? try MemoryDesc.plain([weight[0]]) : MemoryDesc()
                var dst = try MemoryDesc.make(output.dims, dnnl_format_tag_any)
                var d = dnnl_convolution_desc_t()
                let (strides, pad) = geometry(p)
                try dnnlCheck(
                    dnnl_convolution_forward_desc_init(
                        &d, dnnl_forward_training, dnnl_convolution_direct,
                        &src, &wei, &bias, &dst, strides, pad, pad),
                    "dnnl_convolution_forward_desc_init(\(key))")
                return d
            })
    }

    public func convolution2D(_ input: Tensor, weight: Tensor, bias: Tensor?, _ p: Convolution2DParameters) throws -> Tensor {
        let (x, w, b, outShape) = try operands.convolution2D(input, weight: weight, bias: bias, p)
        let fwd = try convolutionForward(input: input.shape, weight: weight.shape, output: outShape, withBias: bias != nil, p)
        let src = try reorder(x, to: fwd.desc(dnnl_query_src_md))
        let plainW = CPUStorage(buffer: w.buffer, desc: try plainWeightDesc(weight.shape, groups: p.groups))
        let wei = try reorder(plainW, to: fwd.desc(dnnl_query_weights_md))
        let out = try allocate(fwd.desc(dnnl_query_dst_md))
        var args = [Argument(DNNL_ARG_SRC, src), Argument(DNNL_ARG_WEIGHTS, wei), Argument(DNNL_ARG_DST, out)]
        if let b { args.append(Argument(DNNL_ARG_BIAS, try plain(b, [weight.shape[0]]))) }
        try run(fwd, args, "convolution forward")
        return wrap(out, outShape)
    }

    public func convolution2DBackwardData(
        _ outputGradient: Tensor, weight: Tensor, inputShape: Shape,
        _ p: Convolution2DParameters
    ) throws -> Tensor {
        let (dy, w, inputShape, outShape) = try operands.convolution2DBackwardData(
            outputGradient, weight: weight, inputShape: inputShape, p)
        let fwd = try convolutionForward(input: inputShape, weight: weight.shape, output: outShape, withBias: false, p)
        let key = "conv_bwd_data|\(inputShape)|\(weight.shape)|\(p)"
        let bwd = try primitive(
            key,
            desc: {
                var diffSrc = try MemoryDesc.make(inputShape.dims, dnnl_format_tag_any)
                var wei = try MemoryDesc.make(weightDims(weight.shape, groups: p.groups), dnnl_format_tag_any)
                var diffDst = try MemoryDesc.make(outShape.dims, dnnl_format_tag_any)
                var d = dnnl_convolution_desc_t()
                let (strides, pad) = geometry(p)
                try dnnlCheck(
                    dnnl_convolution_backward_data_desc_init(
                        &d, dnnl_convolution_direct, &diffSrc, &wei, &diffDst,
                        strides, pad, pad),
                    "dnnl_convolution_backward_data_desc_init(\(key))")
                return d
            }, hint: fwd)
        let plainW = CPUStorage(buffer: w.buffer, desc: try plainWeightDesc(weight.shape, groups: p.groups))
        let wei = try reorder(plainW, to: bwd.desc(dnnl_query_weights_md))
        let diffDst = try reorder(dy, to: bwd.desc(dnnl_query_diff_dst_md))
        let out = try allocate(bwd.desc(dnnl_query_diff_src_md))
        try run(
            bwd, [Argument(DNNL_ARG_DIFF_DST, diffDst), Argument(DNNL_ARG_WEIGHTS, wei), Argument(DNNL_ARG_DIFF_SRC, out)],
            "convolution backward data")
        return wrap(out, inputShape)
    }

    public func convolution2DBackwardWeights(
        _ outputGradient: Tensor, input: Tensor, weightShape: Shape, withBias: Bool,
        _ p: Convolution2DParameters
    ) throws -> (weight: Tensor, bias: Tensor?) {
        let (dy, x, weightShape, outShape) = try operands.convolution2DBackwardWeights(
            outputGradient, input: input, weightShape: weightShape, p)
        let fwd = try convolutionForward(input: input.shape, weight: weightShape, output: outShape, withBias: withBias, p)
        let key = "conv_bwd_weights|\(input.shape)|\(weightShape)|\(withBias)|\(p)"
        let bwd = try primitive(
            key,
            desc: {
                var src = try MemoryDesc.make(input.shape.dims, dnnl_format_tag_any)
                var diffWei = try MemoryDesc.make(weightDims(weightShape, groups: p.groups), dnnl_format_tag_any)
                var diffBias = withBias ? try MemoryDesc.plain([weightShape[0]]) : MemoryDesc()
                var diffDst = try MemoryDesc.make(outShape.dims, dnnl_format_tag_any)
                var d = dnnl_convolution_desc_t()
                let (strides, pad) = geometry(p)
                try dnnlCheck(
                    dnnl_convolution_backward_weights_desc_init(
                        &d, dnnl_convolution_direct, &src, &diffWei,
                        &diffBias, &diffDst, strides, pad, pad),
                    "dnnl_convolution_backward_weights_desc_init(\(key))")
                return d
            }, hint: fwd)
        let src = try reorder(x, to: bwd.desc(dnnl_query_src_md))
        let diffDst = try reorder(dy, to: bwd.desc(dnnl_query_diff_dst_md))
        let diffW = try allocate(bwd.desc(dnnl_query_diff_weights_md))
        var args = [Argument(DNNL_ARG_SRC, src), Argument(DNNL_ARG_DIFF_DST, diffDst), Argument(DNNL_ARG_DIFF_WEIGHTS, diffW)]
        var diffB: CPUStorage?
        if withBias {
            diffB = try allocate(try .plain([weightShape[0]]))
            args.append(Argument(DNNL_ARG_DIFF_BIAS, diffB!))
        }
        try run(bwd, args, "convolution backward weights")
        let plainW = try reorder(diffW, to: try plainWeightDesc(weightShape, groups: p.groups))
        let dw = wrap(CPUStorage(buffer: plainW.buffer, desc: try .plain(weightShape.dims)), weightShape)
        return (dw, diffB.map { wrap($0, [weightShape[0]]) })
    }
}
