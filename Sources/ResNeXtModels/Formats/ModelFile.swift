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
    /// torchvision-named weights with `configuration` given), a PyTorch `.pth`/`.pt` state dict
    /// (torchvision or timm names; read without executing anything; needs `configuration`), or one of the
    /// original's Torch7 `.t7` models (architecture inferred from the module tree, or checked against
    /// `configuration`; no GPU or Lua needed). Shapes must match exactly.
    public static func load(_ path: String, configuration: ModelConfiguration?, on backend: any Backend) throws -> ResNeXtModel {
        let lower = path.lowercased()
        if lower.hasSuffix(".t7") {
            guard let configuration else { return try importTorch7(path, on: backend) }
            let model = try ResNeXtModel(configuration, on: backend)
            try model.loadTorch7(path, on: backend)
            return model
        }
        if lower.hasSuffix(".pth") || lower.hasSuffix(".pt") {
            guard let configuration else {
                throw ResNeXtError.invalidArgument(
                    "\(path): PyTorch state dicts do not record their architecture: give --arch NAME or the original's flags")
            }
            let model = try ResNeXtModel(configuration, on: backend)
            try model.loadPyTorch(path, on: backend)
            return model
        }
        guard lower.hasSuffix(".safetensors") else {
            throw ResNeXtError.unsupported("\(path): model files are .safetensors, .pth/.pt or .t7 (by extension)")
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
