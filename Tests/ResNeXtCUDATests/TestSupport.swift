import ResNeXtCPU
import ResNeXtCUDA
import ResNeXtCore
import Synchronization
import XCTest

/// The CPU backend, whose errors the CUDA backend's checks must reproduce.
let cpu: CPUBackend = try! CPUBackend()

/// A device allocator whose "device memory" is fake addresses (never dereferenced): the CUDA backend's
/// storages, validation and allocator logic run without a GPU.
final class FakeDevice: Sendable {
    struct State {
        var next: CUdeviceptr = 0x7f00_0000_0000
        var live: Set<CUdeviceptr> = []
        var mallocs: [Int] = []
        var frees: [CUdeviceptr] = []
        var syncs = 0
        var capacity = Int.max
        var reserved = 0
        var sizes: [CUdeviceptr: Int] = [:]
    }
    let state = Mutex(State())

    func allocator(device: Device = .cuda(0)) -> CachingDeviceAllocator {
        CachingDeviceAllocator(
            device: device,
            malloc: { [self] bytes in
                try state.withLock { s in
                    guard s.reserved + bytes <= s.capacity else {
                        throw ResNeXtError.backend("cuMemAlloc_v2(\(bytes) bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory")
                    }
                    let address = s.next
                    s.next += CUdeviceptr(bytes)
                    s.live.insert(address)
                    s.mallocs.append(bytes)
                    s.reserved += bytes
                    s.sizes[address] = bytes
                    return address
                }
            },
            free: { [self] address in
                state.withLock { s in
                    precondition(s.live.remove(address) != nil, "double free of \(address)")
                    s.frees.append(address)
                    s.reserved -= s.sizes[address] ?? 0
                }
            },
            beforeRelease: { [self] in state.withLock { $0.syncs += 1 } })
    }

    var mallocCount: Int { state.withLock { $0.mallocs.count } }
    var freeCount: Int { state.withLock { $0.frees.count } }
    var liveCount: Int { state.withLock { $0.live.count } }
    var syncCount: Int { state.withLock { $0.syncs } }
    func setCapacity(_ bytes: Int) { state.withLock { $0.capacity = bytes } }
}

/// A CUDA tensor on fake memory.
func fakeTensor(_ allocator: CachingDeviceAllocator, _ shape: Shape, dtype: DType = .float32, record: MaxPoolIndexRecord? = nil) throws
    -> Tensor
{
    let block = try allocator.allocate(max(0, shape.dims.reduce(1, *)) * dtype.byteSize)
    return Tensor(shape: shape, dtype: dtype, storage: CUDAStorage(block: block, maxPoolRecord: record))
}
