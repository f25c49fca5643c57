import ResNeXtCore
import ResNeXtModels
import XCTest

final class ModelSpecTests: XCTestCase {
    /// Exact parameter counts (torchvision's where it has the model; docs/MODELS.md) and multiply-adds within 1 %
    /// of the published figures.
    func testParameterCountsAndMultiplyAddsOfPublishedModels() throws {
        let expected: [(ModelConfiguration, Int, Double, String)] = [
            (try .preset("resnet50"), 25_557_032, 4.09e9, "ResNet-50"),
            (try .preset("resnext50_32x4d"), 25_028_904, 4.23e9, "ResNeXt-50 32x4d"),
            (try .preset("resnext101_32x4d"), 44_177_704, 7.97e9, "ResNeXt-101 32x4d"),
            (try .preset("resnext101_64x4d"), 83_455_272, 15.46e9, "ResNeXt-101 64x4d"),
            (try .preset("resnext101_32x8d"), 88_791_336, 16.41e9, "ResNeXt-101 32x8d"),
            (try .preset("resnext29_8x64d"), 34_426_698, 5.39e9, "ResNeXt-29 8x64d"),
            (try .preset("resnext29_16x64d"), 68_155_210, 10.69e9, "ResNeXt-29 16x64d"),
            (
                try .original(dataset: .imagenet, depth: 50, baseWidth: 4, cardinality: 32, blockType: .resnextB), 25_028_904, 4.23e9,
                "ResNeXt-50 32x4d type B"
            ),
            (try .preset("resnet18"), 11_689_512, 1.82e9, "ResNet-18"),
            (try .preset("resnet34"), 21_797_672, 3.67e9, "ResNet-34"),
            (try .preset("resnet152"), 60_192_808, 11.56e9, "ResNet-152")
        ]
        for (config, params, macs, name) in expected {
            let a = try config.analyze()
            XCTAssertEqual(a.parameters, params, name)
            XCTAssertEqual(Double(a.multiplyAdds), macs, accuracy: 0.01 * macs, name)
            XCTAssertEqual(a.outputShape, [1, config.classes], name)
        }
    }

    func testCIFAR100AndBasicResNetCounts() throws {
        // CIFAR-100 changes only the classifier: 1024·100 + 100 instead of 1024·10 + 10.
        let c100 = try ModelConfiguration.original(dataset: .cifar100, depth: 29, baseWidth: 64, cardinality: 8)
        XCTAssertEqual(try c100.analyze().parameters, 34_426_698 - 10_250 + 102_500)
        // fb.resnet.torch's CIFAR ResNet-20 (type-A shortcuts): 269,722 parameters, the well-known 0.27M.
        XCTAssertEqual(try ModelConfiguration.preset("resnet20").analyze().parameters, 269_722)
        XCTAssertEqual(try ModelConfiguration.preset("resnet110").analyze().parameters, 1_727_962)
    }

