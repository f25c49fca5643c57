extension Reference {
    /// Checked geometry shared by the convolution routines.
    private struct ConvGeometry {
        var n, c, h, w: Int  // input
        var o, cg, kh, kw: Int  // weight [O, C/groups, KH, KW]
        var og: Int  // output channels per group
        var oh, ow: Int  // output spatial extent
    }

    private static func convGeometry(
        input: [Int], weight: [Int], strideH: Int, strideW: Int,
        padH: Int, padW: Int, groups: Int, _ what: String
    ) -> ConvGeometry {
        precondition(input.count == 4, "\(what): input must be [N, C, H, W], got \(input)")
        precondition(weight.count == 4, "\(what): weight must be [O, C/groups, KH, KW], got \(weight)")
        precondition(groups >= 1, "\(what): groups must be positive, got \(groups)")
        let (n, c, h, w) = (input[0], input[1], input[2], input[3])
        let (o, cg, kh, kw) = (weight[0], weight[1], weight[2], weight[3])
        precondition(
            c % groups == 0 && o % groups == 0,
            "\(what): channels \(c) and outputs \(o) must be divisible by groups \(groups)")
        precondition(cg == c / groups, "\(what): weight \(weight) does not match input \(input) with groups \(groups)")
        let oh = outputExtent(h, kernel: kh, stride: strideH, pad: padH, what)
        let ow = outputExtent(w, kernel: kw, stride: strideW, pad: padW, what)
        return ConvGeometry(n: n, c: c, h: h, w: w, o: o, cg: cg, kh: kh, kw: kw, og: o / groups, oh: oh, ow: ow)
    }

    /// 2-D convolution (cross-correlation) with zero padding.
    ///
    /// `x` is `[N, C, H, W]`, `weight` is `[O, C/groups, KH, KW]` (PyTorch layout), `bias` is `[O]`.
    /// The output is `[N, O, OH, OW]` with `OH = (H + 2*padH - KH) / strideH + 1` (floor), likewise `OW`.
    public static func conv2d(
        _ x: RefTensor, weight: RefTensor, bias: RefTensor?, strideH: Int, strideW: Int,
        padH: Int, padW: Int, groups: Int
    ) -> RefTensor {
        let g = convGeometry(
            input: x.shape, weight: weight.shape, strideH: strideH, strideW: strideW,
            padH: padH, padW: padW, groups: groups, "conv2d")
        if let bias { precondition(bias.shape == [g.o], "conv2d: bias must be [\(g.o)], got \(bias.shape)") }
        let xd = x.data, wd = weight.data
        var y = [Double](repeating: 0, count: g.n * g.o * g.oh * g.ow)
        let xPlane = g.h * g.w, yPlane = g.oh * g.ow, wPlane = g.kh * g.kw
        for n in 0..<g.n {
            for oc in 0..<g.o {
                let grp = oc / g.og
                let yBase = (n * g.o + oc) * yPlane
                let b = bias?.data[oc] ?? 0
                for i in 0..<yPlane { y[yBase + i] = b }
                for ic in 0..<g.cg {
                    let xBase = (n * g.c + grp * g.cg + ic) * xPlane
                    let wBase = (oc * g.cg + ic) * wPlane
                    for ky in 0..<g.kh {
                        for kx in 0..<g.kw {
                            let wv = wd[wBase + ky * g.kw + kx]
                            for oy in 0..<g.oh {
                                let iy = oy * strideH - padH + ky
                                if iy < 0 || iy >= g.h { continue }
                                let xRow = xBase + iy * g.w
                                let yRow = yBase + oy * g.ow
                                for ox in 0..<g.ow {
                                    let ix = ox * strideW - padW + kx
                                    if ix < 0 || ix >= g.w { continue }
                                    y[yRow + ox] += wv * xd[xRow + ix]
                                }
                            }
                        }
                    }
                }
            }
        }
        return RefTensor(shape: [g.n, g.o, g.oh, g.ow], data: y)
    }

    /// Gradient of `conv2d` with respect to its input: the adjoint of the convolution.
    ///
    /// `dy` is `[N, O, OH, OW]`; returns a tensor of `inputShape` (`[N, C, H, W]`).
    public static func conv2dBackwardData(
        _ dy: RefTensor, weight: RefTensor, inputShape: [Int], strideH: Int,
        strideW: Int, padH: Int, padW: Int, groups: Int
    ) -> RefTensor {
        let g = convGeometry(
            input: inputShape, weight: weight.shape, strideH: strideH, strideW: strideW,
            padH: padH, padW: padW, groups: groups, "conv2dBackwardData")
        precondition(
            dy.shape == [g.n, g.o, g.oh, g.ow],
            "conv2dBackwardData: dy must be \([g.n, g.o, g.oh, g.ow]), got \(dy.shape)")
        let dyd = dy.data, wd = weight.data
        var dx = [Double](repeating: 0, count: g.n * g.c * g.h * g.w)
        let xPlane = g.h * g.w, yPlane = g.oh * g.ow, wPlane = g.kh * g.kw
        for n in 0..<g.n {
            for oc in 0..<g.o {
                let grp = oc / g.og
                let yBase = (n * g.o + oc) * yPlane
                for ic in 0..<g.cg {
                    let xBase = (n * g.c + grp * g.cg + ic) * xPlane
                    let wBase = (oc * g.cg + ic) * wPlane
                    for ky in 0..<g.kh {
                        for kx in 0..<g.kw {
                            let wv = wd[wBase + ky * g.kw + kx]
                            for oy in 0..<g.oh {
                                let iy = oy * strideH - padH + ky
                                if iy < 0 || iy >= g.h { continue }
                                let xRow = xBase + iy * g.w
                                let yRow = yBase + oy * g.ow
                                for ox in 0..<g.ow {
                                    let ix = ox * strideW - padW + kx
                                    if ix < 0 || ix >= g.w { continue }
                                    dx[xRow + ix] += wv * dyd[yRow + ox]
                                }
                            }
                        }
                    }
                }
            }
        }
        return RefTensor(shape: inputShape, data: dx)
    }

    /// Gradients of `conv2d` with respect to its weight and bias.
    ///
    /// `dy` is `[N, O, OH, OW]`, `input` is `[N, C, H, W]`; returns `weight` of `weightShape`
    /// and `bias` `[O]`, the sum of `dy` over N, OH, OW.
    public static func conv2dBackwardWeights(
        _ dy: RefTensor, input: RefTensor, weightShape: [Int], strideH: Int,
        strideW: Int, padH: Int, padW: Int,
        groups: Int
    ) -> (weight: RefTensor, bias: RefTensor) {
        let g = convGeometry(
            input: input.shape, weight: weightShape, strideH: strideH, strideW: strideW,
            padH: padH, padW: padW, groups: groups, "conv2dBackwardWeights")
        precondition(
            dy.shape == [g.n, g.o, g.oh, g.ow],
            "conv2dBackwardWeights: dy must be \([g.n, g.o, g.oh, g.ow]), got \(dy.shape)")
        let dyd = dy.data, xd = input.data
        var dw = [Double](repeating: 0, count: g.o * g.cg * g.kh * g.kw)
        var db = [Double](repeating: 0, count: g.o)
        let xPlane = g.h * g.w, yPlane = g.oh * g.ow, wPlane = g.kh * g.kw
        for n in 0..<g.n {
            for oc in 0..<g.o {
                let grp = oc / g.og
                let yBase = (n * g.o + oc) * yPlane
                var bsum = 0.0
                for i in 0..<yPlane { bsum += dyd[yBase + i] }
                db[oc] += bsum
                for ic in 0..<g.cg {
                    let xBase = (n * g.c + grp * g.cg + ic) * xPlane
                    let wBase = (oc * g.cg + ic) * wPlane
                    for ky in 0..<g.kh {
                        for kx in 0..<g.kw {
                            var acc = 0.0
                            for oy in 0..<g.oh {
                                let iy = oy * strideH - padH + ky
                                if iy < 0 || iy >= g.h { continue }
                                let xRow = xBase + iy * g.w
                                let yRow = yBase + oy * g.ow
                                for ox in 0..<g.ow {
                                    let ix = ox * strideW - padW + kx
                                    if ix < 0 || ix >= g.w { continue }
                                    acc += dyd[yRow + ox] * xd[xRow + ix]
                                }
                            }
                            dw[wBase + ky * g.kw + kx] += acc
                        }
                    }
                }
            }
        }
        return (RefTensor(shape: weightShape, data: dw), RefTensor(shape: [g.o], data: db))
    }
}
