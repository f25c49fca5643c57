import ResNeXtCPU
import ResNeXtCore
import ResNeXtReference
import XCTest

final class ElementwiseAndPoolingTests: XCTestCase {
    /// A tensor in oneDNN's blocked activation layout: the output of a 1×1 convolution with identity weights.
    func blocked(_ values: Tensor) throws -> Tensor {
        let c = values.shape[1]
        var eye = [Float](repeating: 0, count: c * c)
        for i in 0..<c { eye[i * c + i] = 1 }
        return try cpu.convolution2D(values, weight: try cpu.upload(eye, shape: [c, c, 1, 1]), bias: nil, .init())
    }

    func testReLUAndAddMatchReferenceInEveryLayout() throws {
        var rng = RandomGenerator(seed: 5)
        for shape in [[2, 3, 5, 5], [2, 16, 3, 7]] {
            let (x, rx) = try randomPair(shape, &rng)
            let (b, rb) = try randomPair(shape, &rng)
            for input in [x, try blocked(x)] {
                let y = try cpu.relu(input)
                let ry = Reference.relu(rx)
                try assertClose(y, ry, "relu \(shape)")
                let (dy, rdy) = try randomPair(shape, &rng)
                try assertClose(try cpu.reluBackward(dy, output: y), Reference.reluBackward(rdy, output: ry), "relu backward \(shape)")
                // Mixed layouts: blocked + plain, and plain + blocked.
                try assertClose(try cpu.add(input, b), Reference.add(rx, rb), "add \(shape)")
                try assertClose(try cpu.add(b, input), Reference.add(rb, rx), "add swapped \(shape)")
            }
        }
    }

    func testPoolingMatchesReference() throws {
        var rng = RandomGenerator(seed: 6)
        let windows: [(Pool2DParameters, [Int])] = [
            (Pool2DParameters(kernel: 3, stride: 2, padding: 1), [2, 16, 9, 7]),  // ResNet stem max pool, odd sizes
            (Pool2DParameters(kernel: 3, stride: 2, padding: 1), [1, 3, 8, 8]),
            (Pool2DParameters(kernel: 2, stride: 2), [2, 8, 6, 5]),
            (Pool2DParameters(kernel: 3, stride: 1, padding: 1, countIncludesPadding: false), [2, 8, 5, 5]),
            (Pool2DParameters.global(height: 7, width: 5), [3, 24, 7, 5])
        ]
        for (p, shape) in windows {
            let (x, rx) = try randomPair(shape, &rng)
            let ry = Reference.maxPool2d(
                rx, kernelH: p.kernelH, kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW,
                padH: p.padH, padW: p.padW)
            let (dy, rdy) = try randomPair(ry.shape, &rng)
            for input in [x, try blocked(x)] {
                let result = try cpu.maxPool2D(input, p)
                try assertClose(result.output, ry, "max pool \(p) \(shape)")
                let dx = try cpu.maxPool2DBackward(dy, forward: result, inputShape: x.shape, p)
                try assertClose(
                    dx,
                    Reference.maxPool2dBackward(
                        rdy, input: rx, kernelH: p.kernelH, kernelW: p.kernelW, strideH: p.strideH,
                        strideW: p.strideW, padH: p.padH, padW: p.padW), "max pool backward \(shape)")

                let ya = try cpu.averagePool2D(input, p)
                try assertClose(
                    ya,
                    Reference.avgPool2d(
                        rx, kernelH: p.kernelH, kernelW: p.kernelW, strideH: p.strideH, strideW: p.strideW,
                        padH: p.padH, padW: p.padW, countIncludePad: p.countIncludesPadding), "avg pool \(shape)")
                let dxa = try cpu.averagePool2DBackward(dy, inputShape: x.shape, p)
                try assertClose(
                    dxa,
                    Reference.avgPool2dBackward(
                        rdy, inputShape: shape, kernelH: p.kernelH, kernelW: p.kernelW,
                        strideH: p.strideH, strideW: p.strideW, padH: p.padH, padW: p.padW,
                        countIncludePad: p.countIncludesPadding), "avg pool backward \(shape)")
            }
        }
    }

    func testLinearMatchesReference() throws {
        var rng = RandomGenerator(seed: 7)
        for (n, k, o) in [(1, 5, 3), (4, 64, 10), (3, 2048, 7)] {
            let (x, rx) = try randomPair([n, k], &rng)
            let (w, rw) = try randomPair([o, k], &rng)
            let (b, rb) = try randomPair([o], &rng)
            try assertClose(try cpu.linear(x, weight: w, bias: b), Reference.linear(rx, weight: rw, bias: rb), "linear \(n)x\(k)x\(o)")
            try assertClose(try cpu.linear(x, weight: w, bias: nil), Reference.linear(rx, weight: rw, bias: nil), "linear no bias")
            let (dy, rdy) = try randomPair([n, o], &rng)
            try assertClose(
                try cpu.linearBackwardData(dy, weight: w), Reference.linearBackwardData(rdy, weight: rw), "linear backward data")
            let g = try cpu.linearBackwardWeights(dy, input: x, withBias: true)
            let rg = Reference.linearBackwardWeights(rdy, input: rx)
            try assertClose(g.weight, rg.weight, "linear backward weight")
            try assertClose(g.bias!, rg.bias, "linear backward bias")
        }
        assertThrows("expects 5 input features") {
            try cpu.linear(try cpu.zeros([2, 4]), weight: try cpu.zeros([3, 5]), bias: nil)
        }
    }

    func testConcatAndSplitMatchReference() throws {
        var rng = RandomGenerator(seed: 8)
        let (a, ra) = try randomPair([2, 8, 3, 5], &rng)
        let (b, rb) = try randomPair([2, 3, 3, 5], &rng)
        let (c, rc) = try randomPair([2, 16, 3, 5], &rng)
        let joined = try cpu.concatenateChannels([try blocked(a), b, try blocked(c)])
        let rjoined = Reference.concatChannels([ra, rb, rc])
        try assertClose(joined, rjoined, "concat")
        let pieces = try cpu.splitChannels(try blocked(joined), sizes: [5, 20, 2])
        for (piece, ref) in zip(pieces, Reference.splitChannels(rjoined, sizes: [5, 20, 2])) {
            try assertClose(piece, ref, "split")
        }
        assertThrows("must be positive and sum to the 27 channels") { try cpu.splitChannels(joined, sizes: [5, 5]) }
        assertThrows("differs from [2, 8, 3, 5] outside the channels") {
            try cpu.concatenateChannels([a, try cpu.zeros([2, 8, 3, 4])])
        }
    }

    func testReshapeKeepsRowMajorOrder() throws {
        var rng = RandomGenerator(seed: 9)
        let (x, rx) = try randomPair([2, 16, 1, 1], &rng)
        let flat = try cpu.reshape(try blocked(x), to: [2, 16])
        XCTAssertEqual(try cpu.download(flat), rx.floats)
        assertThrows("cannot reshape") { try cpu.reshape(x, to: [3, 16]) }
    }
}
