import ArgumentParser
import ResNeXtCore
import ResNeXtData
import ResNeXtIO
import ResNeXtTransforms

/// Times JPEG decoding plus the original's ImageNet training transform on a folder of images.
struct BenchLoaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-loader",
        abstract: "Images per second of decode + ImageNet train transform (RandomSizedCrop 224, ColorJitter, Lighting, normalize, flip).")

    @Option(help: "A folder of JPEG images (searched recursively).") var data: String
    @Option(help: "Passes over the folder (the first is also timed).") var passes = 2
    @Option(help: "Worker threads (1 gives the per-core rate).") var threads = 1
    @Option(help: "train (ImageNet training transform), eval (Scale 256 + center crop 224), none (floats) or decode (bytes only).")
    var transform = "train"
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(
        help: ArgumentHelp(
            "Decode and transform file after file on this thread, without the loader.",
            discussion: "No worker thread, no batch assembly: what scripts/bench_loader_pytorch.py times on the PyTorch side."))
    var direct = false

    func run() throws {
        let files = try ImageFolderDataset.listImages(under: data)
        guard !files.isEmpty else { throw ValidationError("no images under \(data)") }
        let dataset = FileListDataset(paths: files)
        let sampleTransform: SampleTransform
        var packedTransform: PackedSampleTransform?
        switch transform {
        case "train":
            sampleTransform = { image, rng in [Transforms.imagenetTrain(image, rng: &rng)] }
            packedTransform = PackedSampleTransform(shape: [3, 224, 224]) { Transforms.imagenetTrain($0, rng: &$1, into: $2) }
        case "eval":
            sampleTransform = { image, _ in [Transforms.imagenetEval(image)] }
            packedTransform = PackedSampleTransform(shape: [3, 224, 224]) { image, _, out in Transforms.imagenetEval(image, into: out) }
        case "none": sampleTransform = { image, _ in [image] }
        case "decode":  // decoding to bytes only: the floor under any transform
            sampleTransform = { _, _ in [Image(channels: 1, height: 1, width: 1)] }
            packedTransform = PackedSampleTransform(shape: [1, 1, 1]) { _, _, out in out[0] = 0 }
        default: throw ValidationError("unknown --transform '\(transform)' (expected train, eval, none or decode)")
        }
        let loader = try BatchLoader(
            dataset: dataset, batchSize: 32, shuffle: true, threads: threads, seed: 1, transform: sampleTransform,
            packedTransform: packedTransform)
        var images = 0
        let start = ContinuousClock.now
        for pass in 1...passes {
            if direct {
                var output = [Float](repeating: 0, count: packedTransform?.shape.reduce(1, *) ?? 0)
                for index in 0..<dataset.count {
                    var rng = RandomGenerator(seed: UInt64(pass * dataset.count + index))
                    if let packedTransform, let (packed, _) = try dataset.packedSample(at: index) {
                        try output.withUnsafeMutableBufferPointer { try packedTransform.write(packed, &rng, $0) }
                        images += 1
                    } else {
                        images += try sampleTransform(try dataset.sample(at: index).image, &rng).count
                    }
                }
                continue
            }
            for batch in loader.batches(epoch: pass) { images += batch.labels.count }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let rate = Double(images) / seconds
        if json {
            let mode = direct ? "direct" : "loader"
            print(
                "{\"impl\": \"resnext-swift\", \"mode\": \"\(mode)\", \"transform\": \"\(transform)\", \"images\": \(images), "
                    + "\"threads\": \(direct ? 1 : threads), \"images_per_second\": \(NumberFormat.fixed(rate, 1))}"
            )
        } else {
            let how = direct ? "directly on 1 thread" : "through the loader on \(threads) thread\(threads == 1 ? "" : "s")"
            print("\(images) images in \(NumberFormat.fixed(seconds, 2)) s: \(NumberFormat.fixed(rate, 1)) images/s \(how)")
        }
    }
}

/// Image files as a one-class data set.
struct FileListDataset: Dataset {
    let paths: [String]
    var count: Int { paths.count }
    var classNames: [String] { ["images"] }
    func sample(at index: Int) throws -> (image: Image, label: Int) { (try ImageDecoder.decodeFile(paths[index]), 0) }
    func packedSample(at index: Int) throws -> (image: PackedImage, label: Int)? {
        try ImageDecoder.decodePacked(FileIO.readAll(paths[index]), source: paths[index]).map { ($0, 0) }
    }
}
