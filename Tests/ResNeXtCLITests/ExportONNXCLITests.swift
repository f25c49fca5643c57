import Foundation
import ResNeXtCPU
import ResNeXtModels
import XCTest

final class ExportONNXCLITests: XCTestCase {
    func testExportONNXWritesAGraphAndRejectsBadArguments() throws {
        let directory = NSTemporaryDirectory() + "resnext-export-onnx-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cpu = try CPUBackend()
        let model = try ResNeXtModel(try .original(dataset: .cifar10, depth: 8, blockType: .basic), on: cpu, seed: 1)
        try model.saveSafetensors(directory + "/w.safetensors", on: cpu)

        let run = try runResNeXt([
            "export-onnx", directory + "/w.safetensors", directory + "/m.onnx",
            "-dataset", "cifar10", "-depth", "8", "-bottleneckType", "basic"
        ])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("ONNX opset 17 (IR version 8)"), run.output)
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: directory + "/m.onnx"))
        XCTAssertGreaterThan(bytes.count, model.namedTensors().reduce(0) { $0 + 4 * $1.parameter.value.elementCount })
        XCTAssertTrue(String(decoding: bytes.prefix(64), as: UTF8.self).contains("resnext-swift"))

        let noArch = try runResNeXt(["export-onnx", directory + "/w.safetensors", directory + "/n.onnx"])
        XCTAssertNotEqual(noArch.status, 0)
        XCTAssertTrue(noArch.output.contains("does not record its architecture"), noArch.output)
        let badOpset = try runResNeXt([
            "export-onnx", directory + "/w.safetensors", directory + "/n.onnx", "--opset", "5",
            "-dataset", "cifar10", "-depth", "8", "-bottleneckType", "basic"
        ])
        XCTAssertNotEqual(badOpset.status, 0)
        XCTAssertTrue(badOpset.output.contains("--opset must be 13–21"), badOpset.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/n.onnx"))
    }
}
