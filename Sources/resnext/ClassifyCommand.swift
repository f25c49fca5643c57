import ArgumentParser
import ResNeXtCPU
import ResNeXtCore
import ResNeXtData
import ResNeXtIO
import ResNeXtModels
import ResNeXtTransforms

/// Model-file options shared by classify and extract-features.
struct ModelFileOptions: ParsableArguments {
    @Argument(
        help: "Model file: .safetensors (resnext-swift checkpoints record their architecture; torchvision-named weights need --arch).")
    var model: String
    @OptionGroup var architecture: ModelOptions
    @Option(help: "Images per forward pass.") var batchSize = 32
    @Option(help: "CPU compute threads (default: all cores).") var threads: Int?
    @Option(help: "cpu, cuda, cuda:N or auto (CUDA when a GPU runtime loads, else cpu).") var device = "auto"

    /// The backend `--device` asks for; notes go to standard error.
    func backend() throws -> any Backend {
        var notices = [String]()
        let backend = try makeBackend(device: device, threads: threads, notices: &notices)
        for notice in notices { FileIO.writeToStandardError("note: " + notice) }
        return backend
    }

    /// The architecture given on the command line, if any.
    func configuration() throws -> ModelConfiguration? {
        architecture.arch != nil || architecture.depth != nil ? try architecture.configuration() : nil
    }

    /// Decodes and preprocesses images as the original's scripts (Scale 256 bicubic, normalize, center
    /// crop 224) in batches; unreadable images are reported and skipped.
    func batches(_ paths: [String], backend: any Backend) throws -> [(paths: [String], input: Tensor)] {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1") }
        var result = [(paths: [String], input: Tensor)]()
        var pending = [(String, Image)]()
        func flush() throws {
            guard !pending.isEmpty else { return }
            let values = pending.flatMap { $0.1.pixels }
            let input = try backend.upload(values, shape: [pending.count, 3, 224, 224])
            result.append((pending.map(\.0), input))
            pending.removeAll()
        }
        for path in paths {
            do {
                let bytes = try FileIO.readAll(path)
                let image =
                    try ImageDecoder.decodePacked(bytes, source: path).map { Transforms.imagenetEval($0) }
                    ?? Transforms.imagenetEval(try ImageDecoder.decode(bytes, source: path))
                pending.append((path, image))
            } catch {
                FileIO.writeToStandardError("skipping \(path): \(error)")
            }
            if pending.count == batchSize { try flush() }
        }
        try flush()
        return result
    }
}

/// The original's pretrained/classify.lua: top-5 ImageNet classes with probabilities for each image.
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Print the top classes and probabilities of each image (Scale 256, center crop 224, softmax), as classify.lua.")

    @OptionGroup var options: ModelFileOptions
    @Argument(help: "Image files (JPEG, PPM).") var images: [String]
    @Option(help: "How many classes to print per image.") var top = 5

    func run() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image") }
        let backend = try options.backend()
        let model = try ResNeXtModel.load(options.model, configuration: try options.configuration(), on: backend)
        model.setTraining(false)
        let classes = model.configuration.classes
        let names = classes == ImageNetClasses.names.count ? ImageNetClasses.names : (0..<classes).map { "class \($0)" }
        let batches = try options.batches(images, backend: backend)
        guard !batches.isEmpty else { throw ValidationError("no readable images") }
        for (paths, input) in batches {
            let logits = try backend.download(try model.forward(try backend.optimizedLayout(input)))
            for (row, path) in paths.enumerated() {
                let probabilities = softmax(Array(logits[row * classes..<(row + 1) * classes]))
                print("\(path):")
                for index in probabilities.indices.sorted(by: { probabilities[$0] > probabilities[$1] }).prefix(top) {
                    print("  \(NumberFormat.fixed(Double(probabilities[index]), 5))  \(names[index])")
                }
            }
        }
    }
}

func softmax(_ logits: [Float]) -> [Float] {
    let m = logits.max() ?? 0
    let e = logits.map { Double($0 - m) }.map { _exp($0) }
    let sum = e.reduce(0, +)
    return e.map { Float($0 / sum) }
}
