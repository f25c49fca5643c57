#!/usr/bin/env python3
"""Runs only the rows of pytorch_baseline.py that `resnext bench --arch` measures in scripts/gpu_check.sh
(fp32 with TF32 convolutions, NCHW): resnext50_32x4d batch 256 train and inference, ResNeXt-29 8x64d
batch 128 train. The baseline's own definitions (models, `bench`: 6 warm-up steps, median of 20, CUDA
events, peak memory) are taken from the file itself, so the method is the same; its top-level runs
(every configuration, the matmul and copy ceilings) are skipped. Prints one JSON line per row.

Usage: python3 scripts/gpu_pytorch_rows.py PATH/pytorch_baseline.py [--list]
"""
import ast
import sys

ROWS = [  # name, batch, image size, classes, train, channels_last, bf16
    ("resnext50_32x4d", 256, 224, 1000, True, False, False),
    ("resnext50_32x4d", 256, 224, 1000, False, False, False),
    ("resnext29_8x64d", 128, 32, 10, True, False, False),
]


def definitions(path):
    """The baseline's imports, assignments, functions and classes up to its first run (`torch.manual_seed`)."""
    tree = ast.parse(open(path).read(), path)
    kept = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and "manual_seed" in ast.unparse(node):
            break
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign)):
            kept.append(node)
    names = {n.name for n in kept if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    missing = {"bench", "resnext29"} - names
    if missing:
        sys.exit(f"gpu_pytorch_rows: {path} has no {', '.join(sorted(missing))}: the baseline changed")
    return ast.Module(body=kept, type_ignores=[])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    module = definitions(sys.argv[1])
    if "--list" in sys.argv[2:]:
        for row in ROWS:
            print(row)
        return
    scope = {"__name__": "pytorch_baseline"}
    exec(compile(module, sys.argv[1], "exec"), scope)
    torch, torchvision = scope["torch"], scope["torchvision"]
    torch.manual_seed(0)
    print("torch", torch.__version__, "cudnn", torch.backends.cudnn.version(), torch.cuda.get_device_name(), flush=True)
    for name, batch, size, classes, train, channels_last, bf16 in ROWS:
        model = torchvision.models.resnext50_32x4d(weights=None) if name == "resnext50_32x4d" else scope["resnext29"](8, 64)
        scope["bench"](name, model, batch, size, classes, train, channels_last, bf16)


if __name__ == "__main__":
    main()
