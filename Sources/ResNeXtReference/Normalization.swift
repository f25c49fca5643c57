#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Reference {
    private static func checkChannelVector(_ t: RefTensor, _ c: Int, _ name: String, _ what: String) {
        precondition(t.shape == [c], "\(what): \(name) must be [\(c)], got \(t.shape)")
    }

    /// Training-mode batch normalization over the channels of `[N, C, H, W]` (or `[N, C]`, read as H = W = 1).
    ///
    /// Uses the batch mean and the BIASED batch variance over `m = N*H*W`:
    /// `y = (x - mean) / sqrt(var + eps) * gamma + beta`.
    /// Returns the output, the batch mean, the biased batch variance, and the updated running stats
    /// `runningMean' = (1-momentum)*runningMean + momentum*mean` and
    /// `runningVar' = (1-momentum)*runningVar + momentum*var*m/(m-1)`;
    /// when `m == 1` the running stats are returned unchanged.
    public static func batchNormTraining(
        _ x: RefTensor, gamma: RefTensor, beta: RefTensor, runningMean: RefTensor,
        runningVar: RefTensor, momentum: Double, eps: Double
    )
        -> (output: RefTensor, mean: RefTensor, variance: RefTensor, runningMean: RefTensor, runningVar: RefTensor)
    {
        let what = "batchNormTraining"
        let (n, c, h, w) = nchw(x, what)
        checkChannelVector(gamma, c, "gamma", what)
        checkChannelVector(beta, c, "beta", what)
        checkChannelVector(runningMean, c, "runningMean", what)
        checkChannelVector(runningVar, c, "runningVar", what)
        let plane = h * w
        let m = n * plane
        precondition(m > 0, "\(what): empty batch, shape \(x.shape)")
        let xd = x.data
        var mean = [Double](repeating: 0, count: c)
        var variance = [Double](repeating: 0, count: c)
        for ch in 0..<c {
            var s = 0.0
            for b in 0..<n {
                let base = (b * c + ch) * plane
                for i in 0..<plane { s += xd[base + i] }
            }
            let mu = s / Double(m)
            var s2 = 0.0
            for b in 0..<n {
                let base = (b * c + ch) * plane
                for i in 0..<plane {
                    let d = xd[base + i] - mu
                    s2 += d * d
                }
            }
            mean[ch] = mu
            variance[ch] = s2 / Double(m)
        }
        let meanT = RefTensor(shape: [c], data: mean)
        let varT = RefTensor(shape: [c], data: variance)
        let y = batchNormInference(x, gamma: gamma, beta: beta, mean: meanT, variance: varT, eps: eps)
        var newMean = runningMean
        var newVar = runningVar
        if m > 1 {
            let unbias = Double(m) / Double(m - 1)
            for ch in 0..<c {
                newMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * mean[ch]
                newVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * variance[ch] * unbias
            }
        }
        return (y, meanT, varT, newMean, newVar)
    }

    /// Inference-mode batch normalization with given statistics:
    /// `y = (x - mean) / sqrt(variance + eps) * gamma + beta`, per channel of `[N, C, H, W]` (or `[N, C]`).
    public static func batchNormInference(
        _ x: RefTensor, gamma: RefTensor, beta: RefTensor, mean: RefTensor,
        variance: RefTensor, eps: Double
    ) -> RefTensor {
        let what = "batchNormInference"
        let (n, c, h, w) = nchw(x, what)
        checkChannelVector(gamma, c, "gamma", what)
        checkChannelVector(beta, c, "beta", what)
        checkChannelVector(mean, c, "mean", what)
        checkChannelVector(variance, c, "variance", what)
        let plane = h * w
        let xd = x.data
        var y = [Double](repeating: 0, count: xd.count)
        for ch in 0..<c {
            let invstd = 1 / sqrt(variance.data[ch] + eps)
            let mu = mean.data[ch], ga = gamma.data[ch], be = beta.data[ch]
            for b in 0..<n {
                let base = (b * c + ch) * plane
                for i in 0..<plane { y[base + i] = (xd[base + i] - mu) * invstd * ga + be }
            }
        }
        return RefTensor(shape: x.shape, data: y)
    }

    /// Backward of training-mode batch normalization (batch statistics), by the analytic formula:
    /// `xhat = (x - mean) * invstd`, `dbeta = sum dy`, `dgamma = sum dy * xhat`,
    /// `dx = gamma * invstd / m * (m * dy - dbeta - xhat * dgamma)`, sums over `m = N*H*W`.
    /// `mean` and `variance` are the batch mean and biased variance from `batchNormTraining`.
    public static func batchNormBackward(
        _ dy: RefTensor, x: RefTensor, gamma: RefTensor, mean: RefTensor,
        variance: RefTensor, eps: Double
    )
        -> (input: RefTensor, gamma: RefTensor, beta: RefTensor)
    {
        let what = "batchNormBackward"
        let (n, c, h, w) = nchw(x, what)
        precondition(dy.shape == x.shape, "\(what): dy shape \(dy.shape) differs from x shape \(x.shape)")
        checkChannelVector(gamma, c, "gamma", what)
        checkChannelVector(mean, c, "mean", what)
        checkChannelVector(variance, c, "variance", what)
        let plane = h * w
        let m = Double(n * plane)
        let xd = x.data, dyd = dy.data
        var dx = [Double](repeating: 0, count: xd.count)
        var dgamma = [Double](repeating: 0, count: c)
        var dbeta = [Double](repeating: 0, count: c)
        for ch in 0..<c {
            let invstd = 1 / sqrt(variance.data[ch] + eps)
            let mu = mean.data[ch]
            var sdy = 0.0, sdyx = 0.0
            for b in 0..<n {
                let base = (b * c + ch) * plane
                for i in 0..<plane {
                    sdy += dyd[base + i]
                    sdyx += dyd[base + i] * (xd[base + i] - mu) * invstd
                }
            }
            dbeta[ch] = sdy
            dgamma[ch] = sdyx
            let k = gamma.data[ch] * invstd / m
            for b in 0..<n {
                let base = (b * c + ch) * plane
                for i in 0..<plane {
                    let xhat = (xd[base + i] - mu) * invstd
                    dx[base + i] = k * (m * dyd[base + i] - sdy - xhat * sdyx)
                }
            }
        }
        return (
            RefTensor(shape: x.shape, data: dx), RefTensor(shape: [c], data: dgamma),
            RefTensor(shape: [c], data: dbeta)
        )
    }
}
