import Foundation
import ResNeXtCore
import ResNeXtIO
import ResNeXtModels
import ResNeXtNN
import SwiftProtobuf

/// Exports a model as an ONNX inference graph (the model in evaluation mode: batch norm with its running
/// statistics).
///
/// The graph is read off the model's spec (``ModelConfiguration/spec()``): Conv (no bias), BatchNormalization,
/// Relu, MaxPool, GlobalAveragePool, Flatten, Gemm for the classifier, Add for residuals, Concat for type-B
/// paths, and for type-A shortcuts AveragePool (1×1, stride s) then Pad with zero channels. Initializers
/// carry torchvision's `state_dict` names (`layer1.0.conv1.weight`); the input is `input`
/// `[batch, C, height, width]` with symbolic batch and spatial sizes, the output `logits` `[batch, classes]`.
public enum ONNXExport {
    /// The opsets this exporter writes, with the IR version each needs.
    public static let supportedOpsets: ClosedRange<Int> = 13...21

    /// The IR version that goes with a default-domain opset (ONNX's versioning table).
    public static func irVersion(opset: Int) -> Int {
        switch opset {
        case ...14: 7
        case 15...18: 8
        case 19...20: 9
        default: 10
        }
    }

    /// The serialized `ModelProto`.
    public static func export(_ model: ResNeXtModel, on backend: any Backend, opset: Int = 17) throws -> [UInt8] {
        try modelProto(model, on: backend, opset: opset).serializedBytes()
    }

    /// Writes the serialized `ModelProto` to `path` (atomically).
    public static func write(_ model: ResNeXtModel, on backend: any Backend, opset: Int = 17, to path: String) throws {
        try FileIO.writeAtomically(try export(model, on: backend, opset: opset), to: path)
    }

    static func modelProto(_ model: ResNeXtModel, on backend: any Backend, opset: Int) throws -> Onnx_ModelProto {
        guard supportedOpsets.contains(opset) else {
            throw ResNeXtError.unsupported(
                "ONNX opset \(opset): the exporter writes opsets \(supportedOpsets.lowerBound)–\(supportedOpsets.upperBound)")
        }
        let configuration = model.configuration
        var builder = GraphBuilder()
        for (name, parameter) in model.namedTensors() {
            builder.weights[name] = (parameter.value.shape.dims, try backend.download(parameter.value))
        }
        let last = try builder.emit(try configuration.spec(), input: "input", channels: configuration.inputChannels, path: "")
        builder.rename(last.value, to: "logits")
        let unused = builder.weights.keys.filter { !builder.used.contains($0) }.sorted()
        guard unused.isEmpty else {
            throw ResNeXtError.shapeMismatch("ONNX export: model tensors not in the graph: \(unused.prefix(8).joined(separator: ", "))")
        }

        var graph = Onnx_GraphProto()
        graph.name = configuration.description
        graph.node = builder.nodes
        graph.initializer = builder.initializers
        graph.input = [
            valueInfo("input", dims: [.symbol("batch"), .fixed(configuration.inputChannels), .symbol("height"), .symbol("width")])
        ]
        graph.output = [valueInfo("logits", dims: [.symbol("batch"), .fixed(configuration.classes)])]

        var proto = Onnx_ModelProto()
        proto.irVersion = Int64(irVersion(opset: opset))
        proto.producerName = "resnext-swift"
        proto.producerVersion = "1"
        proto.docString = "\(configuration.description), exported for inference (batch norm running statistics)"
        var domain = Onnx_OperatorSetIdProto()
        domain.domain = ""
        domain.version = Int64(opset)
        proto.opsetImport = [domain]
        proto.graph = graph
        var config = Onnx_StringStringEntryProto()
        config.key = "configuration"
        config.value = configuration.json.serialized()
        proto.metadataProps = [config]
        return proto
    }

    private enum Dimension {
        case fixed(Int)
        case symbol(String)
    }

    private static func valueInfo(_ name: String, dims: [Dimension]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch d {
            case .fixed(let n): dim.dimValue = Int64(n)
            case .symbol(let s): dim.dimParam = s
            }
            return dim
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }
}

