#!/usr/bin/env python3
"""torchvision + PIL side of scripts/bench_loader.sh, and the generator of its test images.

--make DIR --count N: writes N photo-like 500x375 JPEGs (smooth gradients, shapes, noise; quality 90).
--make-photos DIR: writes scikit-image's nine colour sample photos (astronaut, coffee, chelsea, rocket, both
motorcycles, ihc, hubble_deep_field, retina; 451x300 to 1411x1411, CC0/public domain per skimage.data) as
quality-90 JPEGs at their own sizes, 22 copies each (198 files); the wheel comes from PyPI (pip download).
--data DIR: decode + RandomResizedCrop(224, bicubic) + ColorJitter(0.4, 0.4, 0.4) + ToTensor + PCA
lighting + Normalize + RandomHorizontalFlip on one thread (--transform eval: Resize(256, bicubic) +
CenterCrop(224) + ToTensor + Normalize); prints images/s as JSON.
"""
import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def make(directory, count):
    d = Path(directory)
    if d.exists() and len(list(d.glob("*.jpg"))) >= count:
        return
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:375, 0:500]
    for i in range(count):
        base = np.stack([(xx * rng.uniform(0.2, 0.6) + yy * rng.uniform(0.1, 0.4) + rng.uniform(0, 255)) % 256
                         for _ in range(3)], axis=-1)
        base += rng.normal(0, 12, base.shape)
        img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(8):
            x, y = rng.integers(0, 450), rng.integers(0, 325)
            draw.ellipse([x, y, x + rng.integers(20, 120), y + rng.integers(20, 120)], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        img.save(d / f"img{i:04d}.jpg", quality=90)


PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png",
          "ihc.png", "hubble_deep_field.jpg", "retina.jpg"]


def make_photos(directory, copies=22):
    d = Path(directory)
    if d.exists() and len(list(d.glob("*.jpg"))) >= copies * len(PHOTOS):
        return
    d.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "scikit-image==0.25.2", "-d", tmp],
                       check=True)
        with zipfile.ZipFile(next(Path(tmp).glob("scikit_image-*.whl"))) as z:
            for name in PHOTOS:
                image = Image.open(io.BytesIO(z.read("skimage/data/" + name))).convert("RGB")
                for copy in range(copies):
                    image.save(d / f"{name.split('.')[0]}_{copy:02d}.jpg", quality=90)


def bench(directory, passes, kind="train"):
    import torch
    import torchvision.transforms as T
    torch.set_num_threads(1)
    eigval = torch.tensor([0.2175, 0.0188, 0.0045])
    eigvec = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])

    def lighting(t):
        alpha = torch.randn(3) * 0.1
        return t + (eigvec @ (alpha * eigval)).view(3, 1, 1)

    normalize = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    if kind == "eval":
        transform = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(), normalize])
    else:
        transform = T.Compose([T.RandomResizedCrop(224, interpolation=T.InterpolationMode.BICUBIC), T.ColorJitter(0.4, 0.4, 0.4),
                               T.ToTensor(), T.Lambda(lighting), normalize, T.RandomHorizontalFlip()])
    files = sorted(Path(directory).glob("*.jpg"))
    start = time.perf_counter()
    n = 0
    for _ in range(passes):
        for f in files:
            with Image.open(f) as im:
                transform(im.convert("RGB"))
            n += 1
    rate = n / (time.perf_counter() - start)
    print(json.dumps({"impl": "torchvision+PIL", "transform": kind, "images": n, "threads": 1, "images_per_second": round(rate, 1)}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--make")
    p.add_argument("--make-photos")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--data")
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--transform", default="train", choices=["train", "eval"],
                   help="train (default) or eval: Resize(256, bicubic) + CenterCrop(224) + ToTensor + Normalize")
    a = p.parse_args()
    if a.make:
        make(a.make, a.count)
    if a.make_photos:
        make_photos(a.make_photos)
    if a.data:
        bench(a.data, a.passes, a.transform)
