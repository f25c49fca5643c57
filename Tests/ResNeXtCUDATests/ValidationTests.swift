import ResNeXtCPU
import ResNeXtCUDA
import ResNeXtCore
import XCTest

/// Every check the CUDA backend makes before touching the GPU (the common ``Operands`` over CUDA
/// storages, plus CUDA's own) fails a bad call exactly as the CPU backend does: the same error case and
/// message.
final class ValidationTests: XCTestCase {
    let device = FakeDevice()
    lazy var allocator = device.allocator()
    let operands = Operands<CUDAStorage>(device: .cuda(0))

    /// A CUDA tensor (fake memory) and a CPU tensor of the same shape.
    func pair(_ dims: [Int]) throws -> (Tensor, Tensor) {
        (try fakeTensor(allocator, Shape(dims)), try cpu.zeros(Shape(dims)))
    }

    func assertSameError(
        _ what: String, file: StaticString = #filePath, line: UInt = #line,
        cuda: () throws -> Any, cpu reference: () throws -> Any
    ) {
        let expected = captureError(reference)
        let actual = captureError(cuda)
        XCTAssertNotNil(expected, "\(what): the CPU backend accepted it", file: file, line: line)
        XCTAssertEqual(actual, expected, what, file: file, line: line)
    }

    func testConvolution() throws {
        let (x, xc) = try pair([2, 8, 5, 5]), (w, wc) = try pair([4, 8, 3, 3]), (b, bc) = try pair([5])
        let p = Convolution2DParameters(padding: 1)
        assertSameError(
            "bias of the wrong size", cuda: { try self.operands.convolution2D(x, weight: w, bias: b, p) },
            cpu: { try cpu.convolution2D(xc, weight: wc, bias: bc, p) })
        let (w2, w2c) = try pair([4, 3, 3, 3])
        assertSameError(
            "weight channels", cuda: { try self.operands.convolution2D(x, weight: w2, bias: nil, p) },
            cpu: { try cpu.convolution2D(xc, weight: w2c, bias: nil, p) })
        let (dy, dyc) = try pair([2, 4, 4, 4])
        assertSameError(
            "output gradient shape", cuda: { try self.operands.convolution2DBackwardData(dy, weight: w, inputShape: [2, 8, 5, 5], p) },
            cpu: { try cpu.convolution2DBackwardData(dyc, weight: wc, inputShape: [2, 8, 5, 5], p) })
        assertSameError(
            "negative input shape", cuda: { try self.operands.convolution2DBackwardData(dy, weight: w, inputShape: [2, -8, 5, 5], p) },
            cpu: { try cpu.convolution2DBackwardData(dyc, weight: wc, inputShape: [2, -8, 5, 5], p) })
        assertSameError(
            "weight gradient: output gradient shape",
            cuda: { try self.operands.convolution2DBackwardWeights(dy, input: x, weightShape: [4, 8, 3, 3], p) },
            cpu: { try cpu.convolution2DBackwardWeights(dyc, input: xc, weightShape: [4, 8, 3, 3], withBias: false, p) })
        assertSameError(
            "negative weight shape",
            cuda: { try self.operands.convolution2DBackwardWeights(dy, input: x, weightShape: [4, -8, 3, 3], p) },
            cpu: { try cpu.convolution2DBackwardWeights(dyc, input: xc, weightShape: [4, -8, 3, 3], withBias: false, p) })
        let grouped = Convolution2DParameters(padding: 1, groups: 3)
        assertSameError(
            "groups not dividing the channels", cuda: { try self.operands.convolution2D(x, weight: w, bias: nil, grouped) },
            cpu: { try cpu.convolution2D(xc, weight: wc, bias: nil, grouped) })
        // And a good call passes, with the geometry cuDNN gets.
        let ok = try operands.convolution2D(x, weight: w, bias: nil, p)
        XCTAssertEqual(ok.outputShape, [2, 4, 5, 5])
        XCTAssertEqual(try ConvolutionGeometry(input: x.shape, weight: w.shape, p).output, [2, 4, 5, 5])
        XCTAssertNil(ok.bias)
    }