/// The node list and initializers, built by walking a spec.
private struct GraphBuilder {
    /// The model's tensors by torchvision name: shape and host data.
    var weights: [String: (shape: [Int], floats: [Float])] = [:]
    var used: Set<String> = []
    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []
    private var names: Set<String> = ["input", "logits"]

    /// A value name not yet taken, based on `base`.
    mutating func fresh(_ base: String) -> String {
        var name = base.isEmpty ? "value" : base
        var n = 1
        while names.contains(name) {
            n += 1
            name = "\(base)_\(n)"
        }
        names.insert(name)
        return name
    }

    mutating func node(_ op: String, _ inputs: [String], name: String, attributes: [Onnx_AttributeProto] = []) -> String {
        let output = fresh(name)
        var node = Onnx_NodeProto()
        node.opType = op
        node.name = output
        node.input = inputs
        node.output = [output]
        node.attribute = attributes
        nodes.append(node)
        return output
    }

    /// The initializer for the model tensor `name`, checked against the shape the spec expects.
    mutating func weight(_ name: String, shape: [Int]) throws -> String {
        guard let (actual, floats) = weights[name] else {
            throw ResNeXtError.shapeMismatch("ONNX export: the model has no tensor \(name)")
        }
        guard actual == shape else {
            throw ResNeXtError.shapeMismatch("ONNX export: \(name) is \(actual) but the spec needs \(shape)")
        }
        if used.insert(name).inserted {
            names.insert(name)
            var t = Onnx_TensorProto()
            t.name = name
            t.dims = shape.map(Int64.init)
            t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            var bytes = Data(capacity: floats.count * 4)
            for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            t.rawData = bytes
            initializers.append(t)
        }
        return name
    }

    /// An int64 constant initializer (not a model tensor).
    mutating func int64Constant(_ base: String, _ values: [Int]) -> String {
        let name = fresh(base)
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = [Int64(values.count)]
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.int64Data = values.map(Int64.init)
        initializers.append(t)
        return name
    }

    /// Renames a value everywhere it is produced or used.
    mutating func rename(_ old: String, to new: String) {
        for i in nodes.indices {
            nodes[i].input = nodes[i].input.map { $0 == old ? new : $0 }
            nodes[i].output = nodes[i].output.map { $0 == old ? new : $0 }
        }
    }

    private func join(_ path: String, _ name: String) -> String { LayerSpec.join(path, name) }

    /// The initializers of the layer `spec` named `path`, in ``LayerSpec/ownTensors(named:)`` order (convolution
    /// weight and bias; batch-norm scale, bias, mean and variance; Gemm weight and bias, as ONNX orders inputs).
    private mutating func weights(_ spec: LayerSpec, _ path: String) throws -> [String] {
        try spec.ownTensors(named: path).map { try weight($0.name, shape: $0.shape) }
    }

    /// Emits `list` in order, each applied to the previous one's output.
    mutating func emit(_ list: [NamedSpec], input: String, channels: Int) throws -> (value: String, channels: Int) {
        var current = (value: input, channels: channels)
        for (name, child) in list {
            current = try emit(child, input: current.value, channels: current.channels, path: name)
        }
        return current
    }

    /// Emits `spec` applied to the value `input` with `channels` channels; returns the output value and its channels.
    /// Children are named by the spec walker (``LayerSpec/named(_:)``), so initializers carry the model's tensor names.
    mutating func emit(_ spec: LayerSpec, input: String, channels: Int, path: String) throws -> (value: String, channels: Int) {
        switch spec.named(path) {
        case .leaf:
            return try emitLayer(spec, input: input, channels: channels, path: path)
        case .sequential(let children):
            return try emit(children, input: input, channels: channels)
        case let .residual(before, branch, shortcut, after):
            let x = try emit(before, input: input, channels: channels)
            let b = try emit(branch, input: x.value, channels: x.channels)
            let s = try shortcut.map { try emit($0.spec, input: x.value, channels: x.channels, path: $0.name) } ?? x
            guard b.channels == s.channels else {
                throw ResNeXtError.shapeMismatch("ONNX export: \(path) branch gives \(b.channels) channels, the shortcut \(s.channels)")
            }
            let sum = node("Add", [b.value, s.value], name: join(path, "add"))
            return try emit(after, input: sum, channels: b.channels)
        case .parallel(let paths):
            let outputs = try paths.map { try emit($0.spec, input: input, channels: channels, path: $0.name) }
            return (node("Concat", outputs.map(\.value), name: path, attributes: [.int("axis", 1)]), outputs.reduce(0) { $0 + $1.channels })
        }
    }

