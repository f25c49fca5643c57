#!/usr/bin/env python3
"""Checks `resnext export-onnx` against onnxruntime, run by hand (not in CI: needs onnxruntime, onnx, torch).

1. torchvision's model (random weights, random batch-norm statistics) saved as safetensors, exported with
   `resnext export-onnx --arch ARCH`, run in onnxruntime on a batch at 224×224 and at another size (the
   graph's batch and spatial sizes are symbolic); logits compared with `resnext forward` and with PyTorch.
2. Small CIFAR models exported by the Swift tests (type C with groups, type B with concatenated paths,
   type A zero-padding shortcuts, an ImageNet stem): `swift test -c release --filter ONNXDumpForOnnxruntime` with
   RESNEXT_ONNX_DUMP set writes each model, an input and our logits; onnxruntime's logits are compared.

Each model is also passed through onnx.checker (full check, with shape inference). Prints one JSON line per
comparison; exits non-zero when any max relative error (max |a-b| / max |b|) is above 1e-4.

  .venv-bench/bin/pip install onnxruntime onnx
  .venv-bench/bin/python scripts/check_onnx.py [--arch resnext50_32x4d] [--batch 2] [--skip-swift-tests]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_file import load, save  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-4
failures = []


def report(name, got, expected, **extra):
    rel = float(np.abs(got - expected).max() / np.abs(expected).max())
    print(json.dumps({"check": name, "max_relative_error": rel, "shape": list(got.shape), **extra}), flush=True)
    if not rel <= TOLERANCE:
        failures.append(name)


def session(path):
    onnx.checker.check_model(onnx.load(path), full_check=True)
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def torchvision_check(args, tmp):
    torch.manual_seed(0)
    model = getattr(torchvision.models, args.arch)(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    save(f"{tmp}/weights.safetensors", state)
    subprocess.run([args.binary, "export-onnx", "--arch", args.arch, f"{tmp}/weights.safetensors", f"{tmp}/model.onnx"], check=True)
    sess = session(f"{tmp}/model.onnx")
    for size in (224, 160):
        x = torch.randn(args.batch, 3, size, size + 32 if size != 224 else size)
        with torch.no_grad():
            expected = model(x).numpy()
        save(f"{tmp}/input.safetensors", {"input": x})
        subprocess.run([args.binary, "forward", "--arch", args.arch, "--weights", f"{tmp}/weights.safetensors",
                        "--input", f"{tmp}/input.safetensors", "--output", f"{tmp}/logits.safetensors"], check=True,
                       stdout=subprocess.DEVNULL)
        ours = load(f"{tmp}/logits.safetensors")["logits"]
        onnx_logits = sess.run(["logits"], {"input": x.numpy()})[0]
        tag = f"{args.arch} {list(x.shape)}"
        report(f"onnxruntime vs resnext forward: {tag}", onnx_logits, ours)
        report(f"onnxruntime vs PyTorch: {tag}", onnx_logits, expected)
        report(f"resnext forward vs PyTorch: {tag}", ours, expected)


def swift_test_models(tmp):
    dump = Path(tmp) / "dump"
    dump.mkdir()
    env = dict(os.environ, RESNEXT_ONNX_DUMP=str(dump))
    subprocess.run(["swift", "test", "-c", "release", "--disable-swift-testing", "--filter", "ONNXDumpForOnnxruntime"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    names = sorted(p.stem for p in dump.glob("*.onnx"))
    if not names:
        failures.append("swift test wrote no models")
    for name in names:
        meta = json.loads((dump / f"{name}.json").read_text())
        x = np.fromfile(dump / f"{name}.input.f32", dtype="<f4").reshape(meta["input_shape"])
        ours = np.fromfile(dump / f"{name}.logits.f32", dtype="<f4").reshape(meta["logits_shape"])
        got = session(str(dump / f"{name}.onnx")).run(["logits"], {"input": x})[0]
        report(f"onnxruntime vs resnext: {name} {list(x.shape)}", got, ours)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnext50_32x4d")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--binary", default=str(ROOT / ".build/release/resnext"))
    p.add_argument("--skip-swift-tests", action="store_true", help="only the torchvision model")
    args = p.parse_args()
    if not Path(args.binary).exists():
        subprocess.run(["swift", "build", "-c", "release", "--product", "resnext"], cwd=ROOT, check=True)
    print(json.dumps({"onnxruntime": ort.__version__, "onnx": onnx.__version__, "torch": torch.__version__,
                      "torchvision": torchvision.__version__}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        torchvision_check(args, tmp)
        if not args.skip_swift_tests:
            swift_test_models(tmp)
    if failures:
        print(f"FAILED (above {TOLERANCE}): {failures}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
