import Foundation
import ResNeXtCPU
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtTraining
import XCTest

let cpu: CPUBackend = try! CPUBackend()

/// Collects log lines in memory.
final class LineCollector: @unchecked Sendable {
    private(set) var lines: [String] = []
    func log(metrics: String?) -> TrainingLog {
        TrainingLog(metricsPath: metrics, write: { [self] in lines.append($0) }, isTerminal: false)
    }
}

/// A fresh temporary directory removed at the end of the test.
func temporaryDirectory(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "resnext-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileIO.makeDirectories(path)
    return path
}

/// Writes a tiny CIFAR-10 binary release (`cifar-10-batches-bin`): 5 training batches of `perBatch`
/// records and a test batch of `test` records, with class-dependent images so that learning is possible.
func writeTinyCIFAR10(_ directory: String, perBatch: Int = 4, test: Int = 8, seed: UInt64 = 1) throws {
    let folder = directory + "/cifar-10-batches-bin"
    try FileIO.makeDirectories(folder)
    var rng = RandomGenerator(seed: seed)
    func records(_ count: Int, offset: Int) -> [UInt8] {
        var bytes = [UInt8]()
        for i in 0..<count {
            let label = (i + offset) % 10
            bytes.append(UInt8(label))
            for c in 0..<3 {
                for p in 0..<1024 {
                    let base = (label * 25 + c * 40 + (p % 32) * 2) % 256
                    bytes.append(UInt8(clamping: base + rng.integer(in: -20...20)))
                }
            }
        }
        return bytes
    }
    for b in 1...5 { try FileIO.writeAtomically(records(perBatch, offset: b), to: folder + "/data_batch_\(b).bin") }
    try FileIO.writeAtomically(records(test, offset: 0), to: folder + "/test_batch.bin")
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
    try FileIO.writeAtomically(Array(names.utf8), to: folder + "/batches.meta.txt")
}

/// Options for a small CIFAR ResNeXt run on the tiny data set.
func tinyCIFAROptions(data: String, save: String) -> TrainingOptions {
    var o = TrainingOptions()
    o.dataset = .cifar10
    o.data = data
    o.save = save
    o.model = .original(OriginalModelFlags(depth: 11, baseWidth: 4, cardinality: 2))
    o.batchSize = 8
    o.nEpochs = 2
    o.LR = 0.05
    o.weightDecay = 5e-4
    o.manualSeed = 7
    o.nThreads = 2
    return o
}

/// A test case with scratch directories removed after each test.
class ScratchDirectoryTestCase: XCTestCase {
    var scratch: [String] = []

    override func tearDown() {
        for d in scratch { try? FileManager.default.removeItem(atPath: d) }
        scratch = []
        super.tearDown()
    }

    /// A fresh temporary directory, removed after the test.
    func directory(_ name: String) throws -> String {
        let d = try temporaryDirectory(name)
        scratch.append(d)
        return d
    }
}
