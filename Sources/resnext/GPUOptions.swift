import ArgumentParser
import ResNeXtCUDA

/// The original's `-cudnn` choice, typed: `default` is cuDNN's heuristic.
enum CuDNNChoice: String, ExpressibleByArgument, CaseIterable {
    case fastest, deterministic, heuristic
    case `default`

    init?(argument: String) { self.init(rawValue: argument) }

    var search: CUDAAlgorithmSearch {
        switch self {
        case .fastest: .fastest
        case .deterministic: .deterministic
        case .heuristic, .default: .heuristic
        }
    }
}

/// GPU settings shared by `train` and `selftest` (`-cudnn` single-dash as the original, `--cudnn` too).
struct GPUOptions: ParsableArguments {
    @Option(
        name: [.customLong("cudnn", withSingleDash: true), .customLong("cudnn")],
        help: "cuDNN algorithm choice: fastest | deterministic | heuristic (the original's `default`).")
    var cudnn = CuDNNChoice.fastest

    @Option(
        name: [.customLong("tf32")],
        help: """
            TF32 tensor-core math in GPU convolutions (true/false; PyTorch's default, true). The linear layer runs full fp32, as \
            PyTorch's default matmul; false also keeps convolutions at fp32 accuracy (no FFT or Winograd algorithms).
            """)
    var tf32 = FlagBool(true)
}
