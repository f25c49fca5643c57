#!/usr/bin/env bash
# Loader throughput against torchvision + PIL in one run: decode + ImageNet train transform on the same
# JPEGs on one core (images/s), for two sets: 200 generated photo-like 500×375 files, and scikit-image's
# nine colour sample photos at their own sizes (22 copies each). Two Swift figures: `direct` decodes and transforms file after file
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
synthetic=${IMAGES:-/tmp/resnext-loader-bench}
photos=${PHOTOS:-/tmp/resnext-photo-bench}
"$venv/bin/python" scripts/bench_loader_pytorch.py --make "$synthetic" --count 200
"$venv/bin/python" scripts/bench_loader_pytorch.py --make-photos "$photos"
swift build -c release --product resnext >&2
# ROUNDS rounds (default 5) per image set, the three measurements interleaved in each, so that drift on a
# shared machine hits all of them alike; the summary takes the median of each.
rounds=${ROUNDS:-5}
for images in "$synthetic" "$photos"; do
    results=()
    for _ in $(seq "$rounds"); do
        results+=("$(.build/release/resnext bench-loader --data "$images" --passes 3 --direct --json)")
        results+=("$("$venv/bin/python" scripts/bench_loader_pytorch.py --data "$images" --passes 3)")
        results+=("$(.build/release/resnext bench-loader --data "$images" --threads 1 --passes 3 --json)")
    done
    printf '%s\n' "${results[@]}"
    python3 - "$images" "${results[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[2:]]
def rates(pred):
    return [r["images_per_second"] for r in runs if pred(r)]
direct = rates(lambda r: r.get("mode") == "direct")
loader = rates(lambda r: r.get("mode") == "loader")
torch = rates(lambda r: r["impl"] == "torchvision+PIL")
d, l, t = (statistics.median(x) for x in (direct, loader, torch))
print(f"{sys.argv[1]}: medians of {len(torch)} rounds: resnext-swift {d:.1f} img/s direct ({d / t:.2f}x), {l:.1f} img/s "
      f"through the loader ({l / t:.2f}x); torchvision+PIL {t:.1f} img/s per core")
print("  per round, direct / loader ratio: " + ", ".join(f"{a / c:.2f}/{b / c:.2f}" for a, b, c in zip(direct, loader, torch)))
PY
done
