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
        .library(name: "ResNeXtTransforms", targets: ["ResNeXtTransforms"]),
        .library(name: "ResNeXtData", targets: ["ResNeXtData"]),
        .library(name: "ResNeXtTraining", targets: ["ResNeXtTraining"]),
        .library(name: "ResNeXtCUDA", targets: ["ResNeXtCUDA"]),
        .library(name: "ResNeXtConformance", targets: ["ResNeXtConformance"]),
        .library(name: "ResNeXtDistributed", targets: ["ResNeXtDistributed"]),
        .executable(name: "resnext", targets: ["resnext"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // MD5 of downloaded archives (Insecure.MD5); 3.12.3 and 4.x have the same API.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // Runs curl and tar for the CIFAR download. Its own manifest needs tools 6.2 (the toolchain's,
        // not this manifest's, version counts) and macOS 13; swift-system provides its FilePath on Linux.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
    ],
    targets: [
        // System library: oneDNN 2.6 C API (Debian libdnnl-dev).
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        // System library: libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev).
        .systemLibrary(name: "CTurboJPEG", path: "Sources/CTurboJPEG"),
        // Tensors, shapes, devices, the backend protocol, errors, RNG.
        .target(name: "ResNeXtCore"),
        // Naive float64 implementation of every backend operation, and as a Backend: the test oracle.
        .target(name: "ResNeXtReference", dependencies: ["ResNeXtCore"]),
        // The CPU backend on oneDNN.
        .target(name: "ResNeXtCPU", dependencies: ["ResNeXtCore", "CDNNL"]),
        // Layers with explicit forward/backward, SGD, the training and evaluation steps.
        .target(name: "ResNeXtNN", dependencies: ["ResNeXtCore"]),
        // File formats: JSON, safetensors, .t7, .pth (own zip reader and restricted unpickler); FileIO, the one
        // file-system layer (reads, atomic writes, appends, paths, directories).
        // JSON.swift and ZipArchive.swift say why Foundation's JSON and ZIPFoundation are not used.
        .target(name: "ResNeXtIO", dependencies: ["ResNeXtCore"]),
        // ResNeXt/ResNet specifications (the plain block, then fb.resnet.torch's variants), the spec walker (torchvision
        // names), builders, presets, parameter and FLOP counting; Formats/: state dicts, safetensors/.pth/.t7 model files,
        // timm names, the original's Torch7 models (import, architecture inference, export).
        .target(name: "ResNeXtModels", dependencies: ["ResNeXtCore", "ResNeXtNN", "ResNeXtIO"]),
        // The NVIDIA GPU backend: CUDA driver, NVRTC, cuDNN and cuBLAS loaded at run time (nothing CUDA at build time).
        .target(name: "ResNeXtCUDA", dependencies: ["ResNeXtCore"]),
        // Image transforms exactly as the original (CIFAR and ImageNet augmentation, bicubic resize, crops).
        .target(name: "ResNeXtTransforms", dependencies: ["ResNeXtCore"]),
        // Data sets (CIFAR, MNIST IDX, image folders with JPEG), ImageNet class names, the threaded batch loader;
        // Download/: the CIFAR download (curl and tar through swift-subprocess, MD5 through swift-crypto).
        .target(name: "ResNeXtData", dependencies: ["ResNeXtCore", "ResNeXtIO", "ResNeXtTransforms", "CTurboJPEG",
                                                    .product(name: "Crypto", package: "swift-crypto"),
                                                    .product(name: "Subprocess", package: "swift-subprocess"),
                                                    .product(name: "SystemPackage", package: "swift-system",
                                                             condition: .when(platforms: [.linux]))]),
        // The training loop: the original's options, schedules, metrics, checkpoints and resume.
        .target(name: "ResNeXtTraining", dependencies: ["ResNeXtCore", "ResNeXtNN", "ResNeXtIO", "ResNeXtModels", "ResNeXtData", "ResNeXtTransforms",
                                                        .product(name: "Crypto", package: "swift-crypto")]),
        // ONNX export (opset 17) through swift-protobuf; onnx.pb.swift is generated from onnx/onnx.proto and committed.
        .target(name: "ResNeXtONNX", dependencies: ["ResNeXtCore", "ResNeXtNN", "ResNeXtIO", "ResNeXtModels",
                                                    .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // Backend conformance: every operation against a trusted backend, and a short training run
        // (CPU vs the float64 reference in the tests; CUDA vs CPU in `resnext selftest` and the fake-GPU tests).
        .target(name: "ResNeXtConformance", dependencies: ["ResNeXtCore", "ResNeXtNN", "ResNeXtModels"]),
        // Data parallelism across processes: Open MPI loaded at run time (collectives for GradientBuckets and the trainer).
        .target(name: "ResNeXtDistributed", dependencies: ["ResNeXtCore", "ResNeXtNN"]),
        .executableTarget(
            name: "resnext",
            dependencies: [
                "ResNeXtCore", "ResNeXtCPU", "ResNeXtNN", "ResNeXtIO", "ResNeXtModels", "ResNeXtData", "ResNeXtTraining", "ResNeXtCUDA", "ResNeXtONNX",
                "ResNeXtConformance", "ResNeXtReference", "ResNeXtDistributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // ResNeXtXTests tests ResNeXtX (Core's tests need no backend; the conformance suite runs in ResNeXtCPUTests).
        .testTarget(name: "ResNeXtCoreTests", dependencies: ["ResNeXtCore"]),
        // libFuzzer harness for the parsers (scripts/fuzz.sh builds it with -DFUZZING and the sanitizers).
        .executableTarget(name: "resnext-fuzz", dependencies: ["ResNeXtIO", "ResNeXtModels", "ResNeXtData"]),
        .testTarget(name: "ResNeXtReferenceTests", dependencies: ["ResNeXtReference"]),
        .testTarget(name: "ResNeXtCPUTests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtReference"]),
        .testTarget(name: "ResNeXtConformanceTests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtReference", "ResNeXtConformance"]),
        .testTarget(name: "ResNeXtNNTests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtNN", "ResNeXtReference"]),
        .testTarget(name: "ResNeXtIOTests", dependencies: ["ResNeXtCore", "ResNeXtIO"]),
        .testTarget(name: "ResNeXtModelsTests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtNN", "ResNeXtIO", "ResNeXtModels",
                                                              "ResNeXtData", "ResNeXtTransforms"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ResNeXtTransformsTests", dependencies: ["ResNeXtCore", "ResNeXtTransforms"], exclude: ["Fixtures"]),
        .testTarget(name: "ResNeXtDataTests", dependencies: ["ResNeXtCore", "ResNeXtIO", "ResNeXtTransforms", "ResNeXtData"]),
        .testTarget(name: "ResNeXtTrainingTests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtIO", "ResNeXtModels", "ResNeXtTraining"]),
        .testTarget(name: "ResNeXtONNXTests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtModels", "ResNeXtONNX"]),
        .testTarget(name: "ResNeXtCUDATests", dependencies: ["ResNeXtCore", "ResNeXtCUDA", "ResNeXtCPU", "ResNeXtReference", "ResNeXtNN", "ResNeXtConformance"]),
        // End-to-end runs of the built `resnext` executable.
        .testTarget(name: "ResNeXtCLITests", dependencies: ["ResNeXtCore", "ResNeXtCPU", "ResNeXtIO", "ResNeXtModels"]),
    ],
    swiftLanguageModes: [.v6]
)
