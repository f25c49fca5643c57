import ArgumentParser
import ResNeXtCPU
import ResNeXtCore
import ResNeXtModels
import ResNeXtNN

/// Times a whole network through the training or evaluation step (`--arch`, either backend), or the
/// convolutions and block that dominate ResNeXt training on the CPU backend.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract:
            "Time a whole network (--arch NAME: images/s through the training or evaluation step) or ResNeXt's core operations (GFLOP/s).",
        discussion: """
            With --arch: `resnext bench --arch resnext50_32x4d --batch 16 --mode train --device cpu --steps 5` runs --warmup untimed \
            steps, then --steps timed ones, and prints one JSON object: images/s, ms per step, peak resident MiB, live device \
            bytes, and the backend's peak tensor bytes over the run, model included (peak_device_bytes, as PyTorch's \
            max_memory_allocated; peak_reserved_bytes, with the caching allocator's cache, as max_memory_reserved). \
            Without --arch: forward and forward+backward of single operations on the CPU (JSON lines with --json).
            """)

    @Option(help: "A whole network to time (a preset such as resnext50_32x4d or resnext29_8x64d).") var arch: String?
    @Option(help: "With --arch: train (forward, loss, backward, SGD step) or infer (evaluation-mode forward).") var mode = "train"
    @Option(help: "With --arch: cpu, cuda or cuda:N.") var device = "cpu"
    @Option(help: "With --arch: timed steps.") var steps = 5
    @Option(help: "With --arch: untimed warm-up steps.") var warmup = 2
    @Option(help: "Batch size N.") var batch = 32
    @Option(help: "Spatial size H = W.") var size = 56
    @Option(help: "Timed iterations per case (the median is reported).") var iterations = 3
    @Option(help: "CPU threads (default: all cores).") var threads: Int?
    @Option(help: "Comma-separated cases to run (default: all).") var cases: String?
    @Flag(help: "Print one JSON object per line.") var json = false

    func run() throws {
        if let arch { return try runNetwork(arch) }
        let backend = try CPUBackend(threads: threads)
        let selected = cases.map { Set($0.split(separator: ",").map(String.init)) }
        if !json { print("backend: \(backend.name); N=\(batch), \(size)x\(size), median of \(iterations)") }
        for benchCase in try BenchCase.all(backend, batch: batch, size: size) where selected?.contains(benchCase.name) ?? true {
            for mode in ["forward", "train"] {
                let run = mode == "forward" ? benchCase.forward : benchCase.train
                try run()  // warm-up: primitive creation, first-touch allocation
                var times = [Double]()
                for _ in 0..<iterations {
                    let start = ContinuousClock.now
                    try run()
                    times.append(seconds(ContinuousClock.now - start))
                }
                let median = times.sorted()[times.count / 2]
                let flops = benchCase.forwardFLOPs * (mode == "forward" ? 1 : 3)
                let gflops = flops / median / 1e9
                if json {
                    print(
                        "{\"impl\": \"resnext-swift\", \"case\": \"\(benchCase.name)\", \"mode\": \"\(mode)\", \"batch\": \(batch), "
                            + "\"size\": \(size), "
                            + "\"threads\": \(backend.threads), \"ms\": \(NumberFormat.fixed(median * 1000)), \"gflops\": "
                            + "\(NumberFormat.fixed(gflops))}"
                    )
                } else {
                    print(
                        "\(NumberFormat.padded(benchCase.name, 16)) \(NumberFormat.padded(mode, 8)) "
                            + "\(NumberFormat.fixed(median * 1000, 1)) ms  \(NumberFormat.fixed(gflops, 1)) GFLOP/s")
                }
            }
        }
    }

    private func runNetwork(_ arch: String) throws {
        guard mode == "train" || mode == "infer" else { throw ValidationError("--mode must be train or infer, got '\(mode)'") }
        guard batch > 0, steps > 0, warmup >= 0 else {
            throw ValidationError("--batch and --steps must be positive, --warmup not negative")
        }
        var notices = [String]()
        let backend = try makeBackend(device: device, threads: threads, notices: &notices)
        let benchmark = NetworkBenchmark(
            configuration: try ModelConfiguration.preset(arch, classes: nil), backend: backend, batch: batch,
            training: mode == "train")
        let r = try benchmark.run(warmup: warmup, steps: steps)
        print(
            "{\"impl\": \"resnext-swift\", \"arch\": \"\(arch)\", \"mode\": \"\(mode)\", \"batch\": \(batch), \"size\": "
                + "\(benchmark.imageSize), "
                + "\"device\": \"\(backend.device)\", \"backend\": \"\(backend.name)\", \"steps\": \(steps), "
                + "\"images_per_second\": \(NumberFormat.fixed(r.imagesPerSecond)), \"ms_per_step\": "
                + "\(NumberFormat.fixed(r.millisecondsPerStep)), "
                + "\"peak_rss_mib\": \(NumberFormat.fixed(r.peakResidentMiB, 1)), \"live_device_bytes\": \(r.liveDeviceBytes), "
                + "\"peak_device_bytes\": \(r.memory.peakAllocatedBytes), \"peak_reserved_bytes\": \(r.memory.peakReservedBytes)}")
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

/// One benchmark case: a forward closure, a forward+backward closure, and the forward FLOPs
/// (2 per multiply-add of the convolutions; batch norm, ReLU and additions are not counted).
struct BenchCase {
    let name: String
    let forwardFLOPs: Double
    let forward: () throws -> Void
    let train: () throws -> Void

    static func convolution(
        _ b: CPUBackend, name: String, batch: Int, size: Int, inChannels: Int, outChannels: Int,
        kernel: Int, groups: Int, rng: inout RandomGenerator
    ) throws -> BenchCase {
        let p = Convolution2DParameters(stride: 1, padding: kernel / 2, groups: groups)
        // Inputs and gradients enter in the backend's preferred layout, as they do inside a network.
        let x = try b.optimizedLayout(
            try b.upload(
                (0..<(batch * inChannels * size * size)).map { _ in Float(rng.uniform(-1, 1)) },
                shape: [batch, inChannels, size, size]))
        let wShape: Shape = [outChannels, inChannels / groups, kernel, kernel]
        let w = try b.upload((0..<wShape.elementCount).map { _ in Float(rng.normal(std: 0.05)) }, shape: wShape)
        let dy = try b.optimizedLayout(try b.full([batch, outChannels, size, size], value: 0.01))
        let flops = 2.0 * Double(batch * size * size * outChannels * (inChannels / groups) * kernel * kernel)
        return BenchCase(
            name: name, forwardFLOPs: flops,
            forward: { _ = try b.convolution2D(x, weight: w, bias: nil, p) },
            train: {
                _ = try b.convolution2D(x, weight: w, bias: nil, p)
                _ = try b.convolution2DBackwardData(dy, weight: w, inputShape: x.shape, p)
                _ = try b.convolution2DBackwardWeights(dy, input: x, weightShape: wShape, withBias: false, p)
            })
    }

    /// ResNeXt-50 32×4d's first-stage bottleneck block (256 → 128 → grouped 128 (32 groups) → 256, identity shortcut).
    static func bottleneck(_ b: CPUBackend, batch: Int, size: Int, rng: inout RandomGenerator) throws -> BenchCase {
        func convBN(_ i: Int, _ o: Int, _ k: Int, groups: Int = 1) throws -> [any Layer] {
            [
                try Conv2d(b, inChannels: i, outChannels: o, kernelSize: k, padding: k / 2, groups: groups, rng: &rng),
                try BatchNorm2d(b, channels: o)
            ]
        }
        let branch = Sequential(
            try convBN(256, 128, 1) + [ReLU(b)] + (try convBN(128, 128, 3, groups: 32)) + [ReLU(b)] + (try convBN(128, 256, 1)))
        let block = Sequential([Residual(b, branch: branch), ReLU(b)])
        let x = try b.optimizedLayout(
            try b.upload(
                (0..<(batch * 256 * size * size)).map { _ in Float(rng.uniform(-1, 1)) },
                shape: [batch, 256, size, size]))
        let dy = try b.optimizedLayout(try b.full([batch, 256, size, size], value: 0.01))
        let pixels = Double(batch * size * size)
        let flops = 2 * pixels * Double(256 * 128 + 128 * 4 * 9 + 128 * 256)
        return BenchCase(
            name: "bottleneck", forwardFLOPs: flops,
            forward: {
                block.setTraining(false); _ = try block.forward(x)
            },
            train: {
                block.setTraining(true); _ = try block.forward(x); _ = try block.backward(dy); block.zeroGradients()
            })
    }

    static func all(_ b: CPUBackend, batch: Int, size: Int) throws -> [BenchCase] {
        var rng = RandomGenerator(seed: 7)
        return [
            try convolution(
                b, name: "grouped3x3", batch: batch, size: size, inChannels: 256, outChannels: 256, kernel: 3, groups: 32, rng: &rng),
            try convolution(
                b, name: "grouped3x3_4pg", batch: batch, size: size, inChannels: 128, outChannels: 128, kernel: 3, groups: 32, rng: &rng),
            try convolution(
                b, name: "dense3x3", batch: batch, size: size, inChannels: 256, outChannels: 256, kernel: 3, groups: 1, rng: &rng),
            try bottleneck(b, batch: batch, size: size, rng: &rng)
        ]
    }
}
