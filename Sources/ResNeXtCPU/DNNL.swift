import CDNNL
import ResNeXtCore

/// Throws a ``ResNeXtError/backend(_:)`` naming the oneDNN call unless it succeeded.
@inline(__always)
func dnnlCheck(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws {
    guard status == dnnl_success else {
        let reason = dnnl_status2str(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
        throw ResNeXtError.backend("oneDNN \(call()) failed: \(reason)")
    }
}

/// A oneDNN memory descriptor: logical dims, element type and physical layout.
typealias MemoryDesc = dnnl_memory_desc_t

extension dnnl_memory_desc_t {
    /// A descriptor of f32 data with the given dims and format tag (`dnnl_format_tag_any` lets a
    /// primitive choose).
    static func make(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> MemoryDesc {
        var md = MemoryDesc()
        let d = dims.map { Int64($0) }
        try dnnlCheck(
            dnnl_memory_desc_init_by_tag(&md, Int32(d.count), d, dnnl_f32, tag),
            "dnnl_memory_desc_init_by_tag(\(dims))")
        return md
    }

    /// Row-major (plain) f32 layout for any rank (rank 0 is treated as `[1]`).
    static func plain(_ dims: [Int]) throws -> MemoryDesc {
        let dims = dims.isEmpty ? [1] : dims
        let tags: [dnnl_format_tag_t] = [dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd, dnnl_abcde, dnnl_abcdef]
        guard dims.count <= tags.count else {
            throw ResNeXtError.unsupported("tensors of rank \(dims.count) on the oneDNN backend")
        }
        return try make(dims, tags[dims.count - 1])
    }

    /// Bytes a buffer for this descriptor needs (padding included).
    var byteSize: Int {
        var md = self
        return dnnl_memory_desc_get_size(&md)
    }

    func isEqual(_ other: MemoryDesc) -> Bool {
        var a = self, b = other
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    var dimensions: [Int] {
        withUnsafeBytes(of: dims) { raw in
            Array(raw.bindMemory(to: Int64.self).prefix(Int(ndims))).map { Int($0) }
        }
    }

    /// True when the padded dims exceed the logical dims (a blocked layout with partial blocks), where
    /// oneDNN expects the padding to hold zeros.
    var hasPadding: Bool {
        withUnsafeBytes(of: dims) { d in
            withUnsafeBytes(of: padded_dims) { p in
                let n = Int(ndims)
                return !zip(d.bindMemory(to: Int64.self).prefix(n), p.bindMemory(to: Int64.self).prefix(n)).allSatisfy(==)
            }
        }
    }

    /// A string that identifies this layout exactly (used as a primitive-cache key).
    var layoutKey: String {
        func words<T>(_ tuple: T, _ count: Int) -> String {
            withUnsafeBytes(of: tuple) { raw in
                raw.bindMemory(to: Int64.self).prefix(count).map(String.init).joined(separator: ",")
            }
        }
        let n = Int(ndims)
        var key = "\(data_type.rawValue):\(format_kind.rawValue):[\(words(dims, n))]p[\(words(padded_dims, n))]o\(offset0)"
        if format_kind == dnnl_blocked {
            let b = format_desc.blocking
            let blocks = Int(b.inner_nblks)
            key += "s[\(words(b.strides, n))]b\(blocks)[\(words(b.inner_blks, blocks))][\(words(b.inner_idxs, blocks))]"
        }
        return key
    }
}

/// A primitive descriptor and the primitive made from it; destroyed together.
final class Primitive: @unchecked Sendable {
    let descriptor: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t

    init(descriptor: dnnl_primitive_desc_t, name: String) throws {
        var prim: dnnl_primitive_t?
        let status = dnnl_primitive_create(&prim, descriptor)
        guard status == dnnl_success, let prim else {
            dnnl_primitive_desc_destroy(descriptor)
            try dnnlCheck(status, "dnnl_primitive_create(\(name))")
            throw ResNeXtError.backend("oneDNN dnnl_primitive_create(\(name)) returned no primitive")
        }
        self.descriptor = descriptor
        self.primitive = prim
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// The memory descriptor the primitive expects for an argument (`dnnl_query_src_md`, ...).
    func desc(_ what: dnnl_query_t, _ index: Int32 = 0) -> MemoryDesc {
        dnnl_primitive_desc_query_md(descriptor, what, index).pointee
    }

    /// The descriptor for an execution argument id (`DNNL_ARG_WORKSPACE`, ...); zero size when unused.
    func desc(argument: Int32) -> MemoryDesc {
        dnnl_primitive_desc_query_md(descriptor, dnnl_query_exec_arg_md, argument).pointee
    }
}

/// Creates a primitive descriptor from an operation descriptor (and the forward hint for backward ops).
func makePrimitiveDescriptor(
    _ opDesc: UnsafeRawPointer, engine: dnnl_engine_t, hint: Primitive?,
    _ name: String
) throws -> dnnl_primitive_desc_t {
    var pd: dnnl_primitive_desc_t?
    try dnnlCheck(dnnl_primitive_desc_create(&pd, opDesc, nil, engine, hint?.descriptor), "dnnl_primitive_desc_create(\(name))")
    guard let pd else { throw ResNeXtError.backend("oneDNN returned no primitive descriptor for \(name)") }
    return pd
}
