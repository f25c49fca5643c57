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
    /// A network without batch norm (whose statistics are per rank by design).
    static func makeNet(_ backend: CPUBackend) throws -> Sequential {
        var rng = RandomGenerator(seed: 11)
        return Sequential([
            try Conv2d(backend, inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1, rng: &rng),
            ReLU(backend),
            MaxPool2d(backend, kernelSize: 2, stride: 2),
            Flatten(backend),
            try Linear(backend, inFeatures: 8 * 4 * 4, outFeatures: 5, rng: &rng)
        ])
    }

    /// Two ranks, each stepping on its half of every batch with gradients averaged through
    /// ``GradientBuckets`` (small buckets: several per step), end with the weights of one process stepping
    /// on the whole batches (up to the order of additions), and with bit-identical weights on both ranks.
    func testTwoRanksTrainAsOneProcessOnTheWholeBatch() throws {
        var rng = RandomGenerator(seed: 3)
        let batches = (0..<4).map { _ in
            HostBatch(
                values: (0..<(6 * 3 * 8 * 8)).map { _ in Float(rng.normal()) }, shape: [6, 3, 8, 8],
                labels: (0..<6).map { _ in Int32(rng.integer(in: 0...4)) })
        }
        @Sendable func slice(_ batch: HostBatch, rank: Int) -> HostBatch {
            let per = 3 * 8 * 8, lower = rank * 3
            return HostBatch(
                values: Array(batch.values[lower * per..<(lower + 3) * per]), shape: [3, 3, 8, 8],
                labels: Array(batch.labels[lower..<lower + 3]))
        }
        let hyper = SGDHyperparameters(momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true)

        let alone = try CPUBackend(threads: 1)
        let single = try Self.makeNet(alone)
        let singleStep = TrainingStep(model: single, optimizer: try SGD(alone, parameters: single.namedParameters(), hyper))
        for batch in batches { _ = try singleStep(batch, learningRate: 0.1) }

        let group = InProcessGroup(size: 2)
        /// What each rank's thread reports.
        final class Outcome: @unchecked Sendable {
            let lock = NSLock()
            var replicas: [[[Float]]] = [[], []]
            var bucketCounts = [0, 0]
            var failures: [String] = []
        }
        let outcome = Outcome()
        DispatchQueue.concurrentPerform(iterations: 2) { rank in
            do {
                let backend = try CPUBackend(threads: 1)
                let net = try Self.makeNet(backend)
                let collectives = InProcessRank(group, rank: rank)
                let buckets = GradientBuckets(
                    parameters: net.namedParameters(), collectives: collectives, backend: backend, bucketBytes: 1024)
                let step = TrainingStep(
                    model: net, optimizer: try SGD(backend, parameters: net.namedParameters(), hyper), dataParallel: buckets)
                for batch in batches {
                    _ = try step(slice(batch, rank: rank), learningRate: 0.1)
                }
                let weights = try net.namedParameters().map { try backend.download($0.parameter.value) }
                outcome.lock.withLock {
                    outcome.replicas[rank] = weights
                    outcome.bucketCounts[rank] = buckets.bucketCount
                }
            } catch {
                outcome.lock.withLock { outcome.failures.append("rank \(rank): \(error)") }
            }
        }
        let (replicas, bucketCounts, failures) = (outcome.replicas, outcome.bucketCounts, outcome.failures)
        XCTAssertEqual(failures, [])
        XCTAssertEqual(bucketCounts, [2, 2])  // backward order: linear bias + weight (2,580 bytes), then the convolution
        XCTAssertEqual(replicas[0], replicas[1])
        let reference = try single.namedParameters().map { try alone.download($0.parameter.value) }
        for (got, want) in zip(replicas[0], reference) {
            let scale = want.map { abs($0) }.max() ?? 1
            for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: 1e-5 * max(scale, 1)) }
        }
        XCTAssertNotEqual(reference[0], try Self.makeNet(alone).namedParameters().map { try alone.download($0.parameter.value) }[0])
    }
}
