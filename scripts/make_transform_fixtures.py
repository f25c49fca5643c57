#!/usr/bin/env python3
"""Writes the JSON fixtures of Tests/ResNeXtTransformsTests/Fixtures/ from an independent numpy implementation
of the transform formulas of the original's datasets/transforms.lua (float64 throughout; inputs are float32-exact).

    .venv-bench/bin/python scripts/make_transform_fixtures.py     # all fixtures (needs Pillow for pil_bicubic)
    python3 scripts/make_transform_fixtures.py                    # numpy-only fixtures; keeps pil_bicubic.json

Fixtures (all images are channels x height x width, flattened row-major):
- bicubic.json: torch/image scaleBicubic (separable, width first; source coordinate d*(S-1)/(D-1); Catmull-Rom
  a=-0.5 written as tap weights; outer neighbours extrapolated 2*p1-p2 / 2*p2-p1; last sample copied).
- crops.json: Scale(size) results and RandomSizedCrop with explicit windows (crop, then bicubic to size x size).
- color.json: greyscale, ColorJitter with explicit alphas and order, Lighting with explicit alphas.
- cifar.json: normalise (CIFAR-10 stats) -> optional flip -> zero-pad 4 -> crop at explicit offsets.
- pil_bicubic.json: Pillow's float ("F") bicubic resize of smooth images, for comparison (not parity): an
  upsampling with a `box` chosen so Pillow samples the same align-corners positions, the same upsampling
  without box, and a downsampling (Pillow anti-aliases; torch does not).
"""
import json
from pathlib import Path

import numpy as np

try:
    from PIL import Image as PILImage
except ImportError:  # numpy-only run
    PILImage = None

OUT = Path(__file__).resolve().parent.parent / "Tests" / "ResNeXtTransformsTests" / "Fixtures"
RNG = np.random.default_rng(20240607)

CIFAR10_MEAN = [125.3, 123.0, 113.9]
CIFAR10_STD = [63.0, 62.1, 66.7]
EIGVAL = np.array([0.2175, 0.0188, 0.0045])
EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                   [-0.5808, -0.0045, -0.8140],
                   [-0.5836, -0.6948, 0.4203]])


def exact(a):
    """Rounds to float32 and to 9 significant digits, so Swift reads back the very same Float values."""
    return np.array([float("%.9g" % v) for v in np.asarray(a, dtype=np.float32).ravel()]).reshape(np.shape(a))


def values(a, digits=9):
    return [float("%.*g" % (digits, v)) for v in np.asarray(a, dtype=np.float64).ravel()]


def image_json(img):
    c, h, w = img.shape
    return {"channels": c, "height": h, "width": w, "pixels": values(img)}


def random_image(c, h, w, low=0.0, high=1.0):
    return exact(RNG.uniform(low, high, (c, h, w)))


# --- bicubic (torch/image scaleBicubic) -------------------------------------------------------------------------

def catmull_rom_weights(t):
    return np.array([((-0.5 * t + 1.0) * t - 0.5) * t,
                     (1.5 * t - 2.5) * t * t + 1.0,
                     ((-1.5 * t + 2.0) * t + 0.5) * t,
                     (0.5 * t - 0.5) * t * t])


def resize_1d(v, dst):
    n = len(v)
    if n == dst:
        return v.copy()
    if n == 1:
        return np.full(dst, v[0])
    out = np.empty(dst)
    for d in range(dst - 1):
        s = d * (n - 1) / (dst - 1)
        i = min(int(np.floor(s)), n - 2)
        p1, p2 = v[i], v[i + 1]
        p0 = v[i - 1] if i > 0 else 2 * p1 - p2
        p3 = v[i + 2] if i + 2 < n else 2 * p2 - p1
        out[d] = catmull_rom_weights(s - i) @ np.array([p0, p1, p2, p3])
    out[-1] = v[-1]
    return out


def resize_bicubic(img, width, height):
    c, h, _ = img.shape
    tmp = np.array([[resize_1d(img[k, y], width) for y in range(h)] for k in range(c)])
    return np.array([np.stack([resize_1d(tmp[k, :, x], height) for x in range(width)], axis=1) for k in range(c)])


def bicubic_fixture():
    cases = []
    for c, h, w, out_h, out_w in [(2, 5, 4, 9, 7),    # upsample both axes
                                  (1, 6, 7, 3, 5),    # downsample both axes
                                  (3, 4, 6, 10, 3),   # up in height, down in width
                                  (1, 7, 1, 3, 4),    # source width 1 (replicated)
                                  (1, 3, 5, 1, 5),    # target height 1 (last row), width unchanged
                                  (1, 5, 5, 5, 5)]:   # identity
        img = random_image(c, h, w)
        cases.append({"input": image_json(img), "width": out_w, "height": out_h,
                      "expected": values(resize_bicubic(img, out_w, out_h), 8)})
    return {"cases": cases}


# --- Scale / RandomSizedCrop ------------------------------------------------------------------------------------

def scale_shorter(img, size):
    _, h, w = img.shape
    if (w <= h and w == size) or (h <= w and h == size):
        return img
    if w < h:
        return resize_bicubic(img, size, int(h / w * size))
    return resize_bicubic(img, int(w / h * size), size)


def crops_fixture():
    img = random_image(3, 9, 8)
    sized = []
    for x, y, w, h, size in [(2, 3, 5, 6, 7), (0, 0, 8, 9, 5), (7, 8, 1, 1, 3)]:
        out = resize_bicubic(img[:, y:y + h, x:x + w], size, size)
        sized.append({"x": x, "y": y, "width": w, "height": h, "size": size, "expected": values(out, 8)})
    scales = []
    for size in [6, 8]:  # 6: 8x9 -> 6 wide, Int(9/8*6) = Int(6.75) = 6 high; 8: untouched
        out = scale_shorter(img, size)
        scales.append({"size": size, "height": out.shape[1], "width": out.shape[2], "expected": values(out, 8)})
    return {"input": image_json(img), "randomSizedCrop": sized, "scale": scales}


