import ResNeXtCore
import ResNeXtIO
import ResNeXtTransforms

/// MNIST (or any data set in the same layout) read from the standard uncompressed IDX files:
/// `train-images-idx3-ubyte` + `train-labels-idx1-ubyte` and `t10k-images-idx3-ubyte` +
/// `t10k-labels-idx1-ubyte` (the dotted spellings `train-images.idx3-ubyte` etc. are accepted too).
///
/// Image files: big-endian magic 0x00000803, image count, rows, columns, then count·rows·columns bytes.
/// Label files: big-endian magic 0x00000801, label count, then one byte (0–9) per image.
/// Samples are 1×rows×columns images (28×28 for MNIST) with values on the 0–255 scale; class names are
/// "0" … "9".
public struct MNISTDataset: Dataset {
    public enum Split: Sendable, Equatable {
        case train
        case test
    }

    public static let imageMagic: UInt32 = 0x0000_0803
    public static let labelMagic: UInt32 = 0x0000_0801

    /// All images back to back, `rows · columns` bytes each, row-major.
    public let images: [UInt8]
    /// The digit (0–9) of each image.
    public let labels: [UInt8]
    public let rows: Int
    public let columns: Int
    public let classNames: [String] = (0...9).map { String($0) }

    public var count: Int { labels.count }

    /// Reads one split from `directory`.
    /// - Throws: `ResNeXtError.io("<file>: <what>")` for a missing file, a wrong magic number, a
    ///   truncated (or over-long) file, image and label counts that differ, or a label above 9.
    public init(directory: String, split: Split) throws {
        guard !directory.isEmpty else { throw ResNeXtError.invalidArgument("MNIST: empty directory path") }
        let prefix = split == .train ? "train" : "t10k"
        let imagesPath = try Self.locate(directory, ["\(prefix)-images-idx3-ubyte", "\(prefix)-images.idx3-ubyte"])
        let labelsPath = try Self.locate(directory, ["\(prefix)-labels-idx1-ubyte", "\(prefix)-labels.idx1-ubyte"])

        // Images.
        let imageBytes = try FileIO.readAll(imagesPath)
        guard imageBytes.count >= 16 else {
            throw ResNeXtError.io("\(imagesPath): truncated IDX header (\(imageBytes.count) bytes, need 16)")
        }
        let imageMagic = ByteReader.uint32BigEndian(imageBytes, at: 0)
        guard imageMagic == Self.imageMagic else {
            throw ResNeXtError.io(
                "\(imagesPath): wrong magic number 0x\(Self.hex(imageMagic)) "
                    + "(expected 0x\(Self.hex(Self.imageMagic)) for an IDX image file; gzipped?)")
        }
        let imageCount = Int(ByteReader.uint32BigEndian(imageBytes, at: 4))
        let rows = Int(ByteReader.uint32BigEndian(imageBytes, at: 8))
        let columns = Int(ByteReader.uint32BigEndian(imageBytes, at: 12))
        guard rows > 0 && columns > 0 else {
            throw ResNeXtError.io("\(imagesPath): invalid image size \(rows)x\(columns)")
        }
        // Each factor is below 2^32, but rows · columns alone can exceed 2^63 (0xFFFFFFFF²): both products checked.
        let (imagePixels, overflow1) = rows.multipliedReportingOverflow(by: columns)
        let (pixelCount, overflow2) = imagePixels.multipliedReportingOverflow(by: imageCount)
        guard !overflow1, !overflow2 else {
            throw ResNeXtError.io("\(imagesPath): header claims \(imageCount) images of \(rows)x\(columns): too large")
        }
        let available = imageBytes.count - 16
        guard available >= pixelCount else {
            throw ResNeXtError.io(
                "\(imagesPath): truncated: header says \(imageCount) images of \(rows)x\(columns) "
                    + "(\(pixelCount) bytes) but only \(available) bytes follow it")
        }
        guard available == pixelCount else {
            throw ResNeXtError.io(
                "\(imagesPath): \(available - pixelCount) unexpected bytes after \(imageCount) images "
                    + "of \(rows)x\(columns)")
        }

        // Labels.
        let labelBytes = try FileIO.readAll(labelsPath)
        guard labelBytes.count >= 8 else {
            throw ResNeXtError.io("\(labelsPath): truncated IDX header (\(labelBytes.count) bytes, need 8)")
        }
        let labelMagic = ByteReader.uint32BigEndian(labelBytes, at: 0)
        guard labelMagic == Self.labelMagic else {
            throw ResNeXtError.io(
                "\(labelsPath): wrong magic number 0x\(Self.hex(labelMagic)) "
                    + "(expected 0x\(Self.hex(Self.labelMagic)) for an IDX label file; gzipped?)")
        }
        let labelCount = Int(ByteReader.uint32BigEndian(labelBytes, at: 4))
        guard labelBytes.count - 8 >= labelCount else {
            throw ResNeXtError.io(
                "\(labelsPath): truncated: header says \(labelCount) labels "
                    + "but only \(labelBytes.count - 8) bytes follow it")
        }
        guard labelBytes.count - 8 == labelCount else {
            throw ResNeXtError.io("\(labelsPath): \(labelBytes.count - 8 - labelCount) unexpected bytes after \(labelCount) labels")
        }
        guard labelCount == imageCount else {
            throw ResNeXtError.io("\(labelsPath): \(labelCount) labels but \(imagesPath) has \(imageCount) images")
        }
        let labels = Array(labelBytes[8...])
        if let bad = labels.firstIndex(where: { $0 > 9 }) {
            throw ResNeXtError.io("\(labelsPath): label \(labels[bad]) at index \(bad) is not a digit 0–9")
        }

        self.images = imageBytes.count == 16 ? [] : Array(imageBytes[16...])
        self.labels = labels
        self.rows = rows
        self.columns = columns
    }

    /// The image (1×rows×columns, 0–255) and its digit.
    /// - Throws: `ResNeXtError.invalidArgument` for an index outside `0..<count`.
    public func sample(at index: Int) throws -> (image: Image, label: Int) {
        guard index >= 0 && index < count else {
            throw ResNeXtError.invalidArgument("MNIST sample index \(index) outside 0..<\(count)")
        }
        let size = rows * columns
        let start = index * size
        let pixels = ByteReader.floats(images[start..<(start + size)])
        return (Image(channels: 1, height: rows, width: columns, pixels: pixels), Int(labels[index]))
    }

    /// The first of `names` that exists in `directory`.
    private static func locate(_ directory: String, _ names: [String]) throws -> String {
        let paths = names.map { FileIO.join(directory, $0) }
        if let found = paths.first(where: FileIO.isRegularFile) { return found }
        let gzipped = paths.first { FileIO.isRegularFile($0 + ".gz") }
        let hint =
            gzipped.map { " (found \($0).gz: decompress it with gunzip first)" }
            ?? " (also looked for \(paths.dropFirst().joined(separator: ", ")))"
        throw ResNeXtError.io("\(paths[0]): missing MNIST IDX file\(hint)")
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
