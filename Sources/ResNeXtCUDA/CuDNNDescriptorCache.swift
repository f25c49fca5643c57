import ResNeXtCore

/// cuDNN descriptors kept per geometry, so that a training step in steady state creates none: each
/// convolution geometry's tensor, filter and convolution descriptors, each batch-normalization input's
/// descriptors. Used only under the backend's cuDNN lock (hence `@unchecked Sendable`; a convolution
/// descriptor's math type is set per call).
final class CuDNNDescriptorCache: @unchecked Sendable {
    let api: CuDNNAPI
    private var convolutions: [ConvolutionGeometry: ConvolutionDescriptors] = [:]
    private var batchNorms: [[Int32]: BatchNormDescriptors] = [:]

    init(_ api: CuDNNAPI) { self.api = api }

    /// The descriptors of convolution geometry `g` (created the first time, with `mathType`).
    func convolution(_ g: ConvolutionGeometry, mathType: Int32) throws -> ConvolutionDescriptors {
        if let d = convolutions[g] { return d }
        let d = try ConvolutionDescriptors(api, g, mathType: mathType)
        convolutions[g] = d
        return d
    }

    /// The descriptors of a batch normalization of input `dims` (`[N, C, H, W]`).
    func batchNorm(_ dims: [Int32]) throws -> BatchNormDescriptors {
        if let d = batchNorms[dims] { return d }
        let d = try BatchNormDescriptors(api, dims: dims)
        batchNorms[dims] = d
        return d
    }

    /// How many descriptor sets are kept (convolutions, batch normalizations).
    var counts: (convolutions: Int, batchNorms: Int) { (convolutions.count, batchNorms.count) }
}