    func testBatchNorm() throws {
        let (x, xc) = try pair([2, 3, 4, 4]), (v, vc) = try pair([3]), (bad, badc) = try pair([4])
        let (x3, x3c) = try pair([2, 3, 4])
        assertSameError(
            "rank 3 input", cuda: { try self.operands.batchNorm(x3, [(v, "scale")]) },
            cpu: { try cpu.batchNormInference(x3c, scale: vc, shift: vc, mean: vc, variance: vc, epsilon: 1e-5) })
        assertSameError(
            "scale of the wrong size", cuda: { try self.operands.batchNorm(x, [(bad, "scale"), (v, "shift")]) },
            cpu: { try cpu.batchNormInference(xc, scale: badc, shift: vc, mean: vc, variance: vc, epsilon: 1e-5) })
        assertSameError(
            "running variance of the wrong size",
            cuda: { try self.operands.batchNorm(x, [(v, "scale"), (v, "shift"), (v, "running mean"), (bad, "running variance")]) },
            cpu: {
                try cpu.batchNormTraining(
                    xc, scale: vc, shift: vc, runningMean: try cpu.zeros([3]), runningVariance: badc,
                    momentum: 0.1, epsilon: 1e-5)
            })
        let (dy, dyc) = try pair([2, 3, 4, 5])
        let stats = BatchNormStatistics(mean: vc, variance: vc)
        assertSameError(
            "output gradient shape",
            cuda: { try self.operands.batchNormBackward(dy, input: x, scale: v, statistics: BatchNormStatistics(mean: v, variance: v)) },
            cpu: { try cpu.batchNormBackward(dyc, input: xc, scale: vc, statistics: stats, epsilon: 1e-5) })
        let (x2, _) = try pair([8, 16])
        XCTAssertNoThrow(try operands.batchNorm(x2, []))
        XCTAssertEqual(try BatchNormGeometry.dims(x2.shape), [8, 16, 1, 1])
        let (empty, _) = try pair([0, 3, 4, 4])
        XCTAssertNoThrow(try operands.batchNorm(empty, [(v, "scale")]), "the CPU backend accepts an empty input")
        assertThrows(["batch normalization of an empty input [0, 3, 4, 4]"]) { try BatchNormGeometry.dims(empty.shape) }
    }

    func testElementwiseAndPooling() throws {
        let (a, ac) = try pair([2, 3, 4, 4]), (b, bc) = try pair([2, 3, 4, 5])
        assertSameError(
            "ReLU gradient shape", cuda: { try self.operands.reluBackward(b, output: a) }, cpu: { try cpu.reluBackward(bc, output: ac) })
        assertSameError("addends", cuda: { try self.operands.add(a, b) }, cpu: { try cpu.add(ac, bc) })
        let p = Pool2DParameters(kernel: 3, stride: 2, padding: 1)
        assertSameError(
            "average pooling gradient shape", cuda: { try self.operands.averagePool2DBackward(a, inputShape: [2, 3, 4, 4], p) },
            cpu: { try cpu.averagePool2DBackward(ac, inputShape: [2, 3, 4, 4], p) })
        assertSameError(
            "average pooling negative input", cuda: { try self.operands.averagePool2DBackward(a, inputShape: [2, -3, 4, 4], p) },
            cpu: { try cpu.averagePool2DBackward(ac, inputShape: [2, -3, 4, 4], p) })
        let tooMuchPadding = Pool2DParameters(kernel: 2, stride: 2, padding: 2)
        assertSameError(
            "padding not smaller than the window",
            cuda: { try self.operands.averagePool2DBackward(a, inputShape: [2, 3, 4, 4], tooMuchPadding) },
            cpu: { try cpu.averagePool2DBackward(ac, inputShape: [2, 3, 4, 4], tooMuchPadding) })
        // Max pooling backward: the output gradient is checked first, then the indices.
        let forward = try cpu.maxPool2D(ac, p)
        let fakeForward = MaxPoolResult(
            output: try fakeTensor(allocator, [2, 3, 2, 2]),
            indices: try fakeTensor(
                allocator, [96], dtype: .uint8,
                record: MaxPoolIndexRecord(inputShape: [2, 3, 4, 4], parameters: p)))
        assertSameError(
            "max pooling gradient shape",
            cuda: { try self.operands.maxPool2DBackward(a, forward: fakeForward, inputShape: [2, 3, 4, 4], p) },
            cpu: { try cpu.maxPool2DBackward(ac, forward: forward, inputShape: [2, 3, 4, 4], p) })
        let dy = try fakeTensor(allocator, [2, 3, 2, 2])
        XCTAssertNoThrow(try operands.maxPool2DBackward(dy, forward: fakeForward, inputShape: [2, 3, 4, 4], p))
        assertThrows(["max pooling backward needs the indices that maxPool2D returned for an input of shape [2, 3, 4, 5]"]) {
            try self.operands.maxPool2DBackward(
                try fakeTensor(self.allocator, [2, 3, 2, 3]), forward: fakeForward, inputShape: [2, 3, 4, 5], p)
        }
        let otherWindow = Pool2DParameters(kernel: 2, stride: 2)
        assertThrows(["max pooling backward needs the indices"]) {
            try self.operands.maxPool2DBackward(dy, forward: fakeForward, inputShape: [2, 3, 4, 4], otherWindow)
        }
        let unrecorded = MaxPoolResult(output: dy, indices: try fakeTensor(allocator, [96], dtype: .uint8))
        assertThrows(["max pooling backward needs the indices"]) {
            try self.operands.maxPool2DBackward(dy, forward: unrecorded, inputShape: [2, 3, 4, 4], p)
        }
        let floatIndices = MaxPoolResult(output: dy, indices: dy)
        assertThrows(["unsupported: max pooling indices has element type float32; this operation takes uint8"]) {
            try self.operands.maxPool2DBackward(dy, forward: floatIndices, inputShape: [2, 3, 4, 4], p)
        }
    }

