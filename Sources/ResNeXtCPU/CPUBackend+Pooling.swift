import CDNNL
import ResNeXtCore

extension CPUBackend {
    private func poolGeometry(_ p: Pool2DParameters) -> (strides: [Int64], kernel: [Int64], padding: [Int64]) {
        ([Int64(p.strideH), Int64(p.strideW)], [Int64(p.kernelH), Int64(p.kernelW)], [Int64(p.padH), Int64(p.padW)])
    }

    private func algorithm(max: Bool, _ p: Pool2DParameters) -> dnnl_alg_kind_t {
        max ? dnnl_pooling_max : (p.countIncludesPadding ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding)
    }

    private func poolForward(_ src: MemoryDesc, output: Shape, max: Bool, _ p: Pool2DParameters) throws -> Primitive {
        let key = "pool_fwd|\(max)|\(p)|\(src.layoutKey)"
        return try primitive(
            key,
            desc: {
                var s = src
                var dst = try MemoryDesc.make(output.dims, dnnl_format_tag_any)
                var d = dnnl_pooling_desc_t()
                let (strides, kernel, pad) = poolGeometry(p)
                try dnnlCheck(
                    dnnl_pooling_forward_desc_init(
                        &d, dnnl_forward_training, algorithm(max: max, p), &s, &dst,
                        strides, kernel, pad, pad), "dnnl_pooling_forward_desc_init(\(key))")
                return d
            })
    }

    private func poolBackward(_ fwd: Primitive, input: Shape, output: Shape, max: Bool, _ p: Pool2DParameters) throws -> Primitive {
        let diffSrcDesc = fwd.desc(dnnl_query_src_md)
        let key = "pool_bwd|\(max)|\(p)|\(output)|\(diffSrcDesc.layoutKey)"
        return try primitive(
            key,
            desc: {
                var diffSrc = diffSrcDesc
                var diffDst = try MemoryDesc.make(output.dims, dnnl_format_tag_any)
                var d = dnnl_pooling_desc_t()
                let (strides, kernel, pad) = poolGeometry(p)
                try dnnlCheck(
                    dnnl_pooling_backward_desc_init(&d, algorithm(max: max, p), &diffSrc, &diffDst, strides, kernel, pad, pad),
                    "dnnl_pooling_backward_desc_init(\(key))")
                return d
            }, hint: fwd)
    }

    public func maxPool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> MaxPoolResult {
        let (s, outShape) = try operands.maxPool2D(input, p)
        let x = try activation(s, input.shape)
        let fwd = try poolForward(x.desc, output: outShape, max: true, p)
        let out = try allocate(fwd.desc(dnnl_query_dst_md))
        let workspaceDesc = fwd.desc(dnnl_query_workspace_md)
        let workspace = try allocate(workspaceDesc, producer: fwd)
        try run(
            fwd, [Argument(DNNL_ARG_SRC, x), Argument(DNNL_ARG_DST, out), Argument(DNNL_ARG_WORKSPACE, workspace)], "max pooling forward")
        let indices = Tensor(shape: [workspaceDesc.byteSize], dtype: .uint8, storage: workspace)
        return MaxPoolResult(output: wrap(out, outShape), indices: indices)
    }

    public func maxPool2DBackward(
        _ outputGradient: Tensor, forward: MaxPoolResult, inputShape: Shape,
        _ p: Pool2DParameters
    ) throws -> Tensor {
        // The workspace records the forward primitive, whose input shape must be this one.
        let o = try operands.maxPool2DBackward(outputGradient, forward: forward, inputShape: inputShape, p, indexType: .uint8) {
            workspace in
            workspace.producer.flatMap { $0.desc(dnnl_query_src_md).dimensions == inputShape.dims ? $0 : nil }
        }
        let (workspace, fwd, outShape) = (o.indices, o.record, o.outputShape)
        let bwd = try poolBackward(fwd, input: inputShape, output: outShape, max: true, p)
        let dy = try reorder(o.outputGradient, to: bwd.desc(dnnl_query_diff_dst_md))
        let dx = try allocate(bwd.desc(dnnl_query_diff_src_md))
        try run(
            bwd, [Argument(DNNL_ARG_DIFF_DST, dy), Argument(DNNL_ARG_WORKSPACE, workspace), Argument(DNNL_ARG_DIFF_SRC, dx)],
            "max pooling backward")
        return wrap(dx, inputShape)
    }

    public func averagePool2D(_ input: Tensor, _ p: Pool2DParameters) throws -> Tensor {
        let (s, outShape) = try operands.averagePool2D(input, p)
        let x = try activation(s, input.shape)
        let fwd = try poolForward(x.desc, output: outShape, max: false, p)
        let out = try allocate(fwd.desc(dnnl_query_dst_md))
        try run(fwd, [Argument(DNNL_ARG_SRC, x), Argument(DNNL_ARG_DST, out)], "average pooling forward")
        return wrap(out, outShape)
    }

    public func averagePool2DBackward(_ outputGradient: Tensor, inputShape: Shape, _ p: Pool2DParameters) throws -> Tensor {
        let (dyStorage, inputShape, outShape) = try operands.averagePool2DBackward(outputGradient, inputShape: inputShape, p)
        let fwd = try poolForward(try activationDesc(inputShape), output: outShape, max: false, p)
        let bwd = try poolBackward(fwd, input: inputShape, output: outShape, max: false, p)
        let dy = try reorder(dyStorage, to: bwd.desc(dnnl_query_diff_dst_md))
        let dx = try allocate(bwd.desc(dnnl_query_diff_src_md))
        try run(bwd, [Argument(DNNL_ARG_DIFF_DST, dy), Argument(DNNL_ARG_DIFF_SRC, dx)], "average pooling backward")
        return wrap(dx, inputShape)
    }
}
