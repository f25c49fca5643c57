#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Reference {
    /// Mean softmax cross-entropy of `logits` `[N, K]` against 0-based `labels` (N of them).
    ///
    /// `loss = mean_n (logsumexp(logits_n) - logits_n[label_n])`, computed stably (max subtracted);
    /// `gradient = (softmax(logits) - onehot(labels)) / N`, `[N, K]`.
    public static func softmaxCrossEntropy(_ logits: RefTensor, labels: [Int]) -> (loss: Double, gradient: RefTensor) {
        precondition(logits.shape.count == 2, "softmaxCrossEntropy: logits must be [N, K], got \(logits.shape)")
        let (n, k) = (logits.shape[0], logits.shape[1])
        precondition(labels.count == n, "softmaxCrossEntropy: \(labels.count) labels for \(n) rows")
        precondition(n > 0 && k > 0, "softmaxCrossEntropy: empty logits \(logits.shape)")
        let ld = logits.data
        var grad = [Double](repeating: 0, count: n * k)
        var total = 0.0
        for r in 0..<n {
            let label = labels[r]
            precondition(label >= 0 && label < k, "softmaxCrossEntropy: label \(label) out of range 0..<\(k)")
            let base = r * k
            var mx = -Double.infinity
            for j in 0..<k where ld[base + j] > mx { mx = ld[base + j] }
            var sumExp = 0.0
            for j in 0..<k { sumExp += exp(ld[base + j] - mx) }
            let lse = mx + log(sumExp)
            total += lse - ld[base + label]
            for j in 0..<k {
                let p = exp(ld[base + j] - lse)
                grad[base + j] = (p - (j == label ? 1 : 0)) / Double(n)
            }
        }
        return (total / Double(n), RefTensor(shape: [n, k], data: grad))
    }

    /// The number of rows of `logits` `[N, K]` whose label's logit has fewer than `k` strictly larger
    /// logits in its row (`k` clamped to `K`; ties count in the label's favour).
    public static func topKCorrect(_ logits: RefTensor, labels: [Int], k: Int) -> Int {
        precondition(logits.shape.count == 2, "topKCorrect: logits must be [N, K], got \(logits.shape)")
        let (n, classes) = (logits.shape[0], logits.shape[1])
        precondition(labels.count == n, "topKCorrect: \(labels.count) labels for \(n) rows")
        let kk = min(k, classes)
        let ld = logits.data
        var correct = 0
        for r in 0..<n {
            let label = labels[r]
            precondition(label >= 0 && label < classes, "topKCorrect: label \(label) out of range 0..<\(classes)")
            let base = r * classes
            let target = ld[base + label]
            // NaN ranks above every number (torch.topk); a NaN label logit is never correct.
            var larger = target.isNaN ? classes : 0
            if !target.isNaN { for j in 0..<classes where ld[base + j] > target || ld[base + j].isNaN { larger += 1 } }
            if larger < kk { correct += 1 }
        }
        return correct
    }

    /// One step of torch `optim.sgd` as used by fb.resnet.torch, elementwise:
    /// `g = grad + weightDecay*theta`; `v = firstStep ? g : momentum*v + (1-dampening)*g`;
    /// `d = nesterov ? g + momentum*v : v`; `theta -= lr*d`. Returns the new theta and velocity.
    public static func sgdStep(
        theta: RefTensor, grad: RefTensor, velocity: RefTensor, lr: Double, momentum: Double,
        dampening: Double, weightDecay: Double, nesterov: Bool,
        firstStep: Bool
    ) -> (theta: RefTensor, velocity: RefTensor) {
        precondition(
            grad.shape == theta.shape && velocity.shape == theta.shape,
            "sgdStep: theta \(theta.shape), grad \(grad.shape), velocity \(velocity.shape) differ")
        let gd = grad.data, vd = velocity.data
        var t = theta.data
        var v = [Double](repeating: 0, count: t.count)
        for i in 0..<t.count {
            let g = gd[i] + weightDecay * t[i]
            v[i] = firstStep ? g : momentum * vd[i] + (1 - dampening) * g
            let d = nesterov ? g + momentum * v[i] : v[i]
            t[i] -= lr * d
        }
        return (RefTensor(shape: theta.shape, data: t), RefTensor(shape: theta.shape, data: v))
    }
}
