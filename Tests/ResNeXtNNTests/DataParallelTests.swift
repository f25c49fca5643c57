import Foundation
import ResNeXtCPU
import ResNeXtCore
import ResNeXtNN
import XCTest

/// Ranks of a job simulated by threads of one process: every collective is a rendezvous of all ranks.
final class InProcessGroup: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var slots: [[Double]]
    private var results: [[Double]] = []
    private var arrived = 0
    private var generation = 0

    init(size: Int) {
        self.size = size
        slots = Array(repeating: [], count: size)
    }

    /// Every rank's `values`, in rank order, once all ranks have called.
    func exchange(rank: Int, _ values: [Double]) -> [[Double]] {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        slots[rank] = values
        arrived += 1
        if arrived == size {
            results = slots
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        return results
    }
}

/// One thread's rank of an ``InProcessGroup``.
final class InProcessRank: Collectives {
    let group: InProcessGroup
    let rank: Int
    var size: Int { group.size }
    private(set) var reductions = 0

    init(_ group: InProcessGroup, rank: Int) {
        self.group = group
        self.rank = rank
    }

    func allReduceSum(_ values: inout [Double]) throws {
        let all = group.exchange(rank: rank, values)
        values = values.indices.map { i in all.reduce(0) { $0 + $1[i] } }
    }

    func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> any PendingReduction {
        var values = buffer.map(Double.init)
        try allReduceSum(&values)
        for i in buffer.indices { buffer[i] = Float(values[i]) }
        reductions += 1
        return Completed()
    }

    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        let all = group.exchange(rank: rank, buffer.map(Double.init))
        for i in buffer.indices { buffer[i] = UInt8(all[root][i]) }
    }

    func abort(_ message: String) -> Never { fatalError(message) }

    final class Completed: PendingReduction {
        func poll() throws -> Bool { true }
        func wait() throws {}
    }
}

final class DataParallelTests: XCTestCase {
    /// conv → (batch norm → ReLU → conv → batch norm) → ReLU → max pool → linear, the same weights for
    /// every build.
    static func makeNet(_ backend: CPUBackend, batchNorm: Bool) throws -> Sequential {
        var rng = RandomGenerator(seed: 11)
        let norm: [any Layer] =
            batchNorm
            ? [
                try BatchNorm2d(backend, channels: 8), ReLU(backend),
                try Conv2d(backend, inChannels: 8, outChannels: 8, kernelSize: 3, padding: 1, rng: &rng),
                try BatchNorm2d(backend, channels: 8)
            ] : []
        return Sequential(
            [try Conv2d(backend, inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, rng: &rng)] + norm + [
                ReLU(backend),
                MaxPool2d(backend, kernelSize: 2, stride: 2),
                Flatten(backend),
                try Linear(backend, inFeatures: 8 * 4 * 4, outFeatures: 5, rng: &rng)
            ])
    }

    /// Four batches of 6 random images.
    static let batches: [HostBatch] = {
        var rng = RandomGenerator(seed: 3)
        return (0..<4).map { _ in
            HostBatch(
                values: (0..<(6 * 3 * 8 * 8)).map { _ in Float(rng.normal()) }, shape: [6, 3, 8, 8],
                labels: (0..<6).map { _ in Int32(rng.integer(in: 0...4)) })
        }
    }()

    static let hyper = SGDHyperparameters(momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true)

    /// Rank `rank`'s slice of a batch of 6: samples 0–2 or 3–5.
    static func slice(_ batch: HostBatch, rank: Int) -> HostBatch {
        let per = 3 * 8 * 8, lower = rank * 3
        return HostBatch(
            values: Array(batch.values[lower * per..<(lower + 3) * per]), shape: [3, 3, 8, 8],
            labels: Array(batch.labels[lower..<lower + 3]))
    }

    /// Every tensor (parameters and buffers) after one process trains on the whole batches.
    func trainAlone(batchNorm: Bool) throws -> [[Float]] {
        let backend = try CPUBackend(threads: 1)
        let net = try Self.makeNet(backend, batchNorm: batchNorm)
        let step = TrainingStep(model: net, optimizer: try SGD(backend, parameters: net.namedParameters(), Self.hyper))
        for batch in Self.batches { _ = try step(batch, learningRate: 0.1) }
        return try net.namedTensors().map { try backend.download($0.parameter.value) }
    }

