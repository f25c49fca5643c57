import ArgumentParser
import ResNeXtCPU
import ResNeXtCore
import ResNeXtData
import ResNeXtIO
import ResNeXtModels

/// The original's pretrained/extract-features.lua: penultimate-layer features of each image.
struct ExtractFeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract-features",
        abstract: "Write the pooled features (2048-d for bottleneck nets) of images or of every image in a folder.")

    @OptionGroup var options: ModelFileOptions
    @Argument(help: "Image files, or one folder (searched recursively, sorted).") var inputs: [String]
    @Option(help: "Output safetensors file: 'features' [N, F]; the image list in its metadata.") var output = "features.safetensors"
    @Option(help: "Also write a NumPy .npy of the features (and a .txt image list beside it).") var npy: String?

    func run() throws {
        guard !inputs.isEmpty else { throw ValidationError("give images or a folder") }
        var paths = inputs
        if inputs.count == 1, FileIO.isDirectory(inputs[0]) { paths = try ImageFolderDataset.listImages(under: inputs[0]) }
        let backend = try options.backend()
        let model = try ResNeXtModel.load(options.model, configuration: try options.configuration(), on: backend)
        model.setTraining(false)
        var features = [Float]()
        var done = [String]()
        var width = 0
        for (batchPaths, input) in try options.batches(paths, backend: backend) {
            let f = try model.features.forward(try backend.optimizedLayout(input))
            width = f.shape[1]
            features += try backend.download(f)
            done += batchPaths
        }
        guard !done.isEmpty else { throw ValidationError("no readable images") }
        let list = JSONValue.array(done.map { .string($0) }).serialized()
        try SafetensorsFile(
            tensors: [("features", StoredTensor(shape: [done.count, width], floats: features))],
            metadata: [("image_list", list)]
        ).write(to: output)
        if let npy {
            try FileIO.writeAtomically(NumPy.float32Array(features, shape: [done.count, width]), to: npy)
            try FileIO.writeAtomically(Array((done.joined(separator: "\n") + "\n").utf8), to: npy + ".txt")
        }
        print("wrote \(done.count)×\(width) features to \(output)" + (npy.map { " and \($0)" } ?? ""))
    }
}

/// NumPy's .npy format (version 1.0), little-endian float32, C order.
enum NumPy {
    static func float32Array(_ values: [Float], shape: [Int]) -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        bytes += [UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8)
        values.withUnsafeBytes { bytes += $0 }
        return bytes
    }
}
