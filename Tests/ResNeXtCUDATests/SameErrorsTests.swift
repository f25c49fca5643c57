import ResNeXtCPU
import ResNeXtCUDA
import ResNeXtCore
import ResNeXtReference
import XCTest

/// The same bad call throws the same error, word for word, on the CPU backend, the float64 reference
/// and the CUDA backend (on the fake CUDA libraries): all three check their operands with ``Operands``.
final class SameErrorsTests: XCTestCase {
    /// A bad call, made on each backend with tensors of that backend.
    struct BadCall {
        let name: String
        let body: (any Backend) throws -> Any
        init(_ name: String, _ body: @escaping (any Backend) throws -> Any) { self.name = name; self.body = body }
    }

    /// A storage of no backend.
    final class ForeignStorage: TensorStorage {
        let device: Device
        init(_ device: Device) { self.device = device }
    }

    /// The message, with the device of the backend that threw it (named in wrong-device errors) generic.
    func message(_ error: ResNeXtError, _ backend: any Backend) -> String {
        error.description.replacingOccurrences(of: "computes on \(backend.device)", with: "computes on <device>")
    }

    func testTheSameBadCallThrowsTheSameErrorOnEveryBackend() throws {
        let backends: [any Backend] = [cpu, ReferenceBackend(), try CUDABackend(device: 0, libraries: try FakeCUDA.libraries())]
        for call in badCalls() {
            let messages = backends.map { backend in captureError { try call.body(backend) }.map { message($0, backend) } }
            XCTAssertNotNil(messages[0], "\(call.name): the CPU backend accepted it")
            for (backend, m) in zip(backends, messages).dropFirst() {
                XCTAssertEqual(m, messages[0], "\(call.name) on \(backend.name)")
            }
        }
    }

