#!/usr/bin/env python3
"""Full-size parity check against torchvision, run by hand (weights are ~100 MB, not committed).

Builds torchvision's model (random weights and random batch-norm statistics: this machine cannot
download the pretrained ones), saves its state_dict and a batch of inputs as safetensors, runs
`resnext forward` on them and compares the logits with PyTorch's.

  .venv-bench/bin/python scripts/check_torchvision_parity.py [--arch resnext50_32x4d] [--batch 2]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_file import load, save  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnext50_32x4d")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--binary", default=str(ROOT / ".build/release/resnext"))
    args = p.parse_args()
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
    x = torch.randn(args.batch, 3, 224, 224)
    with torch.no_grad():
        expected = model(x).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        save(f"{tmp}/weights.safetensors", state)
        save(f"{tmp}/input.safetensors", {"input": x})
        subprocess.run([args.binary, "forward", "--arch", args.arch, "--weights", f"{tmp}/weights.safetensors",
                        "--input", f"{tmp}/input.safetensors", "--output", f"{tmp}/logits.safetensors"], check=True)
        got = load(f"{tmp}/logits.safetensors")["logits"]
    rel = float(np.abs(got - expected).max() / np.abs(expected).max())
    same_top5 = all(set(np.argsort(-got[i])[:5]) == set(np.argsort(-expected[i])[:5]) for i in range(args.batch))
    print(json.dumps({"arch": args.arch, "batch": args.batch, "torch": torch.__version__, "torchvision": torchvision.__version__,
                      "max_relative_error": rel, "same_top5": same_top5}))
    sys.exit(0 if rel < 1e-4 else 1)


if __name__ == "__main__":
    main()
