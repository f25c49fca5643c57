import ResNeXtCore
import ResNeXtData
import ResNeXtModels
import ResNeXtTransforms

/// The training and validation sets of a run with their transforms (the original's datasets/*.lua).
public struct DataSplits: Sendable {
    public let train: any Dataset
    public let validation: any Dataset
    public let trainTransform: SampleTransform
    /// `trainTransform` from decoded bytes, where the data set gives them (image folders of JPEGs).
    public var packedTrainTransform: PackedSampleTransform? = nil
    /// `validationTransform` from decoded bytes, likewise.
    public var packedValidationTransform: PackedSampleTransform? = nil
    public let validationTransform: SampleTransform
    /// Images per validation sample (10 with -tenCrop on image folders).
    public let validationCrops: Int

    public var classNames: [String] { train.classNames }

    /// Opens the data set `options` names: CIFAR from `-data` (downloaded there when absent; default
    /// folder `data`), MNIST IDX files in `-data`, or an ImageNet-style folder `-data` with `train/` and `val/`.
    public static func open(_ options: TrainingOptions, notice: (String) -> Void) throws -> DataSplits {
        switch options.dataset {
        case .cifar10, .cifar100:
            let variant: CIFARDataset.Variant = options.dataset == .cifar10 ? .cifar10 : .cifar100
            let directory = options.data ?? "data"
            try CIFARDownload.ensure(directory: directory, variant: variant)
            let (mean, std) =
                variant == .cifar10 ? (Transforms.cifar10Mean, Transforms.cifar10Std) : (Transforms.cifar100Mean, Transforms.cifar100Std)
            if options.tenCrop { notice("-tenCrop applies to image folders; CIFAR is evaluated on whole 32×32 images as in the original") }
            return DataSplits(
                train: try CIFARDataset(directory: directory, variant: variant, split: .train),
                validation: try CIFARDataset(directory: directory, variant: variant, split: .test),
                trainTransform: { image, rng in [Transforms.cifarTrain(image, mean: mean, std: std, rng: &rng)] },
                validationTransform: { image, _ in [Transforms.cifarEval(image, mean: mean, std: std)] },
                validationCrops: 1)
        case .mnist:
            let directory = try options.requiredData()
            if options.tenCrop { notice("-tenCrop applies to image folders; MNIST is evaluated on whole images") }
            return DataSplits(
                train: try MNISTDataset(directory: directory, split: .train),
                validation: try MNISTDataset(directory: directory, split: .test),
                trainTransform: { image, rng in [Transforms.mnistTrain(image, rng: &rng)] },
                validationTransform: { image, _ in [Transforms.mnistEval(image)] },
                validationCrops: 1)
        case .imagenet:
            let root = try options.requiredData()
            let train = try ImageFolderDataset(root: root, split: "train")
            let validation = try ImageFolderDataset(root: root, split: "val", classNames: train.classNames)
            let tenCrop = options.tenCrop
            var splits = DataSplits(
                train: train, validation: validation,
                trainTransform: { image, rng in [Transforms.imagenetTrain(image, rng: &rng)] },
                validationTransform: { image, _ in tenCrop ? Transforms.imagenetTenCrop(image) : [Transforms.imagenetEval(image)] },
                validationCrops: tenCrop ? 10 : 1)
            splits.packedTrainTransform = PackedSampleTransform(shape: [3, 224, 224]) { Transforms.imagenetTrain($0, rng: &$1, into: $2) }
            if !tenCrop {
                splits.packedValidationTransform = PackedSampleTransform(shape: [3, 224, 224]) { image, _, out in
                    Transforms.imagenetEval(image, into: out)
                }
            }
            return splits
        }
    }
}