    /// Every tensor of each of two ranks (threads) after training on their slices, gradients averaged by
    /// ``GradientBuckets`` (1 KiB buckets: several per step), batch norm synchronized or not.
    func trainTwoRanks(batchNorm: Bool, synchronized: Bool) throws -> (tensors: [[[Float]]], buckets: [Int]) {
        /// What each rank's thread reports.
        final class Outcome: @unchecked Sendable {
            let lock = NSLock()
            var tensors: [[[Float]]] = [[], []]
            var buckets = [0, 0]
            var failures: [String] = []
        }
        let outcome = Outcome()
        let group = InProcessGroup(size: 2)
        DispatchQueue.concurrentPerform(iterations: 2) { rank in
            do {
                let backend = try CPUBackend(threads: 1)
                let net = try Self.makeNet(backend, batchNorm: batchNorm)
                let collectives = InProcessRank(group, rank: rank)
                if synchronized {
                    for case let norm as BatchNorm2d in net.allLayers {
                        norm.synchronization = SynchronizedBatchNorm(collectives: collectives)
                    }
                }
                let buckets = GradientBuckets(
                    parameters: net.namedParameters(), collectives: collectives, backend: backend, bucketBytes: 1024)
                let step = TrainingStep(
                    model: net, optimizer: try SGD(backend, parameters: net.namedParameters(), Self.hyper), dataParallel: buckets)
                for batch in Self.batches { _ = try step(Self.slice(batch, rank: rank), learningRate: 0.1) }
                let tensors = try net.namedTensors().map { try backend.download($0.parameter.value) }
                outcome.lock.withLock {
                    outcome.tensors[rank] = tensors
                    outcome.buckets[rank] = buckets.bucketCount
                }
            } catch {
                outcome.lock.withLock { outcome.failures.append("rank \(rank): \(error)") }
            }
        }
        XCTAssertEqual(outcome.failures, [])
        return (outcome.tensors, outcome.buckets)
    }

    func assertClose(_ got: [[Float]], _ want: [[Float]], tolerance: Float, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        for (g, w) in zip(got, want) {
            let scale = max(w.map { abs($0) }.max() ?? 1, 1)
            let worst = zip(g, w).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tolerance * scale, file: file, line: line)
        }
    }

    /// Without batch norm, two ranks on half batches train exactly as one process on whole batches (up
    /// to the order of additions), and the ranks' weights are bit-identical.
    func testTwoRanksTrainAsOneProcessOnTheWholeBatch() throws {
        let (ranks, buckets) = try trainTwoRanks(batchNorm: false, synchronized: false)
        XCTAssertEqual(buckets, [2, 2])  // backward order: linear bias + weight (2,580 bytes), then the convolution
        XCTAssertEqual(ranks[0], ranks[1])
        let alone = try trainAlone(batchNorm: false)
        assertClose(ranks[0], alone, tolerance: 1e-5)
        let start = try Self.makeNet(try CPUBackend(threads: 1), batchNorm: false).namedTensors().map {
            try cpu.download($0.parameter.value)
        }
        XCTAssertNotEqual(alone[0], start[0])  // the weights did move
    }

    /// With batch norm, synchronized statistics make two ranks train as one process (weights and running
    /// statistics); per-rank statistics (the default, as the original) do not.
    func testSynchronizedBatchNormTrainsAsOneProcess() throws {
        let alone = try trainAlone(batchNorm: true)
        let (synchronized, _) = try trainTwoRanks(batchNorm: true, synchronized: true)
        XCTAssertEqual(synchronized[0].count, 12)  // conv, bn (weight, bias, running mean, var), conv, bn, linear (2)
        let parameters = [0, 1, 2, 5, 6, 7, 10, 11]
        XCTAssertEqual(parameters.map { synchronized[0][$0] }, parameters.map { synchronized[1][$0] })
        assertClose(synchronized[0], alone, tolerance: 1e-4)
        let (perRank, _) = try trainTwoRanks(batchNorm: true, synchronized: false)
        let difference = zip(perRank[0][2], alone[2]).map { abs($0 - $1) }.max() ?? 0  // the first batch norm's bias
        XCTAssertGreaterThan(difference, 1e-3)
    }
}
