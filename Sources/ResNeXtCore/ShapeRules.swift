/// Shape checks and output shapes that every backend applies identically (through ``Operands``), so all
/// give the same errors for the same bad call (convolution and pooling geometry live on their parameter
/// types).
public enum ShapeRules {
    /// The shape `count` uploaded values fill.
    public static func upload(count: Int, shape: Shape) throws -> Shape {
        let shape = try shape.validated()
        guard count == shape.elementCount else {
            throw ResNeXtError.shapeMismatch("\(count) values do not fill shape \(shape) (\(shape.elementCount) elements)")
        }
        return shape
    }

    /// `shape`, checked to hold the elements of a tensor of shape `from`.
    public static func reshape(_ from: Shape, to shape: Shape) throws -> Shape {
        let shape = try shape.validated()
        guard shape.elementCount == from.elementCount else {
            throw ResNeXtError.shapeMismatch("cannot reshape \(from) (\(from.elementCount) elements) to \(shape)")
        }
        return shape
    }

    /// The channels of a batch-normalization input, `[N, C, H, W]` or `[N, C]`.
    public static func batchNormChannels(_ input: Shape) throws -> Int {
        guard input.rank == 4 || input.rank == 2 else {
            throw ResNeXtError.shapeMismatch("batch normalization input must be [N, C, H, W] or [N, C], got \(input)")
        }
        return input[1]
    }

    /// `[N, K] · [O, K]ᵀ` → `[N, O]`.
    public static func linear(input: Shape, weight: Shape) throws -> Shape {
        try input.requireRank(2, "linear input")
        try weight.requireRank(2, "linear weight")
        guard input[1] == weight[1] else {
            throw ResNeXtError.shapeMismatch("linear weight \(weight) expects \(weight[1]) input features, input \(input) has \(input[1])")
        }
        return [input[0], weight[0]]
    }

    /// The input shape whose gradient a linear layer's backward-data produces.
    public static func linearBackwardData(outputGradient: Shape, weight: Shape) throws -> Shape {
        try outputGradient.requireRank(2, "linear output gradient")
        try weight.requireRank(2, "linear weight")
        guard outputGradient[1] == weight[0] else {
            throw ResNeXtError.shapeMismatch("linear output gradient \(outputGradient) does not match weight \(weight)")
        }
        return [outputGradient[0], weight[1]]
    }

    /// The weight shape whose gradient a linear layer's backward-weights produces.
    public static func linearBackwardWeights(outputGradient: Shape, input: Shape) throws -> Shape {
        try outputGradient.requireRank(2, "linear output gradient")
        try input.requireRank(2, "linear input")
        guard outputGradient[0] == input[0] else {
            throw ResNeXtError.shapeMismatch("linear output gradient \(outputGradient) and input \(input) differ in batch size")
        }
        return [outputGradient[1], input[1]]
    }

    /// The shape of `[N, Cᵢ, H, W]` tensors concatenated along channels.
    public static func concatenateChannels(_ shapes: [Shape]) throws -> Shape {
        guard let first = shapes.first else { throw ResNeXtError.invalidArgument("concatenation of no tensors") }
        for (i, s) in shapes.enumerated() {
            try s.requireRank(4, "concatenated tensor \(i)")
            guard s[0] == first[0], s[2] == first[2], s[3] == first[3] else {
                throw ResNeXtError.shapeMismatch(
                    "concatenated tensor \(i) has shape \(s), which differs from \(first) outside the channels")
            }
        }
        return [first[0], shapes.reduce(0) { $0 + $1[1] }, first[2], first[3]]
    }

    /// Checks that `sizes` split the channels of `[N, C, H, W]`.
    public static func splitChannels(_ shape: Shape, sizes: [Int]) throws {
        try shape.requireRank(4, "split tensor")
        guard sizes.allSatisfy({ $0 > 0 }), sizes.reduce(0, +) == shape[1] else {
            throw ResNeXtError.invalidArgument("split sizes \(sizes) must be positive and sum to the \(shape[1]) channels of \(shape)")
        }
    }

    /// Checks 0-based labels against `[rows, classes]` logits; returns (rows, classes).
    public static func labels(_ logits: Shape, _ labels: [Int32]) throws -> (rows: Int, classes: Int) {
        try logits.requireRank(2, "logits")
        let (rows, classes) = (logits[0], logits[1])
        guard labels.count == rows else {
            throw ResNeXtError.shapeMismatch("\(labels.count) labels for \(rows) rows of logits")
        }
        if let bad = labels.first(where: { $0 < 0 || Int($0) >= classes }) {
            throw ResNeXtError.invalidArgument("label \(bad) is out of range for \(classes) classes")
        }
        return (rows, classes)
    }
}
