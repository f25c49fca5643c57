import ResNeXtCore

extension CUDABackend {
    /// The loss of each row is computed on the device (in double) and summed on the host; the gradient
    /// stays on the device.
    public func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) throws -> CrossEntropyResult {
        let (x, rows, classes) = try operands.softmaxCrossEntropy(logits, labels: labels)
        try prepare()
        let deviceLabels = try uploadBytes(labels, "labels")
        let gradient = try allocate(logits.shape)
        let rowLoss = CUDAStorage(block: try allocator.allocate(rows * MemoryLayout<Double>.stride))
        if classes > 0 {
            try launch(
                .softmaxCrossEntropy, count: rows,
                [
                    .pointer(x.address), .pointer(deviceLabels.address), .pointer(gradient.address), .pointer(rowLoss.address),
                    .count(rows), .count(classes)
                ])
        }
        let losses = try downloadValues(rowLoss, count: rows, as: Double.self, "cross-entropy losses")
        return CrossEntropyResult(loss: Float(losses.reduce(0, +) / Double(rows)), gradient: wrap(gradient, logits.shape))
    }

    /// Counts, per row, the logits strictly larger than the label's on the device; the host applies each k.
    public func topKCorrect(_ logits: Tensor, labels: [Int32], ks: [Int]) throws -> [Int] {
        let (x, rows, classes) = try operands.topKCorrect(logits, labels: labels, ks: ks)
        guard rows > 0, classes > 0 else { return ks.map { _ in 0 } }
        try prepare()
        let deviceLabels = try uploadBytes(labels, "labels")
        let larger = CUDAStorage(block: try allocator.allocate(rows * 4))
        try launch(
            .topKLarger, count: rows,
            [.pointer(x.address), .pointer(deviceLabels.address), .pointer(larger.address), .count(rows), .count(classes)])
        let counts = try downloadValues(larger, count: rows, as: Int32.self, "top-k counts")
        return ks.map { k in counts.reduce(0) { $0 + (Int($1) < min(k, classes) ? 1 : 0) } }
    }
}
