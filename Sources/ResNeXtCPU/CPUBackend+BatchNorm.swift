import CDNNL
import ResNeXtCore

extension CPUBackend {
    private var scaleShiftFlags: UInt32 { dnnl_use_scale.rawValue | dnnl_use_shift.rawValue }

    private func batchNormForward(_ data: MemoryDesc, training: Bool, epsilon: Float) throws -> Primitive {
        let key = "bn_fwd|\(training)|\(epsilon)|\(data.layoutKey)"
        return try primitive(
            key,
            desc: {
                var md = data
                var d = dnnl_batch_normalization_desc_t()
                let flags = training ? scaleShiftFlags : scaleShiftFlags | dnnl_use_global_stats.rawValue
                try dnnlCheck(
                    dnnl_batch_normalization_forward_desc_init(
                        &d, training ? dnnl_forward_training : dnnl_forward_inference,
                        &md, epsilon, flags),
                    "dnnl_batch_normalization_forward_desc_init(\(key))")
                return d
            })
    }

    /// The `[C]` vectors plain.
    private func plainVectors(_ vectors: [CPUStorage], _ input: Tensor) throws -> [CPUStorage] {
        try vectors.map { try plain($0, [input.shape[1]]) }
    }

    public func batchNormTraining(
        _ input: Tensor, scale: Tensor, shift: Tensor, runningMean: Tensor, runningVariance: Tensor,
        momentum: Float, epsilon: Float
    ) throws -> (output: Tensor, statistics: BatchNormStatistics) {
        let o = try operands.batchNormTraining(
            input, scale: scale, shift: shift, runningMean: runningMean, runningVariance: runningVariance)
        let x = try activation(o.input, input.shape)
        let v = try plainVectors(o.vectors, input)
        let (rm, rv) = (v[2], v[3])
        guard rm === o.vectors[2], rv === o.vectors[3] else {
            throw ResNeXtError.invalidArgument(
                "batch normalization running statistics must be plain CPU tensors (they are updated in place)")
        }
        let fwd = try batchNormForward(x.desc, training: true, epsilon: epsilon)
        let channels = input.shape[1]
        let out = try allocate(x.desc)
        let mean = try allocate(try .plain([channels]))
        let variance = try allocate(try .plain([channels]))
        try run(
            fwd,
            [
                Argument(DNNL_ARG_SRC, x), Argument(DNNL_ARG_DST, out), Argument(DNNL_ARG_SCALE, v[0]), Argument(DNNL_ARG_SHIFT, v[1]),
                Argument(DNNL_ARG_MEAN, mean), Argument(DNNL_ARG_VARIANCE, variance)
            ], "batch normalization forward")
        let m = input.elementCount / channels
        if m > 1 {
            let unbias = Float(m) / Float(m - 1)
            for c in 0..<channels {
                rm.floats[c] = (1 - momentum) * rm.floats[c] + momentum * mean.floats[c]
                rv.floats[c] = (1 - momentum) * rv.floats[c] + momentum * variance.floats[c] * unbias
            }
        }
        let stats = BatchNormStatistics(mean: wrap(mean, [channels]), variance: wrap(variance, [channels]))
        return (wrap(out, input.shape), stats)
    }

    public func batchNormInference(
        _ input: Tensor, scale: Tensor, shift: Tensor, mean: Tensor, variance: Tensor,
        epsilon: Float
    ) throws -> Tensor {
        let o = try operands.batchNormInference(input, scale: scale, shift: shift, mean: mean, variance: variance)
        let x = try activation(o.input, input.shape)
        let v = try plainVectors(o.vectors, input)
        let fwd = try batchNormForward(x.desc, training: false, epsilon: epsilon)
        let out = try allocate(x.desc)
        try run(
            fwd,
            [
                Argument(DNNL_ARG_SRC, x), Argument(DNNL_ARG_DST, out), Argument(DNNL_ARG_SCALE, v[0]), Argument(DNNL_ARG_SHIFT, v[1]),
                Argument(DNNL_ARG_MEAN, v[2]), Argument(DNNL_ARG_VARIANCE, v[3])
            ], "batch normalization inference")
        return wrap(out, input.shape)
    }

    public func batchNormBackward(
        _ outputGradient: Tensor, input: Tensor, scale: Tensor, statistics: BatchNormStatistics,
        epsilon: Float
    ) throws -> (input: Tensor, scale: Tensor, shift: Tensor) {
        let o = try operands.batchNormBackward(outputGradient, input: input, scale: scale, statistics: statistics)
        let x = try activation(o.input, input.shape)
        let v = try plainVectors(o.vectors, input)
        let dy = try reorder(o.outputGradient, to: x.desc)
        let fwd = try batchNormForward(x.desc, training: true, epsilon: epsilon)
        let key = "bn_bwd|\(epsilon)|\(x.desc.layoutKey)"
        let bwd = try primitive(
            key,
            desc: {
                var md = x.desc, diff = x.desc
                var d = dnnl_batch_normalization_desc_t()
                try dnnlCheck(
                    dnnl_batch_normalization_backward_desc_init(&d, dnnl_backward, &diff, &md, epsilon, scaleShiftFlags),
                    "dnnl_batch_normalization_backward_desc_init(\(key))")
                return d
            }, hint: fwd)
        let channels = input.shape[1]
        let dx = try allocate(x.desc)
        let dScale = try allocate(try .plain([channels]))
        let dShift = try allocate(try .plain([channels]))
        // oneDNN expects the shift among the arguments even though the backward pass does not read it.
        try run(
            bwd,
            [
                Argument(DNNL_ARG_SRC, x), Argument(DNNL_ARG_DIFF_DST, dy), Argument(DNNL_ARG_MEAN, v[1]),
                Argument(DNNL_ARG_VARIANCE, v[2]), Argument(DNNL_ARG_SCALE, v[0]), Argument(DNNL_ARG_SHIFT, v[0]),
                Argument(DNNL_ARG_DIFF_SRC, dx), Argument(DNNL_ARG_DIFF_SCALE, dScale), Argument(DNNL_ARG_DIFF_SHIFT, dShift)
            ],
            "batch normalization backward")
        return (wrap(dx, input.shape), wrap(dScale, [channels]), wrap(dShift, [channels]))
    }
}
