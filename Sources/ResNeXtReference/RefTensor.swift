/// A dense row-major float64 array with a shape; the reference implementation's tensor.
public struct RefTensor: Equatable, Sendable {
    /// The extent of each dimension, outermost first.
    public var shape: [Int]
    /// The elements in row-major order; `data.count` equals the product of `shape`.
    public var data: [Double]

    /// Creates a tensor from a shape and row-major elements; the element count must match the shape.
    public init(shape: [Int], data: [Double]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "RefTensor: negative dimension in \(shape)")
        let n = shape.reduce(1, *)
        precondition(data.count == n, "RefTensor: \(data.count) elements for shape \(shape) (needs \(n))")
        self.shape = shape
        self.data = data
    }

    /// Creates a tensor of the given shape filled with zeros.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "RefTensor: negative dimension in \(shape)")
        self.shape = shape
        self.data = [Double](repeating: 0, count: shape.reduce(1, *))
    }

    /// Creates a tensor from float32 elements, widening each to float64 exactly.
    public init(shape: [Int], floats: [Float]) {
        self.init(shape: shape, data: floats.map { Double($0) })
    }

    /// The elements rounded to float32.
    public var floats: [Float] { data.map { Float($0) } }

    /// The number of elements.
    public var count: Int { data.count }
}

/// Naive float64 implementations of every neural-network operation, used as the test oracle.
///
/// Shape errors are programming errors in tests and stop with `precondition`.
public enum Reference {}

extension Reference {
    /// The dimensions of an `[N, C, H, W]` tensor, or of an `[N, C]` tensor read as `[N, C, 1, 1]`.
    static func nchw(_ t: RefTensor, _ what: String) -> (n: Int, c: Int, h: Int, w: Int) {
        switch t.shape.count {
        case 4: return (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        case 2: return (t.shape[0], t.shape[1], 1, 1)
        default: preconditionFailure("\(what): expected rank 2 or 4, got shape \(t.shape)")
        }
    }

    /// The dimensions of a rank-4 `[N, C, H, W]` tensor.
    static func rank4(_ t: RefTensor, _ what: String) -> (n: Int, c: Int, h: Int, w: Int) {
        precondition(t.shape.count == 4, "\(what): expected [N, C, H, W], got shape \(t.shape)")
        return (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
    }

    /// Floor-mode output extent of a sliding window; requires at least one output position.
    static func outputExtent(_ input: Int, kernel: Int, stride: Int, pad: Int, _ what: String) -> Int {
        precondition(
            kernel >= 1 && stride >= 1 && pad >= 0,
            "\(what): kernel \(kernel), stride \(stride), pad \(pad) invalid")
        let span = input + 2 * pad - kernel
        precondition(span >= 0, "\(what): kernel \(kernel) larger than padded input \(input + 2 * pad)")
        return span / stride + 1
    }
}
