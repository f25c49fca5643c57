/// A float image stored channels × height × width, row-major (CHW), as it enters a network.
public struct Image: Sendable, Equatable {
    public var channels: Int
    public var height: Int
    public var width: Int
    /// `channels · height · width` values; pixel `(c, y, x)` is at `(c · height + y) · width + x`.
    public var pixels: [Float]

    public init(channels: Int, height: Int, width: Int, pixels: [Float]) {
        precondition(pixels.count == channels * height * width, "\(pixels.count) pixels for \(channels)x\(height)x\(width)")
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    public init(channels: Int, height: Int, width: Int, value: Float = 0) {
        self.init(
            channels: channels, height: height, width: width,
            pixels: [Float](repeating: value, count: channels * height * width))
    }

    public subscript(c: Int, y: Int, x: Int) -> Float {
        get { pixels[(c * height + y) * width + x] }
        set { pixels[(c * height + y) * width + x] = newValue }
    }
}
