import CDNNL
import ResNeXtCore

extension CPUBackend {
    public func concatenateChannels(_ inputs: [Tensor]) throws -> Tensor {
        let (sources, outShape) = try operands.concatenateChannels(inputs)
        let key = "concat|" + sources.map(\.desc.layoutKey).joined(separator: "|")
        let p = try primitive(key) {
            var descs = sources.map(\.desc)
            var pd: dnnl_primitive_desc_t?
            try dnnlCheck(
                dnnl_concat_primitive_desc_create(&pd, nil, Int32(descs.count), 1, &descs, nil, engine),
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
        let whole = try plain(try operands.splitChannels(input, sizes: sizes), input.shape)
        var offset = 0
        return try sizes.map { size in
            let dims = [input.shape[0], size, input.shape[2], input.shape[3]]
            var parent = whole.desc
            var part = MemoryDesc()
            try dnnlCheck(
                dnnl_memory_desc_init_submemory(&part, &parent, dims.map(Int64.init), [0, Int64(offset), 0, 0]),
                "dnnl_memory_desc_init_submemory")
            offset += size
            let piece = try reorder(CPUStorage(buffer: whole.buffer, desc: part), to: try .plain(dims))
            return wrap(piece, Shape(dims))
        }
    }
}