    /// Emits a layer without children.
    private mutating func emitLayer(_ spec: LayerSpec, input: String, channels: Int, path: String) throws -> (value: String, channels: Int)
    {
        switch spec {
        case let .convolution(i, o, k, s, p, g, _):
            guard i == channels else { throw ResNeXtError.shapeMismatch("ONNX export: \(path) expects \(i) channels, got \(channels)") }
            let out = node(
                "Conv", [input] + (try weights(spec, path)), name: path,
                attributes: [
                    .ints("kernel_shape", [k, k]), .ints("strides", [s, s]), .ints("pads", [p, p, p, p]),
                    .ints("dilations", [1, 1]), .int("group", g)
                ])
            return (out, o)
        case .batchNorm(let c):
            return (
                node(
                    "BatchNormalization", [input] + (try weights(spec, path)), name: path,
                    attributes: [.float("epsilon", LayerSpec.batchNormEpsilon)]), c
            )
        case .relu:
            return (node("Relu", [input], name: path), channels)
        case let .maxPool(k, s, p):
            return (
                node(
                    "MaxPool", [input], name: path,
                    attributes: [
                        .ints("kernel_shape", [k, k]), .ints("strides", [s, s]), .ints("pads", [p, p, p, p])
                    ]), channels
            )
        case .globalAveragePool:
            return (node("GlobalAveragePool", [input], name: path), channels)
        case .flatten:
            return (node("Flatten", [input], name: path, attributes: [.int("axis", 1)]), channels)
        case let .linear(i, o):
            guard i == channels else { throw ResNeXtError.shapeMismatch("ONNX export: \(path) expects \(i) features, got \(channels)") }
            return (node("Gemm", [input] + (try weights(spec, path)), name: path, attributes: [.int("transB", 1)]), o)
        case let .zeroPadShortcut(s, o):
            guard o >= channels else { throw ResNeXtError.shapeMismatch("ONNX export: \(path) cannot shrink \(channels) channels to \(o)") }
            var value = input
            if s != 1 {
                value = node(
                    "AveragePool", [value], name: join(path, "subsample"),
                    attributes: [
                        .ints("kernel_shape", [1, 1]), .ints("strides", [s, s])
                    ])
            }
            if o > channels {
                // Zero channels appended after the input's: pads are [begin…, end…] per axis of NCHW.
                let pads = int64Constant(join(path, "pads"), [0, 0, 0, 0, 0, o - channels, 0, 0])
                value = node("Pad", [value, pads], name: join(path, "zero_pad"), attributes: [.string("mode", "constant")])
            }
            return (value, o)
        case .sequential, .residual, .parallel:
            throw ResNeXtError.invalidArgument("ONNX export: internal: \(path) is a container, not a layer")
        }
    }
}

extension Onnx_AttributeProto {
    static func int(_ name: String, _ value: Int) -> Self {
        var a = Self()
        a.name = name
        a.type = .int
        a.i = Int64(value)
        return a
    }

    static func ints(_ name: String, _ values: [Int]) -> Self {
        var a = Self()
        a.name = name
        a.type = .ints
        a.ints = values.map(Int64.init)
        return a
    }

    static func float(_ name: String, _ value: Float) -> Self {
        var a = Self()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }

    static func string(_ name: String, _ value: String) -> Self {
        var a = Self()
        a.name = name
        a.type = .string
        a.s = Data(value.utf8)
        return a
    }
}