    func badCalls() -> [BadCall] {
        let conv = Convolution2DParameters(padding: 1), pool = Pool2DParameters(kernel: 3, stride: 2, padding: 1)
        let sgd = SGDHyperparameters()
        return [
            // Memory
            BadCall("upload count") { try $0.upload([1, 2, 3, 4, 5], shape: [2, 3]) },
            BadCall("upload negative shape") { try $0.upload([1, 2, 3, 4, 5, 6], shape: [-2, -3]) },
            BadCall("reshape count") { try $0.reshape(try $0.zeros([2, 3, 4, 4]), to: [5, 19]) },
            BadCall("reshape negative") { try $0.reshape(try $0.zeros([2, 3, 4, 4]), to: [-96]) },
            // Devices, element types, storages
            BadCall("tensor on another device") { try $0.relu(Tensor(shape: [2, 2], storage: ForeignStorage(.cuda(7)))) },
            BadCall("download from another device") { try $0.download(Tensor(shape: [2, 2], storage: ForeignStorage(.cuda(7)))) },
            BadCall("storage of no backend") { b in try b.relu(Tensor(shape: [2, 2], storage: ForeignStorage(b.device))) },
            BadCall("element type") { b in try b.relu(Tensor(shape: [2, 2], dtype: .uint8, storage: try b.zeros([4]).storage)) },
            BadCall("weight on another device") { b in
                try b.convolution2D(
                    try b.zeros([2, 8, 5, 5]), weight: Tensor(shape: [4, 8, 3, 3], storage: ForeignStorage(.cuda(7))), bias: nil, conv)
            },
            BadCall("SGD velocity on another device") { b in
                try b.sgdStep(
                    parameter: try b.zeros([3, 4]), gradient: try b.zeros([3, 4]),
                    velocity: Tensor(shape: [3, 4], storage: ForeignStorage(.cuda(7))),
                    learningRate: 0.1, sgd, isFirstStep: true)
            },
            // Convolution
            BadCall("convolution bias") { b in
                try b.convolution2D(try b.zeros([2, 8, 5, 5]), weight: try b.zeros([4, 8, 3, 3]), bias: try b.zeros([5]), conv)
            },
            BadCall("convolution weight channels") { b in
                try b.convolution2D(try b.zeros([2, 8, 5, 5]), weight: try b.zeros([4, 3, 3, 3]), bias: nil, conv)
            },
            BadCall("convolution groups") { b in
                try b.convolution2D(
                    try b.zeros([2, 8, 5, 5]), weight: try b.zeros([4, 8, 3, 3]), bias: nil, Convolution2DParameters(padding: 1, groups: 3))
            },
            BadCall("convolution kernel too large") { b in
                try b.convolution2D(try b.zeros([1, 2, 3, 3]), weight: try b.zeros([2, 2, 7, 7]), bias: nil, conv)
            },
            BadCall("convolution backward data gradient") { b in
                try b.convolution2DBackwardData(
                    try b.zeros([2, 4, 4, 4]), weight: try b.zeros([4, 8, 3, 3]), inputShape: [2, 8, 5, 5], conv)
            },
            BadCall("convolution backward data negative input") { b in
                try b.convolution2DBackwardData(
                    try b.zeros([2, 4, 5, 5]), weight: try b.zeros([4, 8, 3, 3]), inputShape: [2, -8, 5, 5], conv)
            },
            BadCall("convolution backward weights gradient") { b in
                try b.convolution2DBackwardWeights(
                    try b.zeros([2, 4, 4, 4]), input: try b.zeros([2, 8, 5, 5]), weightShape: [4, 8, 3, 3], withBias: true, conv)
            },
            BadCall("convolution backward weights negative weight") { b in
                try b.convolution2DBackwardWeights(
                    try b.zeros([2, 4, 5, 5]), input: try b.zeros([2, 8, 5, 5]), weightShape: [4, -8, 3, 3], withBias: false, conv)
            },
            // Batch normalization
            BadCall("batch normalization rank") { b in
                let v = try b.zeros([3])
                return try b.batchNormInference(try b.zeros([2, 3, 4]), scale: v, shift: v, mean: v, variance: v, epsilon: 1e-5)
            },
            BadCall("batch normalization scale") { b in
                let v = try b.zeros([3])
                return try b.batchNormInference(
                    try b.zeros([2, 3, 4, 4]), scale: try b.zeros([4]), shift: v, mean: v, variance: v, epsilon: 1e-5)
            },
            BadCall("batch normalization running variance") { b in
                let v = try b.zeros([3])
                return try b.batchNormTraining(
                    try b.zeros([2, 3, 4, 4]), scale: v, shift: v, runningMean: try b.zeros([3]), runningVariance: try b.zeros([4]),
                    momentum: 0.1, epsilon: 1e-5)
            },
            BadCall("batch normalization output gradient") { b in
                let v = try b.zeros([3])
                return try b.batchNormBackward(
                    try b.zeros([2, 3, 4, 5]), input: try b.zeros([2, 3, 4, 4]), scale: v,
                    statistics: BatchNormStatistics(mean: v, variance: v), epsilon: 1e-5)
            },
            BadCall("batch normalization batch variance") { b in
                let v = try b.zeros([3])
                return try b.batchNormBackward(
                    try b.zeros([2, 3, 4, 4]), input: try b.zeros([2, 3, 4, 4]), scale: v,
                    statistics: BatchNormStatistics(mean: v, variance: try b.zeros([2])), epsilon: 1e-5)
            },
            // Element-wise
            BadCall("ReLU output gradient") { b in try b.reluBackward(try b.zeros([2]), output: try b.zeros([3])) },
            BadCall("addends") { b in try b.add(try b.zeros([3, 2]), try b.zeros([2, 3])) },
            // Pooling
            BadCall("pooling window too large") { b in try b.maxPool2D(try b.zeros([1, 1, 3, 3]), Pool2DParameters(kernel: 5, stride: 1)) },
            BadCall("pooling padding") { b in
                try b.averagePool2D(try b.zeros([1, 1, 4, 4]), Pool2DParameters(kernel: 2, stride: 2, padding: 2))
            },
            BadCall("pooling rank") { b in try b.averagePool2D(try b.zeros([4, 4]), pool) },
            BadCall("average pooling output gradient") { b in
                try b.averagePool2DBackward(try b.zeros([2, 3, 4, 4]), inputShape: [2, 3, 4, 4], pool)
            },
            BadCall("average pooling negative input") { b in
                try b.averagePool2DBackward(try b.zeros([2, 3, 2, 2]), inputShape: [2, -3, 4, 4], pool)
            },
            BadCall("max pooling output gradient") { b in
                let forward = try b.maxPool2D(try b.zeros([2, 3, 4, 4]), pool)
                return try b.maxPool2DBackward(try b.zeros([2, 3, 4, 4]), forward: forward, inputShape: [2, 3, 4, 4], pool)
            },
            BadCall("max pooling indices of another input") { b in
                let forward = try b.maxPool2D(try b.zeros([2, 3, 4, 4]), pool)
                return try b.maxPool2DBackward(try b.zeros([2, 3, 2, 3]), forward: forward, inputShape: [2, 3, 4, 5], pool)
            },
            // Linear
            BadCall("linear features") { b in try b.linear(try b.zeros([4, 6]), weight: try b.zeros([3, 5]), bias: nil) },
            BadCall("linear bias") { b in try b.linear(try b.zeros([4, 6]), weight: try b.zeros([3, 6]), bias: try b.zeros([4])) },
            BadCall("linear rank") { b in try b.linear(try b.zeros([4, 6, 1]), weight: try b.zeros([3, 6]), bias: nil) },
            BadCall("linear backward data") { b in try b.linearBackwardData(try b.zeros([4, 4]), weight: try b.zeros([3, 6])) },
            BadCall("linear backward weights") { b in
                try b.linearBackwardWeights(try b.zeros([5, 3]), input: try b.zeros([4, 6]), withBias: true)
            },
            // Channels
            BadCall("concatenation of nothing") { try $0.concatenateChannels([]) },
            BadCall("concatenation sizes") { b in try b.concatenateChannels([try b.zeros([2, 3, 4, 4]), try b.zeros([2, 3, 4, 5])]) },
            BadCall("concatenation rank") { b in try b.concatenateChannels([try b.zeros([2, 3, 4, 4]), try b.zeros([2, 3, 4])]) },
            BadCall("split sizes") { b in try b.splitChannels(try b.zeros([2, 3, 4, 4]), sizes: [1, 1]) },
            BadCall("split zero size") { b in try b.splitChannels(try b.zeros([2, 3, 4, 4]), sizes: [3, 0]) },
            BadCall("split rank") { b in try b.splitChannels(try b.zeros([2, 3, 4]), sizes: [3]) },
            // Loss and metrics
            BadCall("label count") { b in try b.softmaxCrossEntropy(try b.zeros([3, 5]), labels: [0, 1]) },
            BadCall("label too large") { b in try b.softmaxCrossEntropy(try b.zeros([3, 5]), labels: [0, 1, 5]) },
            BadCall("negative label") { b in try b.topKCorrect(try b.zeros([3, 5]), labels: [0, -1, 2], ks: [1]) },
            BadCall("top-k label count") { b in try b.topKCorrect(try b.zeros([3, 5]), labels: [0, 1], ks: [1]) },
            BadCall("k = 0") { b in try b.topKCorrect(try b.zeros([3, 5]), labels: [0, 1, 2], ks: [1, 0]) },
            BadCall("empty batch") { b in try b.softmaxCrossEntropy(try b.zeros([0, 5]), labels: []) },
            BadCall("logits rank") { b in try b.softmaxCrossEntropy(try b.zeros([2, 3, 4, 4]), labels: [0, 1]) },
            // Optimizer
            BadCall("SGD gradient") { b in
                try b.sgdStep(
                    parameter: try b.zeros([3, 4]), gradient: try b.zeros([4, 3]), velocity: try b.zeros([3, 4]), learningRate: 0.1, sgd,
                    isFirstStep: true)
            },
            BadCall("SGD velocity") { b in
                try b.sgdStep(
                    parameter: try b.zeros([3, 4]), gradient: try b.zeros([3, 4]), velocity: try b.zeros([4, 3]), learningRate: 0.1, sgd,
                    isFirstStep: true)
            },
            BadCall("SGD lists") { b in
                try b.sgdStep(
                    parameters: [try b.zeros([3])], gradients: [try b.zeros([3]), try b.zeros([3])], velocities: [try b.zeros([3])],
                    learningRate: 0.1, sgd, isFirstStep: true)
            },
            BadCall("SGD lists, second velocity") { b in
                try b.sgdStep(
                    parameters: [try b.zeros([3]), try b.zeros([2])], gradients: [try b.zeros([3]), try b.zeros([2])],
                    velocities: [try b.zeros([3]), try b.zeros([3])], learningRate: 0.1, sgd, isFirstStep: true)
            }
        ]
    }
}
