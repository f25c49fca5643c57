import ResNeXtCore
import ResNeXtIO

extension ModelConfiguration {
    /// The configuration a resnext-swift weights file records in its metadata, if any (torchvision and
    /// timm files have none).
    public static func recorded(in file: SafetensorsFile, source: String) throws -> ModelConfiguration? {
        guard let text = file.metadata.first(where: { $0.key == "configuration" })?.value else { return nil }
        return try ModelConfiguration(json: try JSONValue.parse(Array(text.utf8), source: source), source: source)
    }
}

extension ResNeXtModel {
    /// Loads a model file by its extension: `.safetensors` (ours, which records its configuration, or
    /// torchvision-named weights with `configuration` given). Shapes must match exactly.
    public static func load(_ path: String, configuration: ModelConfiguration?, on backend: any Backend) throws -> ResNeXtModel {
        let lower = path.lowercased()
        guard lower.hasSuffix(".safetensors") else {
            throw ResNeXtError.unsupported("\(path): model files are read from .safetensors (use `resnext convert` for other formats)")
        }
        let file = try SafetensorsFile.read(path)
        guard let config = try configuration ?? ModelConfiguration.recorded(in: file, source: path) else {
            throw ResNeXtError.invalidArgument("\(path) does not record its architecture: give --arch NAME or the original's flags")
        }
        let model = try ResNeXtModel(config, on: backend)
        try model.loadStateDict(file.tensors, on: backend, source: path)
        return model
    }
}