    func testOriginalRulesAndClearErrors() throws {
        let c = try ModelConfiguration.original(dataset: .cifar10, depth: 29, baseWidth: 64, cardinality: 16)
        XCTAssertEqual(c.blocksPerStage, [3, 3, 3])
        XCTAssertEqual([64, 128, 256].map(c.innerWidth), [1024, 2048, 4096])
        XCTAssertEqual(c.shortcutType, .B)
        XCTAssertEqual(
            try ModelConfiguration.preset("resnext50_32x4d").stagePlanes.map {
                try! ModelConfiguration.preset("resnext50_32x4d").innerWidth(planes: $0)
            }, [128, 256, 512, 1024])
        // The paper's Table 2 templates: 1x64d .. 32x4d give inner widths 64, 80, 96, 112, 128 at stage 1.
        for (card, width, inner) in [(1, 64, 64), (2, 40, 80), (4, 24, 96), (8, 14, 112), (32, 4, 128)] {
            XCTAssertEqual(
                try ModelConfiguration.original(dataset: .imagenet, depth: 50, baseWidth: width, cardinality: card).innerWidth(planes: 64),
                inner)
        }
        let cases: [(() throws -> ModelConfiguration, String)] = [
            ({ try .original(dataset: .imagenet, depth: 34, baseWidth: 4, cardinality: 32) }, "invalid -depth 34 for imagenet"),
            ({ try .original(dataset: .cifar10, depth: 30) }, "depth must be 9k+2"),
            ({ try .original(dataset: .cifar10, depth: 21, blockType: .basic) }, "depth must be 6n+2"),
            ({ try .original(dataset: .imagenet, depth: 50, cardinality: 0) }, "cardinality must be at least 1"),
            ({ try .original(dataset: .imagenet, depth: 50, baseWidth: 0) }, "baseWidth must be at least 1"),
            (
                { try .original(dataset: .cifar10, depth: 29, shortcutType: .A) },
                "shortcut type A (zero padding) can only keep or double channels"
            ),
            ({ try .original(dataset: .cifar10, depth: 29, classes: 0) }, "classes must be at least 1"),
            ({ try .preset("resnext51_32x4d") }, "unknown model 'resnext51_32x4d'"),
            // Sizes are bounded before anything is allocated (these used to abort allocating hundreds of GB).
            ({ try .original(dataset: .cifar10, depth: 900_000_002) }, "more than 10000 blocks in all (check -depth)"),
            ({ try .original(dataset: .cifar10, depth: 29, baseWidth: 100_000_000) }, "baseWidth 100000000 is above the limit of 65536"),
            ({ try .original(dataset: .imagenet, depth: 50, baseWidth: 4096, cardinality: 64) }, "(check -baseWidth and -cardinality)"),
            ({ try .original(dataset: .imagenet, depth: 50, cardinality: Int.max) }, "cardinality 9223372036854775807 is above the limit"),
            ({ try .original(dataset: .cifar10, depth: 29, classes: 5_000_000) }, "5000000 classes; at most 1000000")
        ]
        for (make, message) in cases {
            XCTAssertThrowsError(try make()) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error) should mention \(message)")
            }
        }
    }

    /// A configuration within every width and count bound can still be too large in total: refused before
    /// building (a crafted file's configuration goes through the same check, naming the file).
    func testParameterLimit() throws {
        let huge = try ModelConfiguration.original(dataset: .imagenet, depth: 152, classes: 1_000_000)
        XCTAssertThrowsError(try huge.checkSize()) {
            XCTAssertTrue("\($0)".contains("parameters, more than the limit of 2,000,000,000"), "\($0)")
        }
        XCTAssertNoThrow(try ModelConfiguration.preset("resnext101_64x4d").checkSize())
        let json = huge.json
        XCTAssertThrowsError(try ModelConfiguration(json: json, source: "crafted.safetensors")) {
            XCTAssertTrue("\($0)".contains("crafted.safetensors: "), "\($0)")
            XCTAssertTrue("\($0)".contains("more than the limit"), "\($0)")
        }
    }

    func testFullyConvolutionalHeadAcceptsOtherSizes() throws {
        let config = try ModelConfiguration.preset("resnext50_32x4d")
        // The paper's 320×320 test crop works: 320 → 10×10 before global pooling.
        let a = try config.spec().analyze(input: [2, 3, 320, 320])
        XCTAssertEqual(a.outputShape, [2, 1000])
        XCTAssertEqual(a.rows.first { $0.name == "layer4" }?.outputShape, [2, 2048, 10, 10])
        XCTAssertEqual(try config.spec().analyze(input: [1, 3, 17, 17]).outputShape, [1, 1000])
        XCTAssertThrowsError(try config.spec().analyze(input: [1, 4, 224, 224])) { error in
            XCTAssertTrue("\(error)".contains("expects 3 input channels"))
        }
    }
}
