import ResNeXtCore
import XCTest

/// A storage that only names a device: enough for what ``Tensor`` itself does.
private final class NamedStorage: TensorStorage {
    let device: Device
    init(_ device: Device) { self.device = device }
}

final class DeviceAndErrorTests: XCTestCase {
    func testDeviceParsing() throws {
        XCTAssertEqual(try Device(parsing: "cpu"), .cpu)
        XCTAssertEqual(try Device(parsing: "cuda"), .cuda(0))
        XCTAssertEqual(try Device(parsing: "cuda:3"), .cuda(3))
        XCTAssertEqual(try Device(parsing: "CUDA:1"), .cuda(1))
        XCTAssertEqual(try Device(parsing: "gpu"), .cuda(0))
        assertThrows("unknown device 'tpu'") { try Device(parsing: "tpu") }
        assertThrows("unknown device 'cuda:-1'") { try Device(parsing: "cuda:-1") }
        assertThrows("unknown device 'cuda:x' (expected cpu, cuda or cuda:N)") { try Device(parsing: "cuda:x") }
        XCTAssertEqual(Device.cpu.description, "cpu")
        XCTAssertEqual(Device.cuda(2).description, "cuda:2")
    }

    func testErrorDescriptionsNameTheirKind() {
        XCTAssertEqual(ResNeXtError.shapeMismatch("a").description, "shape mismatch: a")
        XCTAssertEqual(ResNeXtError.invalidArgument("b").description, "invalid argument: b")
        XCTAssertEqual(ResNeXtError.wrongDevice("c").description, "wrong device: c")
        XCTAssertEqual(ResNeXtError.backend("d").description, "backend error: d")
        XCTAssertEqual(ResNeXtError.unsupported("e").description, "unsupported: e")
        XCTAssertEqual(ResNeXtError.io("f.bin: gone").description, "I/O error: f.bin: gone")
        XCTAssertNotEqual(ResNeXtError.io("x"), ResNeXtError.backend("x"))
    }

    func testTensorAndDTypeDescriptions() {
        let tensor = Tensor(shape: [2, 3, 4], storage: NamedStorage(.cuda(1)))
        XCTAssertEqual(tensor.description, "Tensor([2, 3, 4], float32, cuda:1)")
        XCTAssertEqual(tensor.device, .cuda(1))
        XCTAssertEqual(tensor.elementCount, 24)
        XCTAssertEqual(Tensor(shape: [5], dtype: .uint8, storage: NamedStorage(.cpu)).description, "Tensor([5], uint8, cpu)")
        XCTAssertEqual(DType.allCases.map(\.byteSize), [4, 2, 2, 1])
    }
}
