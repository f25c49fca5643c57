// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ResNeXt",
    products: [
        .library(name: "ResNeXtCore", targets: ["ResNeXtCore"]),
        .library(name: "ResNeXtCPU", targets: ["ResNeXtCPU"]),
        .library(name: "ResNeXtNN", targets: ["ResNeXtNN"]),
        .library(name: "ResNeXtReference", targets: ["ResNeXtReference"]),
        .library(name: "ResNeXtIO", targets: ["ResNeXtIO"]),
        .library(name: "ResNeXtModels", targets: ["ResNeXtModels"]),
        .executable(name: "resnext", targets: ["resnext"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System library: oneDNN 2.6 C API (Debian libdnnl-dev).
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        // Tensors, shapes, devices, the backend protocol, errors, RNG.
        .target(name: "ResNeXtCore"),
        // Naive float64 implementation of every backend operation: the test oracle.
        .target(name: "ResNeXtReference"),
        // The CPU backend on oneDNN.
        .target(name: "ResNeXtCPU", dependencies: ["ResNeXtCore", "CDNNL"]),
        // Layers with explicit forward/backward, loss, SGD.
        .target(name: "ResNeXtNN", dependencies: ["ResNeXtCore"]),
        // File formats: JSON, safetensors (and later .t7, .pth, ONNX); atomic file writes.
        .target(name: "ResNeXtIO", dependencies: ["ResNeXtCore"]),
        // ResNeXt/ResNet specifications, builders, presets, parameter and FLOP counting.
        .target(name: "ResNeXtModels", dependencies: ["ResNeXtCore", "ResNeXtNN", "ResNeXtIO"]),
        .executableTarget(
            name: "resnext",
            dependencies: [
                "ResNeXtCore", "ResNeXtCPU", "ResNeXtNN", "ResNeXtIO", "ResNeXtModels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "ResNeXtReferenceTests", dependencies: ["ResNeXtReference"]),
        .testTarget(name: "ResNeXtCPUTests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtReference"]),
        .testTarget(name: "ResNeXtNNTests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtNN", "ResNeXtReference"]),
        .testTarget(name: "ResNeXtIOTests", dependencies: ["ResNeXtCore", "ResNeXtIO"]),
        .testTarget(name: "ResNeXtModelsTests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtNN", "ResNeXtIO", "ResNeXtModels"],
                    exclude: ["Fixtures"]),
        // End-to-end runs of the built `resnext` executable.
        .testTarget(name: "ResNeXtCLITests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtIO", "ResNeXtModels"]),
    ],
    swiftLanguageModes: [.v6]
)
