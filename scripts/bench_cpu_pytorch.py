#!/usr/bin/env python3
"""The shapes of `resnext bench`, run in PyTorch on the CPU; prints the same JSON lines.

Forward FLOPs count 2 per multiply-add of the convolutions only; "train" is forward + backward (3x).
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_case(name, n, size, cin, cout, k, groups):
    x = torch.rand(n, cin, size, size) * 2 - 1
    w = torch.randn(cout, cin // groups, k, k) * 0.05
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    dy = torch.full((n, cout, size, size), 0.01)
    flops = 2.0 * n * size * size * cout * (cin // groups) * k * k

    def forward():
        with torch.no_grad():
            F.conv2d(x, w, padding=k // 2, groups=groups)

    def train():
        y = F.conv2d(xg, wg, padding=k // 2, groups=groups)
        y.backward(dy)
        xg.grad = None
        wg.grad = None

    return name, flops, forward, train


class Bottleneck(nn.Module):
    """ResNeXt-50 32x4d first-stage block, identity shortcut (as torchvision's Bottleneck)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(256, 128, 1, bias=False), nn.BatchNorm2d(128)
        self.conv2, self.bn2 = nn.Conv2d(128, 128, 3, padding=1, groups=32, bias=False), nn.BatchNorm2d(128)
        self.conv3, self.bn3 = nn.Conv2d(128, 256, 1, bias=False), nn.BatchNorm2d(256)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return F.relu(self.bn3(self.conv3(y)) + x)


def bottleneck_case(n, size):
    block = Bottleneck()
    x = torch.rand(n, 256, size, size) * 2 - 1
    xg = x.clone().requires_grad_()
    dy = torch.full((n, 256, size, size), 0.01)
    flops = 2.0 * n * size * size * (256 * 128 + 128 * 4 * 9 + 128 * 256)

    def forward():
        block.eval()
        with torch.no_grad():
            block(x)

    def train():
        block.train()
        block(xg).backward(dy)
        block.zero_grad(set_to_none=True)
        xg.grad = None

    return "bottleneck", flops, forward, train


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=56)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cases", default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n, s = args.batch, args.size
    cases = [
        conv_case("grouped3x3", n, s, 256, 256, 3, 32),
        conv_case("grouped3x3_4pg", n, s, 128, 128, 3, 32),
        conv_case("dense3x3", n, s, 256, 256, 3, 1),
        bottleneck_case(n, s),
    ]
    wanted = set(args.cases.split(",")) if args.cases else None
    for name, flops, forward, train in cases:
        if wanted and name not in wanted:
            continue
        for mode, fn in (("forward", forward), ("train", train)):
            fn()
            times = []
            for _ in range(args.iterations):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            median = statistics.median(times)
            total = flops * (1 if mode == "forward" else 3)
            print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "case": name, "mode": mode, "batch": n, "size": s,
                              "threads": torch.get_num_threads(), "ms": round(median * 1000, 3),
                              "gflops": round(total / median / 1e9, 3)}), flush=True)


if __name__ == "__main__":
    main()
