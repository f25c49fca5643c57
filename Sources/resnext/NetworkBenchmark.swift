import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtNN

/// A whole network timed through the same ``TrainingStep`` / ``EvaluationStep`` that training uses:
/// `warmup` untimed steps (primitive creation, algorithm search, first-touch allocation), then `steps`
/// timed ones, each ending with the logits or loss read back (which waits for the device).
struct NetworkBenchmark {
    let configuration: ModelConfiguration
    let backend: any Backend
    let batch: Int
    let training: Bool

    /// The input side: 224 for ImageNet stems, 32 for CIFAR stems (28 for one-channel MNIST nets).
    var imageSize: Int { configuration.stem == .imagenet ? 224 : (configuration.inputChannels == 1 ? 28 : 32) }

    struct Result {
        let imagesPerSecond: Double
        let millisecondsPerStep: Double
        let peakResidentMiB: Double
        let liveDeviceBytes: Int
        /// The backend's peak tensor bytes and peak reserved bytes over the warm-up and timed steps, the model
        /// included (PyTorch's `max_memory_allocated` and `max_memory_reserved` after `reset_peak_memory_stats`).
        let memory: MemoryStatistics
    }

    func run(warmup: Int, steps: Int, seed: UInt64 = 1) throws -> Result {
        var rng = RandomGenerator(seed: seed)
        let shape: Shape = [batch, configuration.inputChannels, imageSize, imageSize]
        let input = HostBatch(
            values: (0..<shape.elementCount).map { _ in Float(rng.normal()) }, shape: shape,
            labels: (0..<batch).map { _ in Int32(rng.integer(in: 0...(configuration.classes - 1))) })
        let model = try ResNeXtModel(configuration, on: backend, seed: seed)
        let step: () throws -> Void
        if training {
            let train = TrainingStep(model: model, optimizer: try SGD(backend, parameters: model.namedParameters()), ks: [])
            step = { _ = try train(input, learningRate: 0.01) }
        } else {
            let evaluate = EvaluationStep(model: model, backend: backend, ks: [])
            step = { _ = try backend.download(try evaluate.logits(input)) }
        }
        backend.resetPeakMemory()
        for _ in 0..<warmup { try step() }
        let start = ContinuousClock.now
        for _ in 0..<steps { try step() }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return Result(
            imagesPerSecond: Double(batch * steps) / seconds, millisecondsPerStep: 1000 * seconds / Double(steps),
            peakResidentMiB: FileIO.peakResidentMiB(), liveDeviceBytes: backend.liveAllocations.bytes, memory: backend.memoryStatistics)
    }

}
