import CDNNL
import Dispatch
import ResNeXtCore

extension CPUBackend {
    private func reluForward(_ data: MemoryDesc) throws -> Primitive {
        let key = "relu_fwd|\(data.layoutKey)"
        return try primitive(
            key,
            desc: {
                var md = data
                var d = dnnl_eltwise_desc_t()
                try dnnlCheck(
                    dnnl_eltwise_forward_desc_init(&d, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd, &md, 0, 0),
                    "dnnl_eltwise_forward_desc_init(\(key))")
                return d
            })
    }

    public func relu(_ input: Tensor) throws -> Tensor {
        let x = try activation(try operands.relu(input), input.shape)
        let fwd = try reluForward(x.desc)
        let out = try allocate(x.desc)
        try run(fwd, [Argument(DNNL_ARG_SRC, x), Argument(DNNL_ARG_DST, out)], "ReLU forward")
        return wrap(out, input.shape)
    }

    public func reluBackward(_ outputGradient: Tensor, output: Tensor) throws -> Tensor {
        let o = try operands.reluBackward(outputGradient, output: output)
        let y = try activation(o.output, output.shape)
        let dy = try reorder(o.outputGradient, to: y.desc)
        let fwd = try reluForward(y.desc)
        let key = "relu_bwd|\(y.desc.layoutKey)"
        let bwd = try primitive(
            key,
            desc: {
                var md = y.desc, diff = y.desc
                var d = dnnl_eltwise_desc_t()
                try dnnlCheck(
                    dnnl_eltwise_backward_desc_init(&d, dnnl_eltwise_relu_use_dst_for_bwd, &diff, &md, 0, 0),
                    "dnnl_eltwise_backward_desc_init(\(key))")
                return d
            }, hint: fwd)
        let dx = try allocate(y.desc)
        try run(bwd, [Argument(DNNL_ARG_DST, y), Argument(DNNL_ARG_DIFF_DST, dy), Argument(DNNL_ARG_DIFF_SRC, dx)], "ReLU backward")
        return wrap(dx, output.shape)
    }

    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let o = try operands.add(a, b)
        let x = try activation(o.a, a.shape)
        let y = try reorder(o.b, to: x.desc)
        let key = "add|\(x.desc.layoutKey)"
        let p = try primitive(
            key,
            desc: {
                var s0 = x.desc, s1 = x.desc, dst = x.desc
                var d = dnnl_binary_desc_t()
                try dnnlCheck(dnnl_binary_desc_init(&d, dnnl_binary_add, &s0, &s1, &dst), "dnnl_binary_desc_init(\(key))")
                return d
            })
        let out = try allocate(x.desc)
        try run(p, [Argument(DNNL_ARG_SRC_0, x), Argument(DNNL_ARG_SRC_1, y), Argument(DNNL_ARG_DST, out)], "add")
        return wrap(out, a.shape)
    }

    /// Runs `body` over `0..<count` split into contiguous chunks, one per thread.
    func parallelChunks(_ count: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = count < 1 << 16 ? 1 : threads
        if chunks == 1 { body(0..<count); return }
        let size = (count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let start = c * size
            if start < count { body(start..<min(count, start + size)) }
        }
    }
}
