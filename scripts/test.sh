#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine with Swift: installs dependencies, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build --disable-swift-testing
