import ResNeXtCore

/// A mini-batch on the host: `[samples · cropsPerSample, C, H, W]` values in row-major NCHW order and one
/// 0-based label per sample.
public struct HostBatch: Sendable {
    public let values: [Float]
    public let shape: Shape
    public let labels: [Int32]
    /// Images per sample (10 with ten-crop evaluation, else 1).
    public let cropsPerSample: Int

    public init(values: [Float], shape: Shape, labels: [Int32], cropsPerSample: Int = 1) {
        self.values = values
        self.shape = shape
        self.labels = labels
        self.cropsPerSample = cropsPerSample
    }
}

/// What one step measured: the mean loss over the batch and, for each requested k, how many samples had
/// their label among the k largest logits.
public struct StepResult: Sendable, Equatable {
    public let loss: Float
    public let correct: [Int]
    public let samples: Int
}

/// The training step, as llm.c writes it: upload the batch in the backend's layout, forward, softmax
/// cross-entropy, backward, one optimizer update. The trainer, `demo`, `selftest`, `bench` and the tests
/// all train through it, so a change to the step (data parallelism, mixed precision, recomputation)
/// happens here once.
public final class TrainingStep {
    public let model: any Layer
    public let optimizer: SGD
    /// The k of each count in ``StepResult/correct``.
    public let ks: [Int]
    /// Data parallelism: the gradients are averaged over the job's ranks before the update.
    public let dataParallel: GradientBuckets?
    var backend: any Backend { optimizer.backend }

    public init(model: any Layer, optimizer: SGD, ks: [Int] = [1], dataParallel: GradientBuckets? = nil) {
        self.model = model
        self.optimizer = optimizer
        self.ks = ks
        self.dataParallel = dataParallel
    }

    /// One SGD step on `batch` at `learningRate`; the model is put in training mode. With data
    /// parallelism, `batch` is this rank's slice of the global batch (possibly empty) and the result is
    /// this rank's (the caller sums results over the ranks); every rank must call it for every global batch.
    public func callAsFunction(_ batch: HostBatch, learningRate: Float) throws -> StepResult {
        guard batch.cropsPerSample == 1 else {
            throw ResNeXtError.invalidArgument("training takes one image per sample, got \(batch.cropsPerSample) crops")
        }
        model.setTraining(true)
        model.zeroGradients()
        let local = batch.labels.count
        if let dataParallel {
            var counts = [Double(local), local == 0 ? 1 : 0]
            try dataParallel.collectives.allReduceSum(&counts)
            // A global batch with no readable sample is skipped by every rank, as one process skips it; so
            // is one that leaves a rank without samples when every rank must take part (synchronized BN).
            guard counts[0] > 0, counts[1] == 0 || !dataParallel.requiresSamplesOnEveryRank else {
                return StepResult(loss: 0, correct: ks.map { _ in 0 }, samples: 0)
            }
            dataParallel.begin(local: local, global: Int(counts[0]))
        }
        var result = StepResult(loss: 0, correct: ks.map { _ in 0 }, samples: 0)
        if local > 0 || dataParallel == nil {
            let input = try backend.optimizedLayout(try backend.upload(batch.values, shape: batch.shape))
            let logits = try model.forward(input)
            let ce = try backend.softmaxCrossEntropy(logits, labels: batch.labels)
            _ = try model.backward(ce.gradient)
            let correct = ks.isEmpty ? [] : try backend.topKCorrect(logits, labels: batch.labels, ks: ks)
            result = StepResult(loss: ce.loss, correct: correct, samples: local)
        }
        try dataParallel?.finish()
        try optimizer.step(learningRate: learningRate)
        return result
    }
}

/// The evaluation step: forward in evaluation mode, the crops of each sample averaged (ten-crop testing),
/// loss and top-k counts.
public final class EvaluationStep {
    public let model: any Layer
    public let backend: any Backend
    public let ks: [Int]

    public init(model: any Layer, backend: any Backend, ks: [Int] = [1]) {
        self.model = model
        self.backend = backend
        self.ks = ks
    }

    /// The sample logits of `batch`: `[samples, classes]`, each the mean over its crops.
    public func logits(_ batch: HostBatch) throws -> Tensor {
        model.setTraining(false)
        let input = try backend.optimizedLayout(try backend.upload(batch.values, shape: batch.shape))
        let logits = try model.forward(input)
        let crops = batch.cropsPerSample, samples = batch.labels.count
        guard crops > 1 else { return logits }
        guard logits.shape.rank == 2, logits.shape[0] == samples * crops else {
            throw ResNeXtError.shapeMismatch("\(logits.shape[0]) logits rows for \(samples) samples of \(crops) crops")
        }
        let values = try backend.download(logits)
        let classes = logits.shape[1]
        var mean = [Float](repeating: 0, count: samples * classes)
        for s in 0..<samples {
            for c in 0..<crops {
                for j in 0..<classes { mean[s * classes + j] += values[(s * crops + c) * classes + j] / Float(crops) }
            }
        }
        return try backend.upload(mean, shape: [samples, classes])
    }

    public func callAsFunction(_ batch: HostBatch) throws -> StepResult {
        let logits = try logits(batch)
        let ce = try backend.softmaxCrossEntropy(logits, labels: batch.labels)
        let correct = ks.isEmpty ? [] : try backend.topKCorrect(logits, labels: batch.labels, ks: ks)
        return StepResult(loss: ce.loss, correct: correct, samples: batch.labels.count)
    }
}
