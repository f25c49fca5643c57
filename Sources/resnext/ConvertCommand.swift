import ArgumentParser
import ResNeXtCPU
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels

/// Converts model files between the original's Torch7 `.t7`, PyTorch `.pth` and safetensors.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a model between .t7 (the original's), .pth/.pt (read only) and .safetensors (ours, torchvision names).")

    @Argument(help: "Input model file (.t7, .pth, .pt or .safetensors).") var input: String
    @Argument(help: "Output model file (.safetensors or .t7).") var output: String
    @OptionGroup var architecture: ModelOptions

    func run() throws {
        let backend = try CPUBackend()
        let given = architecture.arch != nil || architecture.depth != nil ? try architecture.configuration() : nil
        let model = try ResNeXtModel.load(input, configuration: given, on: backend)
        let lower = output.lowercased()
        if lower.hasSuffix(".safetensors") {
            try model.saveSafetensors(
                output, on: backend,
                metadata: [
                    ("format", "resnext-swift/1"),
                    ("configuration", model.configuration.json.serialized())
                ])
        } else if lower.hasSuffix(".t7") {
            try model.saveTorch7(output, on: backend)
        } else {
            throw ValidationError("\(output): the output must end in .safetensors or .t7 (writing .pth is not supported)")
        }
        print("\(input) → \(output): \(model.configuration), \(NumberFormat.thousands(model.parameterCount)) parameters")
    }
}
