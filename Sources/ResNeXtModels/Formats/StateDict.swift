import ResNeXtCore
import ResNeXtIO
import ResNeXtNN

/// Keys a `load` ignored or could not fill.
public struct StateDictReport: Sendable, Equatable {
    /// Model tensors the file does not have.
    public var missing: [String]
    /// File tensors the model does not have.
    public var unexpected: [String]

    public init(missing: [String], unexpected: [String]) {
        self.missing = missing
        self.unexpected = unexpected
    }
}

extension Layer {
    /// Every parameter and buffer as host float32 data under its torchvision name, in definition order.
    public func stateDict(on backend: any Backend) throws -> [(name: String, tensor: StoredTensor)] {
        try namedTensors().map { name, p in
            (name, StoredTensor(shape: p.value.shape.dims, floats: try backend.download(p.value)))
        }
    }

    /// Copies tensors into this layer's parameters and buffers by name. Shapes must match exactly;
    /// torchvision's `num_batches_tracked` counters are ignored. With `strict`, a missing or unexpected
    /// key is an error that lists them (as `torch.nn.Module.load_state_dict`).
    @discardableResult
    public func loadStateDict(
        _ tensors: [(name: String, tensor: StoredTensor)], on backend: any Backend, strict: Bool = true,
        source: String = "state dict"
    ) throws -> StateDictReport {
        var byName = [String: StoredTensor]()
        for (name, t) in tensors where !name.hasSuffix("num_batches_tracked") { byName[name] = t }
        let own = namedTensors()
        let ownNames = Set(own.map(\.name))
        let report = StateDictReport(
            missing: own.map(\.name).filter { byName[$0] == nil },
            unexpected: tensors.map(\.name).filter { !ownNames.contains($0) && !$0.hasSuffix("num_batches_tracked") })
        if strict, !report.missing.isEmpty || !report.unexpected.isEmpty {
            func list(_ keys: [String]) -> String {
                keys.prefix(8).joined(separator: ", ") + (keys.count > 8 ? ", … (\(keys.count) in all)" : "")
            }
            var parts = [String]()
            if !report.missing.isEmpty { parts.append("missing keys: \(list(report.missing))") }
            if !report.unexpected.isEmpty { parts.append("unexpected keys: \(list(report.unexpected))") }
            throw ResNeXtError.shapeMismatch("\(source) does not match the model: " + parts.joined(separator: "; "))
        }
        let mismatched = own.compactMap { name, p -> String? in
            guard let t = byName[name], t.shape != p.value.shape.dims else { return nil }
            return "\(name) is \(t.shape) in \(source) but \(p.value.shape.dims) in the model"
        }
        if !mismatched.isEmpty {
            throw ResNeXtError.shapeMismatch(mismatched.prefix(8).joined(separator: "; "))
        }
        for (name, p) in own {
            guard let t = byName[name] else { continue }
            p.value = try backend.upload(t.floats(), shape: p.value.shape)
        }
        return report
    }

    /// Loads a safetensors file of torchvision-named tensors.
    @discardableResult
    public func loadSafetensors(_ path: String, on backend: any Backend, strict: Bool = true) throws -> StateDictReport {
        try loadStateDict(SafetensorsFile.read(path).tensors, on: backend, strict: strict, source: path)
    }

    /// Writes every parameter and buffer to a safetensors file (atomically).
    public func saveSafetensors(_ path: String, on backend: any Backend, metadata: [(key: String, value: String)] = []) throws {
        try SafetensorsFile(tensors: try stateDict(on: backend), metadata: metadata).write(to: path)
    }
}
