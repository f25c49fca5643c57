import ResNeXtCore

// The CUDA backend checks an operation's operands with the checks every backend makes (``Operands``:
// the same errors as the CPU and reference backends), then with what only CUDA needs: storages that
// back their tensors, cuDNN's and the kernels' 32-bit sizes (``ConvolutionGeometry``,
// ``BatchNormGeometry``), and max pooling's index records. None of it calls CUDA, so it is unit-tested
// on machines without a GPU (with storages from an allocator whose device functions are fakes).

extension CUDAStorage: BackendStorage {
    /// Refuses a tensor claiming more elements than this block holds, before anything reads past it.
    public func checkBacks(_ tensor: Tensor, _ what: @autoclosure () -> String) throws {
        guard block.requested >= tensor.elementCount * tensor.dtype.byteSize else {
            throw ResNeXtError.invalidArgument("\(what()) of shape \(tensor.shape) is larger than its storage (\(block.requested) bytes)")
        }
    }
}

extension Operands where Storage == CUDAStorage {
    /// Max pooling's backward operands: the indices must be the `.uint8` block (4 bytes per output
    /// element) that maxPool2D recorded for an input of `inputShape` pooled with `p`.
    public func maxPool2DBackward(_ outputGradient: Tensor, forward: MaxPoolResult, inputShape: Shape, _ p: Pool2DParameters) throws
        -> (outputGradient: CUDAStorage, indices: CUDAStorage, outputShape: Shape)
    {
        let o = try maxPool2DBackward(outputGradient, forward: forward, inputShape: inputShape, p, indexType: .uint8) { indices in
            // Checked after the output gradient's shape, which is the output's.
            indices.maxPoolRecord.flatMap {
                $0.inputShape == inputShape && $0.parameters == p && forward.indices.elementCount == outputGradient.elementCount * 4
                    ? $0 : nil
            }
        }
        return (o.outputGradient, o.indices, o.outputShape)
    }
}
