/// Where a tensor's memory lives.
public enum Device: Hashable, Sendable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let index): "cuda:\(index)"
        }
    }

    /// Parses `cpu`, `cuda` (device 0) or `cuda:N`.
    public init(parsing text: String) throws {
        let lower = text.lowercased()
        if lower == "cpu" {
            self = .cpu
        } else if lower == "cuda" || lower == "gpu" {
            self = .cuda(0)
        } else if lower.hasPrefix("cuda:"), let index = Int(lower.dropFirst(5)), index >= 0 {
            self = .cuda(index)
        } else {
            throw ResNeXtError.invalidArgument("unknown device '\(text)' (expected cpu, cuda or cuda:N)")
        }
    }
}
