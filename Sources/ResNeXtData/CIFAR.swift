import ResNeXtCore
import ResNeXtIO
import ResNeXtTransforms

/// CIFAR-10 / CIFAR-100 read from the official binary releases
/// (<https://www.cs.toronto.edu/~kriz/cifar.html>, "binary version suitable for C programs").
///
/// - CIFAR-10, folder `cifar-10-batches-bin/`: `data_batch_1.bin` … `data_batch_5.bin` (train, 50,000
///   images) and `test_batch.bin` (test, 10,000); records of 1 label byte + 3072 pixel bytes;
///   class names in `batches.meta.txt`, one per line.
/// - CIFAR-100, folder `cifar-100-binary/`: `train.bin` (50,000) and `test.bin` (10,000); records of
///   1 coarse-label byte + 1 **fine**-label byte + 3072 pixel bytes; the fine labels (0–99) are used, as
///   in the original; class names in `fine_label_names.txt`.
///
/// Pixels are the 1024 red bytes, then 1024 green, then 1024 blue, each plane row-major 32×32 — already
/// CHW, so a sample is a 3×32×32 `Image` with values on the 0–255 scale: as in the original, CIFAR pixels
/// stay 0–255 and the transforms normalise them with 0–255-scale statistics (docs/TRAINING.md, "Data").
public struct CIFARDataset: Dataset {
    public enum Variant: Sendable, Equatable {
        case cifar10
        case cifar100
    }

    public enum Split: Sendable, Equatable {
        case train
        case test
    }

    /// Channels, height and width of every CIFAR image.
    public static let channels = 3
    public static let height = 32
    public static let width = 32
    /// Bytes of pixels per image (3 · 32 · 32).
    public static let imageBytes = 3072

    /// All images back to back, `imageBytes` each, in file order (R plane, G plane, B plane).
    public let images: [UInt8]
    /// The 0-based class index of each image (the fine label for CIFAR-100).
    public let labels: [UInt8]
    public let classNames: [String]

    public var count: Int { labels.count }

    /// An in-memory data set: `images` holds `labels.count` images of `imageBytes` bytes (CHW, 0–255);
    /// every label must be a valid index into `classNames`.
    public init(images: [UInt8], labels: [UInt8], classNames: [String]) {
        precondition(
            images.count == labels.count * Self.imageBytes,
            "CIFARDataset: \(images.count) image bytes for \(labels.count) labels (need \(Self.imageBytes) each)")
        precondition(!classNames.isEmpty, "CIFARDataset: no class names")
        if let bad = labels.first(where: { Int($0) >= classNames.count }) {
            preconditionFailure("CIFARDataset: label \(bad) out of range for \(classNames.count) classes")
        }
        self.images = images
        self.labels = labels
        self.classNames = classNames
    }

