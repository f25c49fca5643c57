import ResNeXtCore
import XCTest

final class ShapeTests: XCTestCase {
    func testShapeBasics() throws {
        let s: Shape = [2, 3, 4]
        XCTAssertEqual(s.rank, 3)
        XCTAssertEqual(s.elementCount, 24)
        XCTAssertEqual(s[1], 3)
        XCTAssertEqual(s.description, "[2, 3, 4]")
        XCTAssertEqual(Shape([]).elementCount, 1)
        XCTAssertEqual(try Shape([0, 5]).validated(), [0, 5])
        let negative = assertThrows("weight shape [3, -2] has a negative size -2") { try Shape([3, -2]).validated("weight") }
        XCTAssertEqual(negative, .invalidArgument("weight shape [3, -2] has a negative size -2"))
        try s.requireRank(3, "x")
        let rank = assertThrows("conv input must have rank 4, got shape [2, 3, 4]") { try s.requireRank(4, "conv input") }
        XCTAssertEqual(rank, .shapeMismatch("conv input must have rank 4, got shape [2, 3, 4]"))
    }

    func testLinearRules() throws {
        XCTAssertEqual(try ShapeRules.linear(input: [4, 8], weight: [10, 8]), [4, 10])
        XCTAssertEqual(try ShapeRules.linearBackwardData(outputGradient: [4, 10], weight: [10, 8]), [4, 8])
        XCTAssertEqual(try ShapeRules.linearBackwardWeights(outputGradient: [4, 10], input: [4, 8]), [10, 8])
        assertThrows("linear weight [10, 7] expects 7 input features, input [4, 8] has 8") {
            try ShapeRules.linear(input: [4, 8], weight: [10, 7])
        }
        assertThrows("linear input must have rank 2") { try ShapeRules.linear(input: [4, 8, 1, 1], weight: [10, 8]) }
        assertThrows("does not match weight") { try ShapeRules.linearBackwardData(outputGradient: [4, 9], weight: [10, 8]) }
        assertThrows("differ in batch size") { try ShapeRules.linearBackwardWeights(outputGradient: [3, 10], input: [4, 8]) }
    }

    func testChannelAndLabelRules() throws {
        XCTAssertEqual(try ShapeRules.concatenateChannels([[2, 3, 5, 5], [2, 4, 5, 5]]), [2, 7, 5, 5])
        assertThrows("concatenation of no tensors") { try ShapeRules.concatenateChannels([]) }
        assertThrows("concatenated tensor 1 has shape [2, 4, 5, 6], which differs from [2, 3, 5, 5] outside the channels") {
            try ShapeRules.concatenateChannels([[2, 3, 5, 5], [2, 4, 5, 6]])
        }
        try ShapeRules.splitChannels([2, 7, 5, 5], sizes: [3, 4])
        assertThrows("split sizes [3, 3] must be positive and sum to the 7 channels") {
            try ShapeRules.splitChannels([2, 7, 5, 5], sizes: [3, 3])
        }
        assertThrows("must be positive") { try ShapeRules.splitChannels([2, 7, 5, 5], sizes: [8, -1]) }

        let (rows, classes) = try ShapeRules.labels([3, 10], [0, 9, 5])
        XCTAssertEqual(rows, 3)
        XCTAssertEqual(classes, 10)
        assertThrows("2 labels for 3 rows of logits") { try ShapeRules.labels([3, 10], [0, 1]) }
        assertThrows("label 10 is out of range for 10 classes") { try ShapeRules.labels([3, 10], [0, 10, 1]) }
        assertThrows("label -1 is out of range") { try ShapeRules.labels([3, 10], [0, -1, 1]) }
    }

    func testConvolutionGeometry() throws {
        // ResNet stem and a ResNeXt 32-group 3×3 convolution with stride 2.
        XCTAssertEqual(
            try Convolution2DParameters(stride: 2, padding: 3).outputShape(input: [1, 3, 224, 224], weight: [64, 3, 7, 7]),
            [1, 64, 112, 112])
        XCTAssertEqual(
            try Convolution2DParameters(stride: 2, padding: 1, groups: 32).outputShape(input: [2, 64, 56, 56], weight: [128, 2, 3, 3]),
            [2, 128, 28, 28])
        let asymmetric = Convolution2DParameters(strideH: 1, strideW: 2, padH: 0, padW: 1, groups: 1)
        XCTAssertEqual(try asymmetric.outputShape(input: [1, 1, 5, 5], weight: [1, 1, 3, 3]), [1, 1, 3, 3])

        assertThrows("convolution groups must be positive, got 0") {
            try Convolution2DParameters(groups: 0).outputShape(input: [1, 4, 8, 8], weight: [4, 4, 3, 3])
        }
        assertThrows("convolution stride must be positive, got 0x0") {
            try Convolution2DParameters(stride: 0).outputShape(input: [1, 4, 8, 8], weight: [4, 4, 3, 3])
        }
        assertThrows("convolution padding must be non-negative, got -1x-1") {
            try Convolution2DParameters(padding: -1).outputShape(input: [1, 4, 8, 8], weight: [4, 4, 3, 3])
        }
        assertThrows("convolution groups 3 do not divide the 4 input channels") {
            try Convolution2DParameters(groups: 3).outputShape(input: [1, 4, 8, 8], weight: [6, 1, 3, 3])
        }
        assertThrows("convolution groups 2 do not divide the 5 output channels") {
            try Convolution2DParameters(groups: 2).outputShape(input: [1, 4, 8, 8], weight: [5, 2, 3, 3])
        }
        assertThrows("convolution weight [4, 3, 3, 3] expects 3 input channels with 1 groups, input [1, 4, 8, 8] has 4") {
            try Convolution2DParameters().outputShape(input: [1, 4, 8, 8], weight: [4, 3, 3, 3])
        }
        assertThrows("convolution kernel 5x5 does not fit input [1, 1, 3, 3] with padding 0x0") {
            try Convolution2DParameters().outputShape(input: [1, 1, 3, 3], weight: [1, 1, 5, 5])
        }
        assertThrows("convolution input must have rank 4") {
            try Convolution2DParameters().outputShape(input: [1, 3, 3], weight: [1, 1, 1, 1])
        }
    }

    func testPoolingGeometry() throws {
        XCTAssertEqual(try Pool2DParameters(kernel: 3, stride: 2, padding: 1).outputShape(input: [1, 64, 112, 112]), [1, 64, 56, 56])
        XCTAssertEqual(try Pool2DParameters.global(height: 7, width: 7).outputShape(input: [2, 2048, 7, 7]), [2, 2048, 1, 1])
        XCTAssertEqual(try Pool2DParameters(kernel: 2, stride: 2).outputShape(input: [1, 1, 5, 5]), [1, 1, 2, 2])  // floor mode
        XCTAssertTrue(Pool2DParameters(kernel: 3, stride: 1).countIncludesPadding)

        assertThrows("pooling window 5x5 does not fit input [1, 1, 3, 3]") {
            try Pool2DParameters(kernel: 5, stride: 1).outputShape(input: [1, 1, 3, 3])
        }
        assertThrows("pooling padding 2x2 must be smaller than the window 2x2") {
            try Pool2DParameters(kernel: 2, stride: 1, padding: 2).outputShape(input: [1, 1, 8, 8])
        }
        assertThrows("must be positive (padding non-negative)") {
            try Pool2DParameters(kernel: 0, stride: 1).outputShape(input: [1, 1, 8, 8])
        }
        assertThrows("pooling input must have rank 4") { try Pool2DParameters(kernel: 2, stride: 2).outputShape(input: [8, 8]) }
    }
}
