extension Reference {
    /// Rectified linear unit: `max(x, 0)` elementwise (NaN maps to 0).
    public static func relu(_ x: RefTensor) -> RefTensor {
        var y = x.data
        for i in 0..<y.count where !(y[i] > 0) { y[i] = 0 }
        return RefTensor(shape: x.shape, data: y)
    }

    /// Gradient of `relu` from its output: passes `dy` where `output > 0`, zero elsewhere.
    public static func reluBackward(_ dy: RefTensor, output: RefTensor) -> RefTensor {
        precondition(dy.shape == output.shape, "reluBackward: dy shape \(dy.shape) differs from \(output.shape)")
        let od = output.data
        var dx = dy.data
        for i in 0..<dx.count where !(od[i] > 0) { dx[i] = 0 }
        return RefTensor(shape: dy.shape, data: dx)
    }

    /// Elementwise sum of two tensors of the same shape.
    public static func add(_ a: RefTensor, _ b: RefTensor) -> RefTensor {
        precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
        let bd = b.data
        var y = a.data
        for i in 0..<y.count { y[i] += bd[i] }
        return RefTensor(shape: a.shape, data: y)
    }
}

// MARK: - Linear

extension Reference {
    /// Fully connected layer: `x` `[N, K]`, `weight` `[O, K]`, `bias` `[O]`; returns `x W^T + b`, `[N, O]`.
    public static func linear(_ x: RefTensor, weight: RefTensor, bias: RefTensor?) -> RefTensor {
        precondition(
            x.shape.count == 2 && weight.shape.count == 2 && x.shape[1] == weight.shape[1],
            "linear: x \(x.shape) and weight \(weight.shape) must be [N, K] and [O, K]")
        let (n, k, o) = (x.shape[0], x.shape[1], weight.shape[0])
        if let bias { precondition(bias.shape == [o], "linear: bias must be [\(o)], got \(bias.shape)") }
        let xd = x.data, wd = weight.data
        var y = [Double](repeating: 0, count: n * o)
        for r in 0..<n {
            for j in 0..<o {
                var s = bias?.data[j] ?? 0
                for i in 0..<k { s += xd[r * k + i] * wd[j * k + i] }
                y[r * o + j] = s
            }
        }
        return RefTensor(shape: [n, o], data: y)
    }

    /// Gradient of `linear` with respect to its input: `dy W`, `[N, K]`, for `dy` `[N, O]` and `weight` `[O, K]`.
    public static func linearBackwardData(_ dy: RefTensor, weight: RefTensor) -> RefTensor {
        precondition(
            dy.shape.count == 2 && weight.shape.count == 2 && dy.shape[1] == weight.shape[0],
            "linearBackwardData: dy \(dy.shape) and weight \(weight.shape) must be [N, O] and [O, K]")
        let (n, o, k) = (dy.shape[0], dy.shape[1], weight.shape[1])
        let dyd = dy.data, wd = weight.data
        var dx = [Double](repeating: 0, count: n * k)
        for r in 0..<n {
            for j in 0..<o {
                let g = dyd[r * o + j]
                for i in 0..<k { dx[r * k + i] += g * wd[j * k + i] }
            }
        }
        return RefTensor(shape: [n, k], data: dx)
    }

    /// Gradients of `linear` with respect to weight and bias: `dy^T x` (`[O, K]`) and `sum_n dy` (`[O]`).
    public static func linearBackwardWeights(_ dy: RefTensor, input: RefTensor) -> (weight: RefTensor, bias: RefTensor) {
        precondition(
            dy.shape.count == 2 && input.shape.count == 2 && dy.shape[0] == input.shape[0],
            "linearBackwardWeights: dy \(dy.shape) and input \(input.shape) must be [N, O] and [N, K]")
        let (n, o, k) = (dy.shape[0], dy.shape[1], input.shape[1])
        let dyd = dy.data, xd = input.data
        var dw = [Double](repeating: 0, count: o * k)
        var db = [Double](repeating: 0, count: o)
        for r in 0..<n {
            for j in 0..<o {
                let g = dyd[r * o + j]
                db[j] += g
                for i in 0..<k { dw[j * k + i] += g * xd[r * k + i] }
            }
        }
        return (RefTensor(shape: [o, k], data: dw), RefTensor(shape: [o], data: db))
    }
}

// MARK: - Channel concat / split

extension Reference {
    /// Concatenates tensors along dimension 1 (channels of `[N, C, H, W]`; any rank >= 2 works).
    /// All other dimensions must agree.
    public static func concatChannels(_ xs: [RefTensor]) -> RefTensor {
        precondition(!xs.isEmpty, "concatChannels: no inputs")
        let first = xs[0].shape
        precondition(first.count >= 2, "concatChannels: rank must be at least 2, got \(first)")
        for x in xs {
            precondition(
                x.shape.count == first.count && x.shape[0] == first[0]
                    && Array(x.shape[2...]) == Array(first[2...]),
                "concatChannels: shape \(x.shape) incompatible with \(first)")
        }
        let n = first[0]
        let inner = first[2...].reduce(1, *)
        let totalC = xs.reduce(0) { $0 + $1.shape[1] }
        var out = [Double](repeating: 0, count: n * totalC * inner)
        for b in 0..<n {
            var dst = b * totalC * inner
            for x in xs {
                let len = x.shape[1] * inner
                let src = b * len
                let xd = x.data
                for i in 0..<len { out[dst + i] = xd[src + i] }
                dst += len
            }
        }
        var shape = first
        shape[1] = totalC
        return RefTensor(shape: shape, data: out)
    }

    /// Splits a tensor along dimension 1 (channels) into consecutive pieces of the given sizes,
    /// which must sum to the channel count. The inverse of `concatChannels`.
    public static func splitChannels(_ x: RefTensor, sizes: [Int]) -> [RefTensor] {
        precondition(x.shape.count >= 2, "splitChannels: rank must be at least 2, got \(x.shape)")
        precondition(
            sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == x.shape[1],
            "splitChannels: sizes \(sizes) do not partition \(x.shape[1]) channels")
        let n = x.shape[0], c = x.shape[1]
        let inner = x.shape[2...].reduce(1, *)
        let xd = x.data
        var result: [RefTensor] = []
        var offset = 0
        for size in sizes {
            let len = size * inner
            var piece = [Double](repeating: 0, count: n * len)
            for b in 0..<n {
                let src = (b * c + offset) * inner
                for i in 0..<len { piece[b * len + i] = xd[src + i] }
            }
            var shape = x.shape
            shape[1] = size
            result.append(RefTensor(shape: shape, data: piece))
            offset += size
        }
        return result
    }
}
