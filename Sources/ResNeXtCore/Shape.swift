/// The logical shape of a tensor. Image tensors are always NCHW logically, whatever layout a backend
/// stores them in.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public let dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(arrayLiteral elements: Int...) { self.dims = elements }

    public var rank: Int { dims.count }
    public var elementCount: Int { dims.reduce(1, *) }
    public subscript(axis: Int) -> Int { dims[axis] }
    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }

    /// Throws unless every dimension is non-negative.
    public func validated(_ what: @autoclosure () -> String = "tensor") throws -> Shape {
        if let bad = dims.first(where: { $0 < 0 }) {
            throw ResNeXtError.invalidArgument("\(what()) shape \(self) has a negative size \(bad)")
        }
        return self
    }

    /// Throws unless the shape has the given rank.
    public func requireRank(_ rank: Int, _ what: @autoclosure () -> String) throws {
        guard dims.count == rank else {
            throw ResNeXtError.shapeMismatch("\(what()) must have rank \(rank), got shape \(self)")
        }
    }

    /// Throws unless the shape is `expected`.
    public func requireEqual(_ expected: Shape, _ what: @autoclosure () -> String) throws {
        guard self == expected else {
            throw ResNeXtError.shapeMismatch("\(what()) has shape \(self), expected \(expected)")
        }
    }
}
