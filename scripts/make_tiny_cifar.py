#!/usr/bin/env python3
"""Writes a small CIFAR-10 binary release (cifar-10-batches-bin) with learnable, class-dependent images.

Usage: scripts/make_tiny_cifar.py DIR [TRAIN_PER_BATCH] [TEST]
Five training batches of TRAIN_PER_BATCH records (default 100) and a test batch of TEST records (default
100); each record is one label byte then 3 x 32 x 32 pixel bytes, as the real release. Deterministic.
"""
import os
import random
import sys


def records(count, offset, rng):
    out = bytearray()
    for i in range(count):
        label = (i + offset) % 10
        out.append(label)
        for c in range(3):
            for p in range(1024):
                base = (label * 25 + c * 40 + (p % 32) * 2) % 256
                out.append(max(0, min(255, base + rng.randint(-20, 20))))
    return bytes(out)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    folder = os.path.join(sys.argv[1], "cifar-10-batches-bin")
    per_batch = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    test = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(1)
    for b in range(1, 6):
        with open(os.path.join(folder, f"data_batch_{b}.bin"), "wb") as f:
            f.write(records(per_batch, b, rng))
    with open(os.path.join(folder, "test_batch.bin"), "wb") as f:
        f.write(records(test, 0, rng))
    names = "airplane automobile bird cat deer dog frog horse ship truck".split()
    with open(os.path.join(folder, "batches.meta.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
