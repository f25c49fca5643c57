import ResNeXtCore

#if canImport(Glibc)
    import Glibc
#endif

extension CPUBackend {
    public func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) throws -> CrossEntropyResult {
        let (s, rows, classes) = try operands.softmaxCrossEntropy(logits, labels: labels)
        let x = try plain(s, logits.shape).floats
        let grad = try allocate(try .plain([rows, classes]))
        let g = grad.floats
        var total = 0.0
        for r in 0..<rows {
            let row = x + r * classes
            var maxValue = -Float.infinity
            for c in 0..<classes { maxValue = Swift.max(maxValue, row[c]) }
            var sum = 0.0
            for c in 0..<classes { sum += exp(Double(row[c] - maxValue)) }
            let logSum = log(sum) + Double(maxValue)
            let label = Int(labels[r])
            total += logSum - Double(row[label])
            for c in 0..<classes {
                let p = exp(Double(row[c]) - logSum)
                g[r * classes + c] = Float((p - (c == label ? 1 : 0)) / Double(rows))
            }
        }
        return CrossEntropyResult(loss: Float(total / Double(rows)), gradient: wrap(grad, logits.shape))
    }

    public func topKCorrect(_ logits: Tensor, labels: [Int32], ks: [Int]) throws -> [Int] {
        let (s, rows, classes) = try operands.topKCorrect(logits, labels: labels, ks: ks)
        let x = try plain(s, logits.shape).floats
        var correct = [Int](repeating: 0, count: ks.count)
        for r in 0..<rows {
            let row = x + r * classes
            let target = row[Int(labels[r])]
            // NaN ranks above every number (torch.topk); a NaN label logit is never correct.
            var larger = target.isNaN ? classes : 0
            if !target.isNaN { for c in 0..<classes where row[c] > target || row[c].isNaN { larger += 1 } }
            for (i, k) in ks.enumerated() where larger < Swift.min(k, classes) { correct[i] += 1 }
        }
        return correct
    }
}
