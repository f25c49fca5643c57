import ResNeXtCore

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// The Open MPI entry points and predefined handles this project uses, resolved with `dlsym`. Handles
/// (`MPI_Comm`, `MPI_Datatype`, `MPI_Op`, `MPI_Request`) are pointers in Open MPI's ABI.
struct MPIFunctions: @unchecked Sendable {
    typealias Handle = UnsafeMutableRawPointer?
    typealias InitThread =
        @convention(c) (
            UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?, Int32,
            UnsafeMutablePointer<Int32>?
        ) -> Int32
    typealias Flag = @convention(c) (UnsafeMutablePointer<Int32>?) -> Int32
    typealias NoArguments = @convention(c) () -> Int32
    typealias CommQuery = @convention(c) (Handle, UnsafeMutablePointer<Int32>?) -> Int32
    typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
    typealias Iallreduce =
        @convention(c) (
            UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle, UnsafeMutablePointer<Handle>?
        ) -> Int32
    typealias Bcast = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    typealias Test = @convention(c) (UnsafeMutablePointer<Handle>?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32
    typealias Wait = @convention(c) (UnsafeMutablePointer<Handle>?, UnsafeMutableRawPointer?) -> Int32
    typealias Abort = @convention(c) (Handle, Int32) -> Int32
    typealias ErrorString = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, UnsafeMutablePointer<Int32>?) -> Int32

    /// `MPI_IN_PLACE` in Open MPI.
    static var inPlace: UnsafeRawPointer? { UnsafeRawPointer(bitPattern: 1) }

    let library: String
    let initThread: InitThread
    let initialized: Flag
    let finalize: NoArguments
    let commRank: CommQuery
    let commSize: CommQuery
    let allreduce: Allreduce
    let iallreduce: Iallreduce
    let bcast: Bcast
    let test: Test
    let wait: Wait
    let abort: Abort
    let errorString: ErrorString
    let commWorld: Handle
    let float: Handle
    let double: Handle
    let byte: Handle
    let sum: Handle

    init(handle: UnsafeMutableRawPointer, library: String) throws {
        self.library = library
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let address = dlsym(handle, name) else {
                throw ResNeXtError.unsupported(
                    "\(library) has no \(name): data-parallel training needs Open MPI (4.x or 5.x), not another MPI")
            }
            return address
        }
        func function<F>(_ name: String, as type: F.Type) throws -> F { unsafeBitCast(try symbol(name), to: type) }
        initThread = try function("MPI_Init_thread", as: InitThread.self)
        initialized = try function("MPI_Initialized", as: Flag.self)
        finalize = try function("MPI_Finalize", as: NoArguments.self)
        commRank = try function("MPI_Comm_rank", as: CommQuery.self)
        commSize = try function("MPI_Comm_size", as: CommQuery.self)
        allreduce = try function("MPI_Allreduce", as: Allreduce.self)
        iallreduce = try function("MPI_Iallreduce", as: Iallreduce.self)
        bcast = try function("MPI_Bcast", as: Bcast.self)
        test = try function("MPI_Test", as: Test.self)
        wait = try function("MPI_Wait", as: Wait.self)
        abort = try function("MPI_Abort", as: Abort.self)
        errorString = try function("MPI_Error_string", as: ErrorString.self)
        commWorld = try symbol("ompi_mpi_comm_world")
        float = try symbol("ompi_mpi_float")
        double = try symbol("ompi_mpi_double")
        byte = try symbol("ompi_mpi_byte")
        sum = try symbol("ompi_mpi_op_sum")
    }

    /// Throws `ResNeXtError.backend` with MPI's text for a failing call (with the default error handler a
    /// failure aborts the job before returning; this covers handlers that return).
    func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var text = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        _ = errorString(code, &text, &length)
        let message = String(decoding: text.prefix(Int(max(0, length))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw ResNeXtError.backend("\(call) failed: \(message) (\(library))")
    }

    /// `count` as MPI's `int` count, or an error for buffers over 2^31 − 1 elements.
    func count(_ count: Int) throws -> Int32 {
        guard let n = Int32(exactly: count) else {
            throw ResNeXtError.invalidArgument("\(count) elements is more than one MPI call can send")
        }
        return n
    }
}
