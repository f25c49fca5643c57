#!/usr/bin/env python3
"""Generates Tests/ResNeXtModelsTests/Fixtures/tiny_resnext_*.safetensors with PyTorch + torchvision.

A torchvision-style ResNeXt built from torchvision's own `Bottleneck` blocks, small enough to commit:
ImageNet stem with 8 channels, one block per stage with planes 2/4/8/16 (outputs 8/16/32/64), 4 groups,
base width 32, 5 classes. Random weights and random batch-norm statistics; eval mode. Saves the
state_dict (torchvision names) and an input with its logits. Needs torch and torchvision (not needed to
run the tests): `.venv-bench/bin/python scripts/make_tiny_resnext_fixture.py`.
"""
import sys
from pathlib import Path

import torch
import torch.nn as nn
from torchvision.models.resnet import Bottleneck

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_file import save as save_safetensors  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "Tests" / "ResNeXtModelsTests" / "Fixtures"


class TinyResNeXt(nn.Module):
    """torchvision's ResNet layout (conv1 bn1 relu maxpool layer1-4 avgpool fc) at a small width."""

    def __init__(self, stem=8, planes=(2, 4, 8, 16), groups=4, width_per_group=32, classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = stem
        for i, p in enumerate(planes):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or inplanes != p * 4:   # as torchvision's ResNet._make_layer
                down = nn.Sequential(nn.Conv2d(inplanes, p * 4, 1, stride, bias=False), nn.BatchNorm2d(p * 4))
            block = Bottleneck(inplanes, p, stride, down, groups=groups, base_width=width_per_group)
            setattr(self, f"layer{i + 1}", nn.Sequential(block))
            inplanes = p * 4
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def make_model():
    """The fixture's model: seeded weights and random batch-norm statistics, eval mode."""
    torch.manual_seed(20261127)
    model = TinyResNeXt()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def main():
    model = make_model()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
    state = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    # One training-mode step: logits with batch statistics, cross-entropy on fixed labels, gradients of
    # every parameter, and the running statistics after the update (momentum 0.1, unbiased variance).
    model.train()
    labels = torch.tensor([1, 3])
    train_logits = model(x)
    loss = nn.functional.cross_entropy(train_logits, labels)
    loss.backward()
    train = {"train_logits": train_logits.detach(), "labels": labels.to(torch.float32), "loss": loss.detach().reshape(1)}
    train.update({"grad." + n: p.grad for n, p in model.named_parameters()})
    train.update({"after." + n: b for n, b in model.named_buffers() if not n.endswith("num_batches_tracked")})
    OUT.mkdir(parents=True, exist_ok=True)
    save_safetensors(OUT / "tiny_resnext_weights.safetensors", state)
    save_safetensors(OUT / "tiny_resnext_io.safetensors", {"input": x, "logits": logits})
    save_safetensors(OUT / "tiny_resnext_train.safetensors", train)
    print("parameters:", sum(p.numel() for p in model.parameters()), "logits:", logits.tolist())


if __name__ == "__main__":
    main()
