import ArgumentParser
import ResNeXtCPU
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels

/// Runs a model in eval mode on an input tensor and writes the logits, for checks against other frameworks.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Load weights (safetensors, torchvision names) and an input tensor, write the eval-mode logits (safetensors).")

    @OptionGroup var model: ModelOptions
    @Option(help: "Weights file (safetensors with torchvision state_dict names).") var weights: String
    @Option(help: "Input file (safetensors) holding an [N, C, H, W] tensor.") var input: String
    @Option(help: "Name of the input tensor in the file (default: 'input', or the file's only tensor).") var inputName: String?
    @Option(help: "Output file (safetensors) for the logits, stored as 'logits'.") var output: String
    @Option(help: "CPU threads (default: all cores).") var threads: Int?

    func run() throws {
        let config = try model.configuration()
        let backend = try CPUBackend(threads: threads)
        // Read both files before building the model, so that a bad path fails at once.
        let state = try SafetensorsFile.read(weights)
        let file = try SafetensorsFile.read(input)
        let net = try ResNeXtModel(config, on: backend)
        try net.loadStateDict(state.tensors, on: backend, source: weights)
        let stored: StoredTensor
        if let inputName {
            guard let t = file[inputName] else { throw ValidationError("\(input) has no tensor named '\(inputName)'") }
            stored = t
        } else if let t = file["input"] ?? (file.tensors.count == 1 ? file.tensors[0].tensor : nil) {
            stored = t
        } else {
            throw ValidationError("\(input) has several tensors and none named 'input'; choose one with --input-name")
        }
        guard stored.shape.count == 4, stored.shape[1] == config.inputChannels else {
            throw ValidationError("input tensor in \(input) has shape \(stored.shape); expected [N, \(config.inputChannels), H, W]")
        }
        net.setTraining(false)
        let logits = try net.forward(try backend.upload(stored.floats(), shape: Shape(stored.shape)))
        try SafetensorsFile(tensors: [("logits", StoredTensor(shape: logits.shape.dims, floats: try backend.download(logits)))]).write(
            to: output)
        print("wrote logits \(logits.shape) to \(output)")
    }
}
