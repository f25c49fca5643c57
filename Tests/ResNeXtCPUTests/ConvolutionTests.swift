import ResNeXtCPU
import ResNeXtCore
import ResNeXtReference
import XCTest

final class ConvolutionTests: XCTestCase {
    struct Case {
        let n, c, h, w, o, k, stride, pad, groups: Int
        let bias: Bool
    }

    /// Groups 1, 2, 32 and depthwise; strides 1 and 2; odd sizes; batch 1 and > 1; with and without bias.
    static let cases: [Case] = [
        Case(n: 2, c: 6, h: 7, w: 5, o: 4, k: 3, stride: 1, pad: 1, groups: 1, bias: true),
        Case(n: 1, c: 3, h: 9, w: 9, o: 8, k: 7, stride: 2, pad: 3, groups: 1, bias: false),  // ImageNet stem shape
        Case(n: 3, c: 8, h: 5, w: 7, o: 6, k: 3, stride: 2, pad: 1, groups: 2, bias: false),
        Case(n: 2, c: 64, h: 5, w: 5, o: 64, k: 3, stride: 1, pad: 1, groups: 32, bias: false),  // 2 channels per group
        Case(n: 2, c: 128, h: 6, w: 6, o: 128, k: 3, stride: 2, pad: 1, groups: 32, bias: false),  // ResNeXt 32x4d
        Case(n: 2, c: 16, h: 7, w: 7, o: 16, k: 3, stride: 1, pad: 1, groups: 16, bias: true),  // depthwise
        Case(n: 1, c: 16, h: 4, w: 4, o: 32, k: 1, stride: 1, pad: 0, groups: 1, bias: false),  // 1x1 projection
        Case(n: 2, c: 32, h: 8, w: 8, o: 64, k: 1, stride: 2, pad: 0, groups: 1, bias: false)  // strided shortcut
    ]

    func testForwardAndBackwardMatchReference() throws {
        var rng = RandomGenerator(seed: 1)
        for c in Self.cases {
            let label = "conv \(c)"
            let (x, rx) = try randomPair([c.n, c.c, c.h, c.w], &rng)
            let (w, rw) = try randomPair([c.o, c.c / c.groups, c.k, c.k], &rng)
            let bias = c.bias ? try randomPair([c.o], &rng) : nil
            let p = Convolution2DParameters(stride: c.stride, padding: c.pad, groups: c.groups)
            let y = try cpu.convolution2D(x, weight: w, bias: bias?.0, p)
            let ry = Reference.conv2d(
                rx, weight: rw, bias: bias?.1, strideH: c.stride, strideW: c.stride,
                padH: c.pad, padW: c.pad, groups: c.groups)
            try assertClose(y, ry, "\(label) forward")

            let (dy, rdy) = try randomPair(ry.shape, &rng)
            let dx = try cpu.convolution2DBackwardData(dy, weight: w, inputShape: x.shape, p)
            let rdx = Reference.conv2dBackwardData(
                rdy, weight: rw, inputShape: rx.shape, strideH: c.stride, strideW: c.stride,
                padH: c.pad, padW: c.pad, groups: c.groups)
            try assertClose(dx, rdx, "\(label) backward data")

            let grads = try cpu.convolution2DBackwardWeights(dy, input: x, weightShape: w.shape, withBias: c.bias, p)
            let rgrads = Reference.conv2dBackwardWeights(
                rdy, input: rx, weightShape: rw.shape, strideH: c.stride, strideW: c.stride,
                padH: c.pad, padW: c.pad, groups: c.groups)
            try assertClose(grads.weight, rgrads.weight, "\(label) backward weights")
            XCTAssertEqual(grads.bias != nil, c.bias)
            if let db = grads.bias { try assertClose(db, rgrads.bias, "\(label) backward bias") }
        }
    }

    /// A convolution fed by another convolution's (blocked-layout) output, as in a network.
    func testChainedConvolutionsAcrossLayouts() throws {
        var rng = RandomGenerator(seed: 2)
        let (x, rx) = try randomPair([2, 16, 6, 6], &rng)
        let (w1, rw1) = try randomPair([32, 16, 1, 1], &rng)
        let (w2, rw2) = try randomPair([32, 1, 3, 3], &rng)
        let y1 = try cpu.convolution2D(x, weight: w1, bias: nil, .init())
        let y2 = try cpu.convolution2D(y1, weight: w2, bias: nil, .init(stride: 2, padding: 1, groups: 32))
        let r1 = Reference.conv2d(rx, weight: rw1, bias: nil, strideH: 1, strideW: 1, padH: 0, padW: 0, groups: 1)
        let r2 = Reference.conv2d(r1, weight: rw2, bias: nil, strideH: 2, strideW: 2, padH: 1, padW: 1, groups: 32)
        try assertClose(y2, r2, "chained convolutions")
    }

    func testBadConvolutionArgumentsThrow() throws {
        let x = try cpu.zeros([1, 6, 5, 5])
        assertThrows("do not divide the 6 input channels") {
            try cpu.convolution2D(x, weight: try cpu.zeros([4, 1, 3, 3]), bias: nil, .init(groups: 4))
        }
        assertThrows("expects 4 input channels") {
            try cpu.convolution2D(x, weight: try cpu.zeros([4, 2, 3, 3]), bias: nil, .init(groups: 2))
        }
        assertThrows("does not fit input") {
            try cpu.convolution2D(x, weight: try cpu.zeros([4, 6, 7, 7]), bias: nil, .init())
        }
        assertThrows("must have rank 4") {
            try cpu.convolution2D(try cpu.zeros([6, 5, 5]), weight: try cpu.zeros([4, 6, 3, 3]), bias: nil, .init())
        }
        assertThrows("groups must be positive") {
            try cpu.convolution2D(x, weight: try cpu.zeros([4, 6, 3, 3]), bias: nil, .init(groups: 0))
        }
        assertThrows("stride must be positive") {
            try cpu.convolution2D(x, weight: try cpu.zeros([4, 6, 3, 3]), bias: nil, .init(stride: 0))
        }
        assertThrows("convolution bias has shape [3]") {
            try cpu.convolution2D(x, weight: try cpu.zeros([4, 6, 3, 3]), bias: try cpu.zeros([3]), .init())
        }
        assertThrows("convolution output gradient has shape") {
            try cpu.convolution2DBackwardData(
                try cpu.zeros([1, 4, 2, 2]), weight: try cpu.zeros([4, 6, 3, 3]), inputShape: [1, 6, 5, 5], .init())
        }
    }
}