    func testLinear() throws {
        let (x, xc) = try pair([4, 6]), (w, wc) = try pair([3, 5]), (w6, w6c) = try pair([3, 6]), (b, bc) = try pair([4])
        assertSameError(
            "features", cuda: { try self.operands.linear(x, weight: w, bias: nil) }, cpu: { try cpu.linear(xc, weight: wc, bias: nil) })
        assertSameError(
            "bias", cuda: { try self.operands.linear(x, weight: w6, bias: b) }, cpu: { try cpu.linear(xc, weight: w6c, bias: bc) })
        let (x3, x3c) = try pair([4, 6, 1])
        assertSameError(
            "rank", cuda: { try self.operands.linear(x3, weight: w6, bias: nil) }, cpu: { try cpu.linear(x3c, weight: w6c, bias: nil) })
        let (dy, dyc) = try pair([4, 4])
        assertSameError(
            "backward data", cuda: { try self.operands.linearBackwardData(dy, weight: w6) },
            cpu: { try cpu.linearBackwardData(dyc, weight: w6c) })
        let (dy5, dy5c) = try pair([5, 3])
        assertSameError(
            "backward weights batch", cuda: { try self.operands.linearBackwardWeights(dy5, input: x) },
            cpu: { try cpu.linearBackwardWeights(dy5c, input: xc, withBias: true) })
        let ok = try operands.linear(x, weight: w6, bias: nil)
        XCTAssertEqual(ok.outputShape, [4, 3])
        XCTAssertEqual(try operands.linearBackwardWeights(try fakeTensor(allocator, [4, 3]), input: x).weightShape, [3, 6])
    }

