#!/usr/bin/env bash
# Loader throughput against torchvision + PIL in one run: decode + ImageNet train transform on the same
# 500×375 JPEGs on one core (images/s). Two Swift figures: `direct` decodes and transforms file after file
# on one thread, exactly what the PyTorch script times; `loader` goes through the BatchLoader (one worker
# thread plus batch assembly, which the PyTorch side does not do).
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
direct_json=$(.build/release/resnext bench-loader --data "$images" --passes 3 --direct --json)
torch_json=$("$venv/bin/python" scripts/bench_loader_pytorch.py --data "$images" --passes 3)
loader_json=$(.build/release/resnext bench-loader --data "$images" --threads 1 --passes 3 --json)
echo "$direct_json"
echo "$torch_json"
echo "$loader_json"
python3 - "$direct_json" "$torch_json" "$loader_json" <<'PY'
import json, sys
d, t, l = (json.loads(a) for a in sys.argv[1:4])
torch = t['images_per_second']
print(f"resnext-swift {d['images_per_second']:.1f} img/s direct ({d['images_per_second'] / torch:.2f}x), "
      f"{l['images_per_second']:.1f} img/s through the loader ({l['images_per_second'] / torch:.2f}x); "
      f"torchvision+PIL {torch:.1f} img/s per core")
PY
