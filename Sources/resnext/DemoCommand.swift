import ArgumentParser
import ResNeXtCPU
import ResNeXtCore
import ResNeXtNN

/// Trains a small residual conv net on generated images and prints the falling loss: a smoke test of
/// the whole numerical stack that needs no data set.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a small ResNeXt-style net on generated 4-class images and print the falling loss.")

    @Option(help: "Training epochs.") var epochs = 6
    @Option(help: "Mini-batch size.") var batchSize = 32
    @Option(help: "Learning rate.") var lr: Float = 0.05
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "CPU threads (default: all cores).") var threads: Int?

    func run() throws {
        let backend = try CPUBackend(threads: threads)
        var rng = RandomGenerator(seed: seed)
        let train = PatternDataset(count: 768, rng: &rng)
        let val = PatternDataset(count: 256, rng: &rng)
        let net = try makeNet(backend, rng: &rng)
        let sgd = try SGD(backend, parameters: net.namedParameters(), SGDHyperparameters(weightDecay: 5e-4))
        print("backend: \(backend.name)")
        print("model: \(net.parameterCount) parameters; data: \(train.count) train / \(val.count) validation images, 4 classes")
        let step = TrainingStep(model: net, optimizer: sgd, ks: [1])
        let evaluate = EvaluationStep(model: net, backend: backend, ks: [1])
        for epoch in 1...epochs {
            var order = Array(0..<train.count)
            order.shuffle(using: &rng)
            var (lossSum, correct, seen) = (0.0, 0, 0)
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let result = try step(train.batch(Array(order[start..<min(order.count, start + batchSize)])), learningRate: lr)
                lossSum += Double(result.loss) * Double(result.samples)
                correct += result.correct[0]
                seen += result.samples
            }
            var valCorrect = 0
            for start in stride(from: 0, to: val.count, by: 128) {
                valCorrect += try evaluate(val.batch(Array(start..<min(val.count, start + 128)))).correct[0]
            }
            print(
                "epoch \(epoch): train loss \(NumberFormat.fixed(lossSum / Double(seen))), train accuracy "
                    + "\(NumberFormat.fixed(100 * Double(correct) / Double(seen)))%, "
                    + "validation accuracy \(NumberFormat.fixed(100 * Double(valCorrect) / Double(val.count)))%")
        }
    }

    private func makeNet(_ b: CPUBackend, rng: inout RandomGenerator) throws -> Sequential {
        func convBN(_ i: Int, _ o: Int, _ k: Int, stride: Int = 1, groups: Int = 1) throws -> [any Layer] {
            [
                try Conv2d(b, inChannels: i, outChannels: o, kernelSize: k, stride: stride, padding: k / 2, groups: groups, rng: &rng),
                try BatchNorm2d(b, channels: o)
            ]
        }
        let block = Sequential(try convBN(16, 16, 1) + [ReLU(b)] + (try convBN(16, 16, 3, groups: 4)) + [ReLU(b)] + (try convBN(16, 32, 1)))
        return Sequential(
            try convBN(3, 16, 3) + [
                ReLU(b), MaxPool2d(b, kernelSize: 3, stride: 2, padding: 1),
                Residual(b, branch: block, shortcut: Sequential(try convBN(16, 32, 1))), ReLU(b),
                AvgPool2d(global: b), Flatten(b), try Linear(b, inFeatures: 32, outFeatures: 4, zeroBias: true, rng: &rng)
            ])
    }
}

/// Generated 3×16×16 images of four noisy patterns: horizontal stripes, vertical stripes, diagonal
/// stripes and a checkerboard, each at a random phase and colour.
struct PatternDataset {
    let images: [[Float]]
    let labels: [Int32]
    var count: Int { labels.count }

    init(count: Int, rng: inout RandomGenerator) {
        var images = [[Float]](), labels = [Int32]()
        for i in 0..<count {
            let label = i % 4
            let phase = rng.integer(in: 0...3)
            let colour = (0..<3).map { _ in Float(rng.uniform(0.3, 1.0)) }
            var image = [Float](repeating: 0, count: 3 * 16 * 16)
            for y in 0..<16 {
                for x in 0..<16 {
                    let on: Bool
                    switch label {
                    case 0: on = (y + phase) % 4 < 2
                    case 1: on = (x + phase) % 4 < 2
                    case 2: on = (x + y + phase) % 4 < 2
                    default: on = ((x + phase) / 2 + y / 2) % 2 == 0
                    }
                    for c in 0..<3 {
                        image[(c * 16 + y) * 16 + x] = (on ? colour[c] : -colour[c]) + Float(rng.normal(std: 2.5))
                    }
                }
            }
            images.append(image)
            labels.append(Int32(label))
        }
        self.images = images
        self.labels = labels
    }

    func batch(_ indices: [Int]) -> HostBatch {
        HostBatch(values: indices.flatMap { images[$0] }, shape: [indices.count, 3, 16, 16], labels: indices.map { labels[$0] })
    }
}
