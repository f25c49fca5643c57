/// Image transforms of the original ResNeXt / fb.resnet.torch `datasets/transforms.lua`, and the per-dataset
/// pipelines built from them (the original's `datasets/cifar10.lua`, `cifar100.lua` and `imagenet.lua`;
/// docs/TRAINING.md, "Data").
///
/// Every function returns a new ``Image``. Random transforms take an `inout RandomGenerator` and document the
/// exact order of their draws, so results are reproducible under a seed; each has a deterministic variant that
/// takes the drawn parameters explicitly.
public enum Transforms {
    /// CIFAR-10 per-channel (R, G, B) mean on the 0–255 pixel scale.
    public static let cifar10Mean: [Float] = [125.3, 123.0, 113.9]
    /// CIFAR-10 per-channel standard deviation on the 0–255 pixel scale.
    public static let cifar10Std: [Float] = [63.0, 62.1, 66.7]
    /// CIFAR-100 per-channel mean on the 0–255 pixel scale.
    public static let cifar100Mean: [Float] = [129.3, 124.1, 112.4]
    /// CIFAR-100 per-channel standard deviation on the 0–255 pixel scale.
    public static let cifar100Std: [Float] = [68.2, 65.4, 70.4]
    /// ImageNet per-channel mean on the [0, 1] scale.
    public static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    /// ImageNet per-channel standard deviation on the [0, 1] scale.
    public static let imagenetStd: [Float] = [0.229, 0.224, 0.225]
    /// Eigenvalues of the ImageNet RGB covariance (AlexNet PCA lighting noise).
    public static let lightingEigenvalues: [Float] = [0.2175, 0.0188, 0.0045]
    /// Eigenvectors of the ImageNet RGB covariance: row i = channel (R, G, B), column j = eigenvector j.
    public static let lightingEigenvectors: [[Float]] = [
        [-0.5675, 0.7192, 0.4009],
        [-0.5808, -0.0045, -0.8140],
        [-0.5836, -0.6948, 0.4203]
    ]
    /// MNIST mean on the 0–255 pixel scale (0.13066 · 255, usually quoted as 0.1307).
    public static let mnistMean: [Float] = [33.318]
    /// MNIST standard deviation on the 0–255 pixel scale (0.30811 · 255, usually quoted as 0.3081).
    public static let mnistStd: [Float] = [78.567]
}