    func testChannelsLossAndOptimizer() throws {
        let (a, ac) = try pair([2, 3, 4, 4]), (b, bc) = try pair([2, 3, 4, 5]), (r3, r3c) = try pair([2, 3, 4])
        assertSameError("no tensors", cuda: { try self.operands.concatenateChannels([]) }, cpu: { try cpu.concatenateChannels([]) })
        assertSameError("mismatch", cuda: { try self.operands.concatenateChannels([a, b]) }, cpu: { try cpu.concatenateChannels([ac, bc]) })
        assertSameError("rank", cuda: { try self.operands.concatenateChannels([a, r3]) }, cpu: { try cpu.concatenateChannels([ac, r3c]) })
        XCTAssertEqual(try operands.concatenateChannels([a, a]).outputShape, [2, 6, 4, 4])
        assertSameError(
            "split sizes", cuda: { try self.operands.splitChannels(a, sizes: [1, 1]) }, cpu: { try cpu.splitChannels(ac, sizes: [1, 1]) })
        assertSameError(
            "split zero size", cuda: { try self.operands.splitChannels(a, sizes: [3, 0]) },
            cpu: { try cpu.splitChannels(ac, sizes: [3, 0]) })
        assertSameError(
            "split rank", cuda: { try self.operands.splitChannels(r3, sizes: [3]) }, cpu: { try cpu.splitChannels(r3c, sizes: [3]) })

        let (logits, logitsc) = try pair([3, 5])
        for labels: [Int32] in [[0, 1], [0, 1, 5], [0, -1, 2]] {
            assertSameError(
                "labels \(labels)", cuda: { try self.operands.softmaxCrossEntropy(logits, labels: labels) },
                cpu: { try cpu.softmaxCrossEntropy(logitsc, labels: labels) })
            assertSameError(
                "top-k labels \(labels)", cuda: { try self.operands.topKCorrect(logits, labels: labels, ks: [1]) },
                cpu: { try cpu.topKCorrect(logitsc, labels: labels, ks: [1]) })
        }
        assertSameError(
            "k = 0", cuda: { try self.operands.topKCorrect(logits, labels: [0, 1, 2], ks: [1, 0]) },
            cpu: { try cpu.topKCorrect(logitsc, labels: [0, 1, 2], ks: [1, 0]) })
        let (empty, emptyc) = try pair([0, 5])
        assertSameError(
            "empty batch", cuda: { try self.operands.softmaxCrossEntropy(empty, labels: []) },
            cpu: { try cpu.softmaxCrossEntropy(emptyc, labels: []) })
        assertSameError(
            "logits rank", cuda: { try self.operands.softmaxCrossEntropy(a, labels: [0, 1]) },
            cpu: { try cpu.softmaxCrossEntropy(ac, labels: [0, 1]) })

        let (p, pc) = try pair([3, 4]), (g, gc) = try pair([4, 3])
        assertSameError(
            "SGD gradient", cuda: { try self.operands.sgdStep(parameter: p, gradient: g, velocity: p) },
            cpu: { try cpu.sgdStep(parameter: pc, gradient: gc, velocity: pc, learningRate: 0.1, SGDHyperparameters(), isFirstStep: true) })
        assertSameError(
            "SGD velocity", cuda: { try self.operands.sgdStep(parameter: p, gradient: p, velocity: g) },
            cpu: { try cpu.sgdStep(parameter: pc, gradient: pc, velocity: gc, learningRate: 0.1, SGDHyperparameters(), isFirstStep: true) })
    }

    func testMemory() throws {
        assertSameError(
            "upload count", cuda: { try self.operands.upload(count: 5, shape: [2, 3]) },
            cpu: { try cpu.upload([1, 2, 3, 4, 5], shape: [2, 3]) })
        assertSameError(
            "upload negative shape", cuda: { try self.operands.upload(count: 6, shape: [-2, -3]) },
            cpu: { try cpu.upload([1, 2, 3, 4, 5, 6], shape: [-2, -3]) })
        let (a, ac) = try pair([2, 3, 4, 4])
        assertSameError("reshape count", cuda: { try self.operands.reshape(a, to: [5, 19]) }, cpu: { try cpu.reshape(ac, to: [5, 19]) })
        assertSameError("reshape negative", cuda: { try self.operands.reshape(a, to: [-96]) }, cpu: { try cpu.reshape(ac, to: [-96]) })
        let reshaped = try operands.reshape(a, to: [6, 16])
        XCTAssertTrue(reshaped.storage === a.storage as? CUDAStorage, "a reshape shares the storage")
    }

    func testDevicesTypesAndStorages() throws {
        let cpuTensor = try cpu.zeros([2, 3])
        assertThrows(["wrong device: convolution input is on cpu, but this backend computes on cuda:0"]) {
            try self.operands.storage(cpuTensor, "convolution input")
        }
        let other = try fakeTensor(FakeDevice().allocator(device: .cuda(1)), [2, 3])
        assertThrows(["wrong device: ReLU input is on cuda:1, but this backend computes on cuda:0"]) {
            try self.operands.storage(other, "ReLU input")
        }
        let bytes = try fakeTensor(allocator, [8], dtype: .uint8)
        assertThrows(["unsupported: ReLU input has element type uint8; this operation takes float32"]) {
            try self.operands.storage(bytes, "ReLU input")
        }
        // The CPU backend words the same situation the same way.
        let cudaTensor = try fakeTensor(allocator, [2, 3])
        assertThrows(["wrong device: ReLU input is on cuda:0, but this backend computes on cpu"]) { try cpu.relu(cudaTensor) }
        // A tensor claiming more elements than its storage holds is refused before any copy.
        let small = try fakeTensor(allocator, [4])
        let lying = Tensor(shape: [4, 100], storage: small.storage)
        assertThrows(["larger than its storage"]) { try self.operands.storage(lying, "downloaded tensor") }
        XCTAssertEqual(cudaTensor.device, .cuda(0))
    }
}