# --- colour -----------------------------------------------------------------------------------------------------

def gray(img):
    return 0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]


def color_jitter(img, alphas, order):
    img = img.copy()
    for k in order:
        a = alphas[k]
        if k == 0:
            other = np.zeros_like(img)
        elif k == 1:
            other = np.full_like(img, gray(img).mean())
        else:
            other = np.broadcast_to(gray(img), img.shape)
        img = img * a + (1 - a) * other
    return img


def lighting(img, alphas):
    return img + (EIGVEC @ (np.asarray(alphas) * EIGVAL))[:, None, None]


def color_fixture():
    img = random_image(3, 5, 6)
    jitters = []
    for alphas, order in [([1.3, 0.7, 1.25], [0, 1, 2]), ([0.65, 1.38, 0.81], [2, 0, 1]),
                          ([1.1, 0.9, 1.4], [1, 2, 0]), ([0.75, 1.2, 0.6], [2, 1]), ([1.0, 1.0, 1.0], [0, 1, 2])]:
        jitters.append({"alphas": alphas, "order": order, "expected": values(color_jitter(img, alphas, order), 8)})
    lights = []
    for alphas in [[0.1, -0.05, 0.2], [-0.23, 0.17, -0.02]]:
        lights.append({"alphas": alphas, "expected": values(lighting(img, alphas), 8)})
    return {"input": image_json(img), "grayscale": values(gray(img), 8), "colorJitter": jitters, "lighting": lights}


# --- CIFAR pad + crop -------------------------------------------------------------------------------------------

def cifar_fixture():
    img = exact(RNG.integers(0, 256, (3, 8, 8)).astype(np.float64))
    norm = (img - np.array(CIFAR10_MEAN)[:, None, None]) / np.array(CIFAR10_STD)[:, None, None]
    cases = []
    for flip, x, y in [(False, 3, 7), (True, 0, 8), (True, 8, 0), (False, 4, 4)]:
        padded = np.pad(norm[:, :, ::-1] if flip else norm, ((0, 0), (4, 4), (4, 4)))
        cases.append({"flip": flip, "x": x, "y": y, "expected": values(padded[:, y:y + 8, x:x + 8], 8)})
    return {"input": image_json(img), "cases": cases}


# --- Pillow comparison ------------------------------------------------------------------------------------------

def smooth(h, w):
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return exact((0.5 + 0.3 * np.sin(0.45 * xs + 0.2) * np.cos(0.35 * ys) + 0.1 * xs / w)[None])


def pil_resize(plane, w, h, box=None):
    im = PILImage.fromarray(plane.astype(np.float32))
    assert im.mode == "F"
    return np.asarray(im.resize((w, h), PILImage.Resampling.BICUBIC, box=box), dtype=np.float64)


def aligned_box(src_w, src_h, dst_w, dst_h):
    """Pillow samples output d at source (box0 + (d + 0.5)·scale − 0.5); choose box so that equals d·(S−1)/(D−1)."""
    sx, sy = (src_w - 1) / (dst_w - 1), (src_h - 1) / (dst_h - 1)
    x0, y0 = 0.5 - 0.5 * sx, 0.5 - 0.5 * sy
    return (x0, y0, x0 + dst_w * sx, y0 + dst_h * sy)


def interior_mask(src, dst):
    """Outputs whose four Catmull-Rom taps all lie inside the source (no extrapolation, no Pillow edge clipping)."""
    idx = np.floor(np.arange(dst) * (src - 1) / (dst - 1)).astype(int)
    return (idx >= 1) & (idx + 2 <= src - 1)


def pil_fixture():
    up = smooth(8, 10)
    up_w, up_h = 21, 17
    down = smooth(18, 16)
    down_w, down_h = 6, 7
    pil_aligned = pil_resize(up[0], up_w, up_h, aligned_box(up.shape[2], up.shape[1], up_w, up_h))
    pil_plain = pil_resize(up[0], up_w, up_h)
    pil_down = pil_resize(down[0], down_w, down_h)
    ours_up = resize_bicubic(up, up_w, up_h)[0]
    ours_down = resize_bicubic(down, down_w, down_h)[0]
    interior = interior_mask(up.shape[2], up_w)[None, :] & interior_mask(up.shape[1], up_h)[:, None]
    print("pil: upsample aligned max |diff| %.3g (interior %.3g), plain %.3g; downsample %.3g (mean %.3g)"
          % (abs(ours_up - pil_aligned).max(), abs(ours_up - pil_aligned)[interior].max(),
             abs(ours_up - pil_plain).max(), abs(ours_down - pil_down).max(), abs(ours_down - pil_down).mean()))
    return {"up": image_json(up), "upWidth": up_w, "upHeight": up_h,
            "pilAlignedUp": values(pil_aligned, 8), "pilPlainUp": values(pil_plain, 8),
            "down": image_json(down), "downWidth": down_w, "downHeight": down_h, "pilDown": values(pil_down, 8)}


def write(name, obj):
    path = OUT / name
    path.write_text(json.dumps(obj, separators=(",", ":")) + "\n")
    print("%s: %d bytes" % (path.name, path.stat().st_size))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    write("bicubic.json", bicubic_fixture())
    write("crops.json", crops_fixture())
    write("color.json", color_fixture())
    write("cifar.json", cifar_fixture())
    if PILImage is not None:
        write("pil_bicubic.json", pil_fixture())
    else:
        print("Pillow not available: pil_bicubic.json left as is")


if __name__ == "__main__":
    main()
