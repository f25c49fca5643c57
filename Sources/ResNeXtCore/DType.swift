/// Element types. Float32 is what every backend computes in today; the reduced-precision types are
/// declared so that formats and kernels have a name for them, and are rejected where unsupported.
public enum DType: String, Sendable, Hashable, CaseIterable {
    case float32, bfloat16, float16
    /// Opaque bytes (a backend's workspace, e.g. max-pool indices).
    case uint8

    public var byteSize: Int {
        switch self {
        case .float32: 4
        case .bfloat16, .float16: 2
        case .uint8: 1
        }
    }
}
