import ResNeXtCore
import ResNeXtTransforms

/// An indexable collection of labelled images (before augmentation).
///
/// Pixel scale is the data set's own convention, as in the original: CIFAR and MNIST give 0–255, decoded
/// photos (image folders) give 0–1.
public protocol Dataset: Sendable {
    /// Number of samples.
    var count: Int { get }
    /// Class names in class-index order (index 0 first).
    var classNames: [String] { get }
    /// The image and its 0-based class index. Throws a clear error for an unreadable sample
    /// (e.g. a corrupt JPEG), which loaders count and skip.
    func sample(at index: Int) throws -> (image: Image, label: Int)
    /// The sample as decoded 8-bit RGB (`sample(at:)`'s image is `byte / 255` of it), for transforms that
    /// start from bytes; nil when the data set does not hold the sample in that form (the default).
    func packedSample(at index: Int) throws -> (image: PackedImage, label: Int)?
}

extension Dataset {
    public func packedSample(at index: Int) throws -> (image: PackedImage, label: Int)? { nil }
}