    /// Reads one split of an official binary release.
    ///
    /// - Parameter directory: the folder holding `cifar-10-batches-bin` / `cifar-100-binary`, or that
    ///   folder itself.
    /// - Throws: `ResNeXtError.io("<file>: <what>")` for a missing, empty or truncated file (size not a
    ///   multiple of the record size), an out-of-range label, or a bad class-name file.
    public init(directory: String, variant: Variant, split: Split) throws {
        let layout = Layout(variant)
        let folder = try Self.locateFolder(directory: directory, layout: layout)

        let namesPath = FileIO.join(folder, layout.namesFile)
        guard FileIO.isRegularFile(namesPath) else {
            throw ResNeXtError.io("\(namesPath): missing class-name file (expected \(layout.classCount) names, one per line)")
        }
        let names = ByteReader.nonEmptyLines(try FileIO.readAll(namesPath))
        guard names.count == layout.classCount else {
            throw ResNeXtError.io("\(namesPath): expected \(layout.classCount) class names, found \(names.count)")
        }

        let files = (split == .train ? layout.trainFiles : layout.testFiles).map { FileIO.join(folder, $0) }
        for path in files where !FileIO.isRegularFile(path) {
            throw ResNeXtError.io("\(path): missing CIFAR \(layout.name) \(split == .train ? "training" : "test") file")
        }

        let recordSize = layout.labelBytes + Self.imageBytes
        var images: [UInt8] = []
        var labels: [UInt8] = []
        for path in files {
            let bytes = try FileIO.readAll(path)
            guard !bytes.isEmpty else { throw ResNeXtError.io("\(path): empty file") }
            guard bytes.count % recordSize == 0 else {
                throw ResNeXtError.io(
                    "\(path): size \(bytes.count) bytes is not a multiple of the \(recordSize)-byte "
                        + "CIFAR \(layout.name) record (truncated or wrong file?)")
            }
            let records = bytes.count / recordSize
            if images.isEmpty {
                // Reserve for all files at once, estimated from the first (official batches are equal-sized).
                images.reserveCapacity(records * files.count * Self.imageBytes)
                labels.reserveCapacity(records * files.count)
            }
            for record in 0..<records {
                let start = record * recordSize
                let label = bytes[start + layout.labelOffset]
                guard Int(label) < layout.classCount else {
                    throw ResNeXtError.io(
                        "\(path): record \(record) has label \(label), "
                            + "outside 0..<\(layout.classCount) for CIFAR \(layout.name)")
                }
                labels.append(label)
                ByteReader.append(bytes, offset: start + layout.labelBytes, count: Self.imageBytes, to: &images)
            }
        }
        self.images = images
        self.labels = labels
        self.classNames = names
    }

    /// The image (3×32×32, 0–255) and its 0-based label.
    /// - Throws: `ResNeXtError.invalidArgument` for an index outside `0..<count`.
    public func sample(at index: Int) throws -> (image: Image, label: Int) {
        guard index >= 0 && index < count else {
            throw ResNeXtError.invalidArgument("CIFAR sample index \(index) outside 0..<\(count)")
        }
        let start = index * Self.imageBytes
        let pixels = ByteReader.floats(images[start..<(start + Self.imageBytes)])
        return (Image(channels: Self.channels, height: Self.height, width: Self.width, pixels: pixels), Int(labels[index]))
    }

    // MARK: - Layout of the official releases

    /// File names and record layout of one variant's binary release.
    struct Layout {
        let name: String
        let folderName: String
        let trainFiles: [String]
        let testFiles: [String]
        let namesFile: String
        let labelBytes: Int
        let labelOffset: Int
        let classCount: Int

        init(_ variant: Variant) {
            switch variant {
            case .cifar10:
                name = "CIFAR-10"
                folderName = "cifar-10-batches-bin"
                trainFiles = (1...5).map { "data_batch_\($0).bin" }
                testFiles = ["test_batch.bin"]
                namesFile = "batches.meta.txt"
                labelBytes = 1
                labelOffset = 0
                classCount = 10
            case .cifar100:
                name = "CIFAR-100"
                folderName = "cifar-100-binary"
                trainFiles = ["train.bin"]
                testFiles = ["test.bin"]
                namesFile = "fine_label_names.txt"
                labelBytes = 2
                labelOffset = 1  // the fine label follows the coarse one
                classCount = 100
            }
        }
    }

    /// `directory/<folderName>` when that exists, else `directory` itself when it looks like the
    /// release folder (named so, or holding its class-name or data files).
    static func locateFolder(directory: String, layout: Layout) throws -> String {
        guard !directory.isEmpty else { throw ResNeXtError.invalidArgument("CIFAR: empty directory path") }
        let nested = FileIO.join(directory, layout.folderName)
        if FileIO.isDirectory(nested) { return nested }
        if FileIO.isDirectory(directory) {
            let looksLikeRelease =
                FileIO.lastComponent(directory) == layout.folderName
                || ([layout.namesFile] + layout.trainFiles + layout.testFiles)
                    .contains { FileIO.isRegularFile(FileIO.join(directory, $0)) }
            if looksLikeRelease { return directory }
            throw ResNeXtError.io(
                "\(nested): missing \(layout.name) folder (download the binary release into "
                    + "\(directory), e.g. with CIFARDownload.ensure)")
        }
        throw ResNeXtError.io("\(directory): no such directory (expected it to hold \(layout.folderName)/)")
    }
}
