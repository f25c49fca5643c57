#!/usr/bin/env bash
# Loader throughput against torchvision + PIL in one run: decode + ImageNet train transform on the same
# 500×375 JPEGs, one worker thread each (images/s per core).
#   scripts/bench_loader.sh [--install-torch]      (uses .venv-bench, as scripts/bench_cpu.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv-bench}
if [ "${1:-}" = "--install-torch" ]; then
    [ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q torch torchvision; }
fi
[ -x "$venv/bin/python" ] || { echo "no PyTorch venv at $venv: run with --install-torch (or set VENV)" >&2; exit 2; }
images=${IMAGES:-/tmp/resnext-loader-bench}
"$venv/bin/python" scripts/bench_loader_pytorch.py --make "$images" --count 200
swift build -c release --product resnext >&2
swift_json=$(.build/release/resnext bench-loader --data "$images" --threads 1 --passes 3 --json)
torch_json=$("$venv/bin/python" scripts/bench_loader_pytorch.py --data "$images" --passes 3)
echo "$swift_json"
echo "$torch_json"
python3 - "$swift_json" "$torch_json" <<'PY'
import json, sys
s, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"resnext-swift {s['images_per_second']:.1f} img/s, torchvision+PIL {t['images_per_second']:.1f} img/s per core: "
      f"{s['images_per_second'] / t['images_per_second']:.2f}x")
PY
