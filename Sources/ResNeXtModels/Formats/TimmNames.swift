import ResNeXtCore
import ResNeXtIO
import ResNeXtNN

/// State-dict names of other model zoos, mapped to the torchvision names these models use.
///
/// timm's plain ResNet/ResNeXt models (`resnet18`…`resnet152`, `resnext50_32x4d`, `resnext101_32x8d`, …)
/// use exactly torchvision's names, in the same order and with the same shapes: `conv1`, `bn1`,
/// `layerN.M.conv1…conv3`, `layerN.M.bn1…bn3`, `layerN.M.downsample.0` (1×1 convolution) and
/// `layerN.M.downsample.1` (batch norm), `fc` (checked against timm 1.0.31 and torchvision 0.29 for
/// resnet18, resnet50 and resnext50_32x4d). timm's deep-stem and average-down variants (`resnet50d`,
/// `resnext50d_32x4d`, `resnet26t`, …: `conv1.0/1/3/4/6`, `downsample.1/2` after an average pool) have a
/// different architecture, not different names, and are left unchanged (loading them reports the
/// mismatched keys).
public enum WeightNames {
    /// The torchvision name for a name in a timm checkpoint: the same name, without the `module.` prefix
    /// that `DataParallel`/`DistributedDataParallel` training adds (timm's own `clean_checkpoint` strips it too).
    public static func torchvisionName(fromTimm name: String) -> String {
        name.hasPrefix("module.") ? String(name.dropFirst("module.".count)) : name
    }
}

extension Layer {
    /// Loads a PyTorch `.pth`/`.pt` state dict (torchvision or timm names) with the restricted reader
    /// `PyTorchCheckpoint.read` (nothing in the file is executed), mapping timm names with
    /// `WeightNames.torchvisionName(fromTimm:)`, then `loadStateDict(_:on:strict:source:)`.
    /// - Throws: `ResNeXtError.io` for unreadable or refused files, `ResNeXtError.shapeMismatch` as
    ///   `loadStateDict` (and for two file names that map to the same model name).
    @discardableResult
    public func loadPyTorch(_ path: String, on backend: any Backend, strict: Bool = true) throws -> StateDictReport {
        let tensors = try PyTorchCheckpoint.read(path)
        var seen = Set<String>()
        var mapped: [(name: String, tensor: StoredTensor)] = []
        mapped.reserveCapacity(tensors.count)
        for (name, tensor) in tensors {
            let target = WeightNames.torchvisionName(fromTimm: name)
            guard seen.insert(target).inserted else {
                throw ResNeXtError.shapeMismatch("\(path): \"\(name)\" and another tensor both map to \"\(target)\"")
            }
            mapped.append((target, tensor))
        }
        return try loadStateDict(mapped, on: backend, strict: strict, source: path)
    }
}
