import ResNeXtCore

/// Batch norm whose training statistics cover the global batch of a data-parallel job (PyTorch's
/// `SyncBatchNorm`), built from the backend's batch-norm operations and two small all-reduces per layer:
///
/// - forward: each rank's per-channel count n, n·mean and n·E[x²] are summed over the ranks; the layer
///   normalizes with the global mean and biased variance, and the running statistics follow them (the
///   variance unbiased with the global count);
/// - backward: with the global statistics, the backend's local backward gives dβ = Σ dy and
///   dγ = Σ dy·x̂ over this rank's slice, and an input gradient whose means are over the slice. Summing
///   (n/N)·dβ and (n/N)·dγ over the ranks gives the global sums G₁, G₂ (every rank's gradients are of its
///   own mean loss, which ``GradientBuckets`` weights by n/N), and the input gradient is corrected by the
///   per-channel term γ/(σ·n)·((dβ − G₁) + x̂·(dγ − G₂)), applied with the backend's inference-mode batch
///   norm (the global statistics, scale and shift of the term). The parameter gradients stay local:
///   their n/N-weighted sum over the ranks is already G₁, G₂.
///
/// Every rank must run every synchronized layer in the same order with at least one sample (the
/// training step skips, on every rank, a batch that leaves a rank without samples).
public final class SynchronizedBatchNorm {
    public let collectives: any Collectives
    /// Per-channel samples on this rank and on all ranks, from the last forward.
    private var counts: (local: Double, global: Double) = (0, 0)
    private var scratch: (mean: Tensor, variance: Tensor)?

    public init(collectives: any Collectives) { self.collectives = collectives }

    /// The global statistics of `x` (and updates `layer`'s running statistics with them).
    func forward(_ x: Tensor, _ layer: BatchNorm2d) throws -> BatchNormStatistics {
        let backend = layer.backend
        let channels = layer.weight.value.shape[0]
        // The local statistics, from a training-mode pass that leaves scratch running buffers alone.
        if scratch == nil { scratch = (try backend.zeros([channels]), try backend.zeros([channels])) }
        let (_, local) = try backend.batchNormTraining(
            x, scale: layer.weight.value, shift: layer.bias.value, runningMean: scratch!.mean, runningVariance: scratch!.variance,
            momentum: 0, epsilon: layer.epsilon)
        let mean = try backend.download(local.mean), variance = try backend.download(local.variance)
        let n = Double(x.elementCount / channels)
        // [n·mean_c …, n·E[x²]_c …, n]
        var sums = [Double](repeating: 0, count: 2 * channels + 1)
        for c in 0..<channels {
            let m = Double(mean[c]), v = Double(variance[c])
            sums[c] = n * m
            sums[channels + c] = n * (v + m * m)
        }
        sums[2 * channels] = n
        try collectives.allReduceSum(&sums)
        let total = sums[2 * channels]
        counts = (n, total)
        let m = Double(layer.momentum)
        let unbiased = total > 1 ? total / (total - 1) : 1
        let runningMean = try backend.download(layer.runningMean.value), runningVariance = try backend.download(layer.runningVariance.value)
        var globalMean = [Float](repeating: 0, count: channels), globalVariance = globalMean
        var newMean = globalMean, newVariance = globalMean
        for c in 0..<channels {
            let mu = sums[c] / total
            let sigma2 = max(0, sums[channels + c] / total - mu * mu)
            globalMean[c] = Float(mu)
            globalVariance[c] = Float(sigma2)
            newMean[c] = Float((1 - m) * Double(runningMean[c]) + m * mu)
            newVariance[c] = Float((1 - m) * Double(runningVariance[c]) + m * sigma2 * unbiased)
        }
        layer.runningMean.value = try backend.upload(newMean, shape: [channels])
        layer.runningVariance.value = try backend.upload(newVariance, shape: [channels])
        return BatchNormStatistics(
            mean: try backend.upload(globalMean, shape: [channels]), variance: try backend.upload(globalVariance, shape: [channels]))
    }

    /// The input gradient of the global batch's statistics, from the local backward's `gradients`.
    func backward(
        _ dy: Tensor, _ gradients: (input: Tensor, scale: Tensor, shift: Tensor), input x: Tensor, statistics: BatchNormStatistics,
        _ layer: BatchNorm2d
    ) throws -> Tensor {
        let backend = layer.backend
        let channels = layer.weight.value.shape[0]
        let dShift = try backend.download(gradients.shift), dScale = try backend.download(gradients.scale)
        let weight = counts.local / counts.global
        var sums = [Double](repeating: 0, count: 2 * channels)
        for c in 0..<channels {
            sums[c] = weight * Double(dShift[c])
            sums[channels + c] = weight * Double(dScale[c])
        }
        try collectives.allReduceSum(&sums)
        let gamma = try backend.download(layer.weight.value)
        let variance = try backend.download(statistics.variance)
        // dx = (γ/σ)·dy − γ/(σ·n)·(G₁ + x̂·G₂): two per-channel affine maps done as inference-mode batch
        // norm (of dy with mean 0 and variance 1 − ε, and of x with the global statistics).
        var dyScale = [Float](repeating: 0, count: channels)
        var slope = [Float](repeating: 0, count: channels), offset = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            let inverseSigma = 1 / (Double(variance[c]) + Double(layer.epsilon)).squareRoot()
            dyScale[c] = Float(Double(gamma[c]) * inverseSigma)
            let factor = Double(gamma[c]) * inverseSigma / counts.local
            offset[c] = Float(-factor * sums[c])
            slope[c] = Float(-factor * sums[channels + c])
        }
        let scaled = try backend.batchNormInference(
            dy, scale: try backend.upload(dyScale, shape: [channels]), shift: try backend.zeros([channels]),
            mean: try backend.zeros([channels]), variance: try backend.full([channels], value: 1 - layer.epsilon), epsilon: layer.epsilon)
        let correction = try backend.batchNormInference(
            x, scale: try backend.upload(slope, shape: [channels]), shift: try backend.upload(offset, shape: [channels]),
            mean: statistics.mean, variance: statistics.variance, epsilon: layer.epsilon)
        return try backend.add(scaled, correction)
    }
}
