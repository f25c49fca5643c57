/// Every error the library throws. Messages name the operation, tensor, file or flag at fault.
public enum ResNeXtError: Error, Equatable, CustomStringConvertible {
    /// Tensor shapes that do not fit together.
    case shapeMismatch(String)
    /// A bad value for a size, flag or parameter.
    case invalidArgument(String)
    /// A tensor on a device the backend does not own.
    case wrongDevice(String)
    /// A failure reported by an underlying library (oneDNN, CUDA, ...), naming the call.
    case backend(String)
    /// A feature that this build or backend does not provide.
    case unsupported(String)
    /// A file that cannot be read or written, naming the file.
    case io(String)

    public var description: String {
        switch self {
        case .shapeMismatch(let m): "shape mismatch: \(m)"
        case .invalidArgument(let m): "invalid argument: \(m)"
        case .wrongDevice(let m): "wrong device: \(m)"
        case .backend(let m): "backend error: \(m)"
        case .unsupported(let m): "unsupported: \(m)"
        case .io(let m): "I/O error: \(m)"
        }
    }
}
