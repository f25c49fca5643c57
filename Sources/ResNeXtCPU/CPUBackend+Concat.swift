import CDNNL
import ResNeXtCore

extension CPUBackend {
    public func concatenateChannels(_ inputs: [Tensor]) throws -> Tensor {
        guard let first = inputs.first else { throw ResNeXtError.invalidArgument("concatenation of no tensors") }
        try first.shape.requireRank(4, "concatenated tensor")
        for (i, t) in inputs.enumerated() {
            try t.shape.requireRank(4, "concatenated tensor \(i)")
            guard t.shape[0] == first.shape[0], t.shape[2] == first.shape[2], t.shape[3] == first.shape[3] else {
                throw ResNeXtError.shapeMismatch("concatenated tensor \(i) has shape \(t.shape), which differs from \(first.shape) outside the channels")
            }
        }
        let sources = try inputs.enumerated().map { try storage($1, "concatenated tensor \($0)") }
        let outShape: Shape = [first.shape[0], inputs.reduce(0) { $0 + $1.shape[1] }, first.shape[2], first.shape[3]]
        let key = "concat|" + sources.map(\.desc.layoutKey).joined(separator: "|")
        let p = try primitive(key) {
            var descs = sources.map(\.desc)
            var pd: dnnl_primitive_desc_t?
            try dnnlCheck(dnnl_concat_primitive_desc_create(&pd, nil, Int32(descs.count), 1, &descs, nil, engine),
                          "dnnl_concat_primitive_desc_create(\(key))")
            return try Primitive(descriptor: pd!, name: key)
        }
        let out = try allocate(p.desc(dnnl_query_dst_md))
        var args = sources.enumerated().map { Argument(DNNL_ARG_MULTIPLE_SRC + Int32($0), $1) }
        args.append(Argument(DNNL_ARG_DST, out))
        try run(p, args, "channel concatenation")
        return wrap(out, outShape)
    }

    public func splitChannels(_ input: Tensor, sizes: [Int]) throws -> [Tensor] {
        try input.shape.requireRank(4, "split tensor")
        guard sizes.allSatisfy({ $0 > 0 }), sizes.reduce(0, +) == input.shape[1] else {
            throw ResNeXtError.invalidArgument("split sizes \(sizes) must be positive and sum to the \(input.shape[1]) channels of \(input.shape)")
        }
        let whole = try plain(input, "split tensor")
        var offset = 0
        return try sizes.map { size in
            let dims = [input.shape[0], size, input.shape[2], input.shape[3]]
            var parent = whole.desc
            var part = MemoryDesc()
            try dnnlCheck(dnnl_memory_desc_init_submemory(&part, &parent, dims.map(Int64.init), [0, Int64(offset), 0, 0]),
                          "dnnl_memory_desc_init_submemory")
            offset += size
            let piece = try reorder(CPUStorage(buffer: whole.buffer, desc: part), to: try .plain(dims))
            return wrap(piece, Shape(dims))
        }
    }
}
