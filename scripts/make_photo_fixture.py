#!/usr/bin/env python3
"""Writes Tests/ResNeXtModelsTests/Fixtures/chelsea.jpg (scikit-image's sample photo of Chelsea the cat,
451x300; "No copyright restrictions. CC0 by the photographer (Stefan van der Walt)" per skimage.data.chelsea) and chelsea_torchvision.safetensors: torchvision's
evaluation preprocessing of it (Resize(256, bicubic) -> CenterCrop(224) -> ToTensor -> Normalize) sampled on
a 16x16 grid (every 14th pixel), for comparing our preprocessing with PIL/torchvision's.

Needs pip (downloads the scikit-image wheel from PyPI) and torchvision + PIL:
  .venv-bench/bin/python scripts/make_photo_fixture.py
"""
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
import torchvision.transforms as T
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_file import save  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "Tests" / "ResNeXtModelsTests" / "Fixtures"


def main():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "scikit-image==0.25.2", "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("scikit_image-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            png = z.read("skimage/data/chelsea.png")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    OUT.mkdir(parents=True, exist_ok=True)
    image.save(OUT / "chelsea.jpg", quality=85)
    decoded = Image.open(OUT / "chelsea.jpg").convert("RGB")
    pipeline = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
                          T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = pipeline(decoded)
    save(OUT / "chelsea_torchvision.safetensors", {"grid": x[:, ::14, ::14].contiguous(), "channel_mean": x.mean(dim=(1, 2))})
    print(decoded.size, x.shape, x.mean(dim=(1, 2)).tolist())


if __name__ == "__main__":
    main()
