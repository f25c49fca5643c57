import CDNNL
import ResNeXtCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The CPU backend: every operation through oneDNN 2.6 primitives (convolution, batch normalization,
/// eltwise, pooling, inner product, binary, concat, reorder), with primitives cached per shape and
/// layout. Activations stay in the layouts oneDNN picks (nChw8c on AVX2); parameters, gradients and
/// everything read back are plain row-major.
///
/// oneDNN parallelizes with OpenMP, whose thread count is process-wide.
public final class CPUBackend: Backend, @unchecked Sendable {
    public let device = Device.cpu
    public let threads: Int
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    let counter = AllocationCounter()
    /// The operand checks every backend makes.
    let operands = Operands<CPUStorage>(device: .cpu)
    private let cache = Mutex<[String: Primitive]>([:])
    /// Serializes execution on the single stream.
    let executionLock = Mutex<Void>(())
    /// Channel block of the activation layout oneDNN's convolutions prefer on this CPU (16 with AVX-512,
    /// 8 with AVX2), or nil when they prefer plain NCHW.
    public private(set) var activationBlock: Int?

    /// Creates the backend. `threads` defaults to every core (or `OMP_NUM_THREADS` when set).
    public init(threads: Int? = nil) throws {
        if let threads, threads < 1 {
            throw ResNeXtError.invalidArgument("thread count must be at least 1, got \(threads)")
        }
        var engine: dnnl_engine_t?
        try dnnlCheck(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create(cpu)")
        var stream: dnnl_stream_t?
        try dnnlCheck(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
        self.engine = engine!
        self.stream = stream!
        let available = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let fromEnvironment = getenv("OMP_NUM_THREADS").flatMap { Int(String(cString: $0)) }
        self.threads = threads ?? fromEnvironment ?? max(1, available)
        OpenMP.setThreads(self.threads)
        self.activationBlock = try probeActivationBlock()
    }

    /// Asks oneDNN which layout a 64-channel 1×1 convolution writes: its channel block is the one every
    /// fast primitive on this CPU works in.
    private func probeActivationBlock() throws -> Int? {
        var src = try MemoryDesc.make([1, 64, 4, 4], dnnl_format_tag_any), dst = src
        var wei = try MemoryDesc.make([64, 64, 1, 1], dnnl_format_tag_any)
        var d = dnnl_convolution_desc_t()
        try dnnlCheck(
            dnnl_convolution_forward_desc_init(
                &d, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, nil, &dst,
                [1, 1], [0, 0], [0, 0]), "probe convolution")
        let pd = try withUnsafePointer(to: &d) { try makePrimitiveDescriptor(UnsafeRawPointer($0), engine: engine, hint: nil, "probe") }
        defer { dnnl_primitive_desc_destroy(pd) }
        let out = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0).pointee
        guard out.format_kind == dnnl_blocked, out.format_desc.blocking.inner_nblks == 1,
            out.format_desc.blocking.inner_idxs.0 == 1
        else { return nil }
        return Int(out.format_desc.blocking.inner_blks.0)
    }

    /// The preferred layout for an activation of this shape: channel-blocked when the channels fill whole
    /// blocks, else plain.
    func activationDesc(_ shape: Shape) throws -> MemoryDesc {
        guard shape.rank == 4, let block = activationBlock, shape[1] % block == 0 else { return try .plain(shape.dims) }
        let tags: [Int: dnnl_format_tag_t] = [4: dnnl_aBcd4b, 8: dnnl_aBcd8b, 16: dnnl_aBcd16b, 32: dnnl_aBcd32b]
        guard let tag = tags[block] else { return try .plain(shape.dims) }
        return try .make(shape.dims, tag)
    }

    /// An activation's storage in the preferred layout (memory-bound primitives such as batch norm fall
    /// back to slow reference code on other blocked layouts, e.g. the 4-channel blocks grouped
    /// convolutions with 4 channels per group produce).
    func activation(_ s: CPUStorage, _ shape: Shape) throws -> CPUStorage {
        guard shape.rank == 4 else { return s }
        return try reorder(s, to: try activationDesc(shape))
    }

    deinit {
        cache.withLock { $0.removeAll() }
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }

    public var name: String {
        let v = dnnl_version().pointee
        return "oneDNN \(v.major).\(v.minor).\(v.patch) on cpu, \(threads) thread\(threads == 1 ? "" : "s")"
    }

    public var liveAllocations: (count: Int, bytes: Int) { counter.current }

    /// Tensor storage bytes (their oneDNN layouts' sizes); with no cache, reserved is allocated.
    public var memoryStatistics: MemoryStatistics {
        let (bytes, peak) = (counter.current.bytes, counter.peakBytes)
        return MemoryStatistics(allocatedBytes: bytes, peakAllocatedBytes: peak, reservedBytes: bytes, peakReservedBytes: peak)
    }

    public func resetPeakMemory() { counter.resetPeak() }

    /// Number of cached primitives (for tests of the cache).
    public var cachedPrimitiveCount: Int { cache.withLock { $0.count } }

    // MARK: Primitive cache and execution

    /// The cached primitive for `key`, creating it with `make` on first use.
    func primitive(_ key: String, _ make: () throws -> Primitive) throws -> Primitive {
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let created = try make()
        return cache.withLock { cache in
            if let raced = cache[key] { return raced }
            cache[key] = created
            return created
        }
    }

    /// Creates a primitive from an operation descriptor.
    func primitive<Desc>(_ key: String, desc: () throws -> Desc, hint: Primitive? = nil) throws -> Primitive {
        try primitive(key) {
            var opDesc = try desc()
            let pd = try withUnsafePointer(to: &opDesc) {
                try makePrimitiveDescriptor(UnsafeRawPointer($0), engine: engine, hint: hint, key)
            }
            return try Primitive(descriptor: pd, name: key)
        }
    }

    /// An argument of a primitive execution: a buffer viewed through a descriptor.
    struct Argument {
        let id: Int32
        let pointer: UnsafeMutableRawPointer
        let desc: MemoryDesc
        init(_ id: Int32, _ storage: CPUStorage) { self.id = id; pointer = storage.pointer; desc = storage.desc }
        init(_ id: Int32, _ pointer: UnsafeMutableRawPointer, _ desc: MemoryDesc) { self.id = id; self.pointer = pointer; self.desc = desc }
    }

    /// Executes a primitive on the stream and waits for it.
    func run(_ p: Primitive, _ arguments: [Argument], _ name: @autoclosure () -> String) throws {
        var memories = [dnnl_memory_t?]()
        memories.reserveCapacity(arguments.count)
        defer { for m in memories { dnnl_memory_destroy(m) } }
        var execArgs = [dnnl_exec_arg_t]()
        for a in arguments {
            var mem: dnnl_memory_t?
            var md = a.desc
            try dnnlCheck(dnnl_memory_create(&mem, &md, engine, a.pointer), "dnnl_memory_create(\(name()))")
            memories.append(mem)
            execArgs.append(dnnl_exec_arg_t(arg: a.id, memory: mem))
        }
        try executionLock.withLock { _ in
            try dnnlCheck(dnnl_primitive_execute(p.primitive, stream, Int32(execArgs.count), execArgs), "execute \(name())")
            try dnnlCheck(dnnl_stream_wait(stream), "dnnl_stream_wait(\(name()))")
        }
    }

    // MARK: Storage helpers

    /// A new storage laid out as `desc` (zero-filled where the layout has padding).
    func allocate(_ desc: MemoryDesc, zeroed: Bool = false, producer: Primitive? = nil) throws -> CPUStorage {
        let buffer = try CPUBuffer(byteCount: desc.byteSize, zeroed: zeroed || desc.hasPadding, counter: counter)
        return CPUStorage(buffer: buffer, desc: desc, producer: producer)
    }

    /// `s` converted to layout `desc` (the same storage when it already is).
    func reorder(_ s: CPUStorage, to desc: MemoryDesc) throws -> CPUStorage {
        if s.desc.isEqual(desc) { return s }
        let key = "reorder|\(s.desc.layoutKey)|\(desc.layoutKey)"
        let p = try primitive(key) {
            var src = s.desc, dst = desc
            var pd: dnnl_primitive_desc_t?
            try dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &src, engine, &dst, engine, nil), "dnnl_reorder_primitive_desc_create")
            return try Primitive(descriptor: pd!, name: key)
        }
        let out = try allocate(desc)
        try run(p, [Argument(DNNL_ARG_FROM, s), Argument(DNNL_ARG_TO, out)], "reorder")
        return out
    }

    /// A tensor's storage in plain row-major layout.
    func plain(_ s: CPUStorage, _ shape: Shape) throws -> CPUStorage {
        try reorder(s, to: try .plain(shape.dims))
    }

    func wrap(_ s: CPUStorage, _ shape: Shape) -> Tensor { Tensor(shape: shape, storage: s) }

    // MARK: Memory

    public func upload(_ values: [Float], shape: Shape) throws -> Tensor {
        let shape = try operands.upload(count: values.count, shape: shape)
        let s = try allocate(try .plain(shape.dims))
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { s.floats.update(from: base, count: values.count) }
        }
        return wrap(s, shape)
    }

    public func download(_ tensor: Tensor) throws -> [Float] {
        let s = try plain(try operands.download(tensor), tensor.shape)
        return Array(UnsafeBufferPointer(start: s.floats, count: tensor.elementCount))
    }

    public func zeros(_ shape: Shape) throws -> Tensor {
        let shape = try shape.validated()
        return wrap(try allocate(try .plain(shape.dims), zeroed: true), shape)
    }

    public func optimizedLayout(_ tensor: Tensor) throws -> Tensor {
        wrap(try activation(try operands.optimizedLayout(tensor), tensor.shape), tensor.shape)
    }

    public func reshape(_ tensor: Tensor, to shape: Shape) throws -> Tensor {
        let (storage, shape) = try operands.reshape(tensor, to: shape)
        let s = try plain(storage, tensor.shape)
        return wrap(CPUStorage(buffer: s.buffer, desc: try .plain(shape.dims)), shape)
    }
}

/// OpenMP's thread count, set through the runtime oneDNN already loaded (libgomp).
enum OpenMP {
    typealias SetThreads = @convention(c) (Int32) -> Void
    static func setThreads(_ n: Int) {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_set_num_threads") else { return }
        unsafeBitCast(symbol, to: SetThreads.self)(Int32(n))
    }
}
