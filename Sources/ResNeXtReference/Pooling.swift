extension Reference {
    /// Max pooling over the spatial dims of `[N, C, H, W]`, floor-mode output size as for `conv2d`.
    ///
    /// Padded positions never win (they count as -infinity); a window lying entirely in the padding
    /// yields -infinity.
    public static func maxPool2d(
        _ x: RefTensor, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
        padH: Int, padW: Int
    ) -> RefTensor {
        let what = "maxPool2d"
        let (n, c, h, w) = rank4(x, what)
        let oh = outputExtent(h, kernel: kernelH, stride: strideH, pad: padH, what)
        let ow = outputExtent(w, kernel: kernelW, stride: strideW, pad: padW, what)
        let xd = x.data
        var y = [Double](repeating: -Double.infinity, count: n * c * oh * ow)
        for plane in 0..<(n * c) {
            let xBase = plane * h * w, yBase = plane * oh * ow
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = -Double.infinity
                    for ky in 0..<kernelH {
                        let iy = oy * strideH - padH + ky
                        if iy < 0 || iy >= h { continue }
                        for kx in 0..<kernelW {
                            let ix = ox * strideW - padW + kx
                            if ix < 0 || ix >= w { continue }
                            let v = xd[xBase + iy * w + ix]
                            if v > best { best = v }
                        }
                    }
                    y[yBase + oy * ow + ox] = best
                }
            }
        }
        return RefTensor(shape: [n, c, oh, ow], data: y)
    }

    /// Gradient of `maxPool2d` with respect to its input.
    ///
    /// Each output's gradient goes to the FIRST in-bounds position, in row-major window scan order,
    /// that holds the window's maximum; gradients accumulate where windows overlap.
    public static func maxPool2dBackward(
        _ dy: RefTensor, input: RefTensor, kernelH: Int, kernelW: Int,
        strideH: Int, strideW: Int, padH: Int, padW: Int
    ) -> RefTensor {
        let what = "maxPool2dBackward"
        let (n, c, h, w) = rank4(input, what)
        let oh = outputExtent(h, kernel: kernelH, stride: strideH, pad: padH, what)
        let ow = outputExtent(w, kernel: kernelW, stride: strideW, pad: padW, what)
        precondition(dy.shape == [n, c, oh, ow], "\(what): dy must be \([n, c, oh, ow]), got \(dy.shape)")
        let xd = input.data, dyd = dy.data
        var dx = [Double](repeating: 0, count: xd.count)
        for plane in 0..<(n * c) {
            let xBase = plane * h * w, yBase = plane * oh * ow
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = -Double.infinity
                    var bestIndex = -1
                    for ky in 0..<kernelH {
                        let iy = oy * strideH - padH + ky
                        if iy < 0 || iy >= h { continue }
                        for kx in 0..<kernelW {
                            let ix = ox * strideW - padW + kx
                            if ix < 0 || ix >= w { continue }
                            let idx = xBase + iy * w + ix
                            let v = xd[idx]
                            // First in-bounds position always claims the slot, so an all -infinity
                            // window still routes its gradient to its first element.
                            if bestIndex < 0 || v > best {
                                best = v
                                bestIndex = idx
                            }
                        }
                    }
                    if bestIndex >= 0 { dx[bestIndex] += dyd[yBase + oy * ow + ox] }
                }
            }
        }
        return RefTensor(shape: input.shape, data: dx)
    }

    /// Average pooling over the spatial dims of `[N, C, H, W]`, floor-mode output size as for `conv2d`.
    ///
    /// Padded positions contribute zero. With `countIncludePad` the sum is divided by `kernelH*kernelW`,
    /// otherwise by the number of in-bounds positions (a window entirely in the padding yields 0).
    public static func avgPool2d(
        _ x: RefTensor, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
        padH: Int, padW: Int, countIncludePad: Bool
    ) -> RefTensor {
        let what = "avgPool2d"
        let (n, c, h, w) = rank4(x, what)
        let oh = outputExtent(h, kernel: kernelH, stride: strideH, pad: padH, what)
        let ow = outputExtent(w, kernel: kernelW, stride: strideW, pad: padW, what)
        let xd = x.data
        var y = [Double](repeating: 0, count: n * c * oh * ow)
        for plane in 0..<(n * c) {
            let xBase = plane * h * w, yBase = plane * oh * ow
            for oy in 0..<oh {
                let iy0 = oy * strideH - padH
                for ox in 0..<ow {
                    let ix0 = ox * strideW - padW
                    // In-bounds part of the window: rows y0..<y1, columns x0..<x1.
                    let y0 = max(iy0, 0), y1 = min(iy0 + kernelH, h)
                    let x0 = max(ix0, 0), x1 = min(ix0 + kernelW, w)
                    if y1 <= y0 || x1 <= x0 { continue }  // window entirely in the padding
                    let divisor = countIncludePad ? kernelH * kernelW : (y1 - y0) * (x1 - x0)
                    var s = 0.0
                    for iy in y0..<y1 {
                        for ix in x0..<x1 {
                            s += xd[xBase + iy * w + ix]
                        }
                    }
                    y[yBase + oy * ow + ox] = s / Double(divisor)
                }
            }
        }
        return RefTensor(shape: [n, c, oh, ow], data: y)
    }

    /// Gradient of `avgPool2d` with respect to its input (its adjoint): each output's gradient,
    /// divided by the same divisor as the forward, is added to every in-bounds position of its window.
    public static func avgPool2dBackward(
        _ dy: RefTensor, inputShape: [Int], kernelH: Int, kernelW: Int,
        strideH: Int, strideW: Int, padH: Int, padW: Int,
        countIncludePad: Bool
    ) -> RefTensor {
        let what = "avgPool2dBackward"
        precondition(inputShape.count == 4, "\(what): inputShape must be [N, C, H, W], got \(inputShape)")
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let oh = outputExtent(h, kernel: kernelH, stride: strideH, pad: padH, what)
        let ow = outputExtent(w, kernel: kernelW, stride: strideW, pad: padW, what)
        precondition(dy.shape == [n, c, oh, ow], "\(what): dy must be \([n, c, oh, ow]), got \(dy.shape)")
        let dyd = dy.data
        var dx = [Double](repeating: 0, count: n * c * h * w)
        for plane in 0..<(n * c) {
            let xBase = plane * h * w, yBase = plane * oh * ow
            for oy in 0..<oh {
                let iy0 = oy * strideH - padH
                for ox in 0..<ow {
                    let ix0 = ox * strideW - padW
                    // In-bounds part of the window: rows y0..<y1, columns x0..<x1.
                    let y0 = max(iy0, 0), y1 = min(iy0 + kernelH, h)
                    let x0 = max(ix0, 0), x1 = min(ix0 + kernelW, w)
                    if y1 <= y0 || x1 <= x0 { continue }  // window entirely in the padding
                    let divisor = countIncludePad ? kernelH * kernelW : (y1 - y0) * (x1 - x0)
                    let g = dyd[yBase + oy * ow + ox] / Double(divisor)
                    for iy in y0..<y1 {
                        for ix in x0..<x1 {
                            dx[xBase + iy * w + ix] += g
                        }
                    }
                }
            }
        }
        return RefTensor(shape: inputShape, data: dx)
    }
}
