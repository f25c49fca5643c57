import ResNeXtCore
import ResNeXtModels
import ResNeXtNN

extension ConformanceSuite {
    /// The network of the training checks: a CIFAR-style ResNeXt-11, 4×4d.
    static func trainingConfiguration() throws -> ModelConfiguration {
        try ModelConfiguration.original(dataset: .cifar10, depth: 11, baseWidth: 4, cardinality: 4)
    }

    /// `count` generated 32×32 images of 10 classes: a fixed random template per class plus noise.
    func generatedImages(_ count: Int) -> (images: [[Float]], labels: [Int32]) {
        var data = rng
        let templates = (0..<10).map { _ in (0..<(3 * 32 * 32)).map { _ in Float(data.normal()) } }
        let labels = (0..<count).map { Int32($0 % 10) }
        return (labels.map { label in templates[Int(label)].map { $0 + Float(data.normal(std: 1.5)) } }, labels)
    }

    func makeStep(_ config: ModelConfiguration, on b: any Backend, seed: UInt64) throws -> TrainingStep {
        let model = try ResNeXtModel(config, on: b, seed: seed)
        let sgd = try SGD(b, parameters: model.namedParameters(), SGDHyperparameters(weightDecay: 5e-4))
        return TrainingStep(model: model, optimizer: sgd, ks: [])
    }

    /// One ``TrainingStep`` of the same ResNeXt-11 on both backends: the loss and each parameter's
    /// gradient must agree in relative L2 norm within 1e-2 (or 10× the largest per-operation tolerance, if
    /// larger: 5e-2 with TF32 convolutions). Rounding differences of 1e-6 flip a few ReLUs whose input sits at zero, which moves some
    /// gradients by up to ~2e-3 (seen between the fake GPU and the CPU, depending on the seed); a wrong
    /// operation moves them by far more than 1e-2.
    public func compareTrainingStep(batch: Int = 4, learningRate: Float = 0.02) {
        check(
            "training step", "ResNeXt-11 4x4d batch \(batch): loss, all gradients",
            tolerance: max(10 * max(tolerance, convolutionTolerance, linearTolerance), 1e-2), byNorm: true
        ) {
            let config = try Self.trainingConfiguration()
            let seed = rng.next()
            let tested = try makeStep(config, on: backend, seed: seed), trusted = try makeStep(config, on: reference, seed: seed)
            let (images, labels) = generatedImages(batch)
            let input = HostBatch(values: images.flatMap { $0 }, shape: [batch, 3, 32, 32], labels: labels)
            var pairs = [
                ("loss", [try tested(input, learningRate: learningRate).loss], [try trusted(input, learningRate: learningRate).loss])
            ]
            for (a, b) in zip(tested.model.namedParameters(), trusted.model.namedParameters()) {
                guard let ga = a.parameter.gradient, let gb = b.parameter.gradient else {
                    throw ResNeXtError.invalidArgument("\(a.name) has no gradient after the step")
                }
                pairs.append(try both(ga, gb, a.name + " gradient"))
            }
            return pairs
        }
    }

    /// The ResNeXt-11 trained for `steps` steps through ``TrainingStep`` on the tested backend alone: the
    /// loss must fall; with a caching allocator, no step after warm-up may allocate device memory.
    public func runTraining(steps: Int, learningRate: Float, batch: Int = 32) {
        let examples = 256
        let (images, labels) = generatedImages(examples)
        func batchAt(_ step: Int) -> HostBatch {
            let indices = (0..<batch).map { (step * batch + $0) % examples }
            return HostBatch(values: indices.flatMap { images[$0] }, shape: [batch, 3, 32, 32], labels: indices.map { labels[$0] })
        }
        do {
            let config = try Self.trainingConfiguration()
            let step = try makeStep(config, on: backend, seed: rng.next())
            report(
                "training: ResNeXt \(config.depth)-layer CIFAR \(config.cardinality)x\(config.baseWidth)d, "
                    + "\(step.model.parameterCount) parameters, batch \(batch), \(steps) steps of SGD (lr \(learningRate)) on generated "
                    + "10-class images"
            )
            var losses = [Float]()
            var allocationsAfterWarmup: Int?
            let start = ContinuousClock.now
            for i in 0..<steps {
                losses.append(try step(batchAt(i), learningRate: learningRate).loss)
                if i == 2 { allocationsAfterWarmup = deviceAllocations?() }
                if i % 10 == 0 || i == steps - 1 { report("  step \(i + 1): loss \(NumberFormat.fixed(Double(losses[i]), 4))") }
            }
            let elapsed = ContinuousClock.now - start
            let ms = (Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15) / Double(steps)
            report("  \(NumberFormat.fixed(ms, 1)) ms per step (including the first steps' algorithm search)")
            let window = max(1, min(5, steps / 4))
            let first = losses.prefix(window).reduce(0, +) / Float(window)
            let last = losses.suffix(window).reduce(0, +) / Float(window)
            record(
                "training loss falls", "mean of first \(window) steps → last \(window)", passed: last.isFinite && last < 0.7 * first,
                error: nil,
                "\(NumberFormat.fixed(Double(first), 4)) → \(NumberFormat.fixed(Double(last), 4)) (must fall below 70 %)")
            if let before = allocationsAfterWarmup, let now = deviceAllocations?(), steps > 3 {
                record("caching allocator", "device allocations after step 3", passed: now == before, error: nil, "\(now - before)")
            }
        } catch {
            record("training run", "", passed: false, error: nil, "error: \(error)")
        }
    }
}
