import ArgumentParser
import ResNeXtCPU
import ResNeXtCore
import ResNeXtModels
import ResNeXtONNX

/// Writes a model as an ONNX inference graph (onnxruntime, TensorRT, …).
struct ExportONNXCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-onnx",
        abstract:
            "Export a model (.safetensors, .pth/.pt or .t7) as an ONNX inference graph: input 'input' [batch, C, H, W], output 'logits'.")

    @Argument(help: "Input model file (.safetensors, .pth, .pt or .t7).") var input: String
    @Argument(help: "Output ONNX file (.onnx).") var output: String
    @Option(help: "ONNX opset of the default domain (\(ONNXExport.supportedOpsets.lowerBound)–\(ONNXExport.supportedOpsets.upperBound)).")
    var opset: Int = 17
    @OptionGroup var architecture: ModelOptions

    func validate() throws {
        guard ONNXExport.supportedOpsets.contains(opset) else {
            throw ValidationError(
                "--opset must be \(ONNXExport.supportedOpsets.lowerBound)–\(ONNXExport.supportedOpsets.upperBound), got \(opset)")
        }
    }

    func run() throws {
        let backend = try CPUBackend()
        let given = architecture.arch != nil || architecture.depth != nil ? try architecture.configuration() : nil
        let model = try ResNeXtModel.load(input, configuration: given, on: backend)
        try ONNXExport.write(model, on: backend, opset: opset, to: output)
        print(
            "\(input) → \(output): \(model.configuration), \(NumberFormat.thousands(model.parameterCount)) parameters, ONNX opset "
                + "\(opset) (IR version \(ONNXExport.irVersion(opset: opset)))"
        )
    }
}
