#!/usr/bin/env bash
# CPU benchmark against PyTorch in one run: `resnext bench` and the same shapes in PyTorch, then a
# ratio table (>1 means resnext-swift is faster).
#   scripts/bench_cpu.sh [--install-torch] [resnext bench options, e.g. --batch 16 --iterations 5]
# --install-torch creates .venv-bench with torch from PyPI (a few GB) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv-bench}
if [ "${1:-}" = "--install-torch" ]; then
    shift
    [ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q torch; }
fi
[ -x "$venv/bin/python" ] || { echo "no PyTorch venv at $venv: run with --install-torch (or set VENV)" >&2; exit 2; }
swift build -c release --product resnext >&2
out=$(mktemp -d)
threads=$(nproc)
.build/release/resnext bench --json --threads "$threads" "$@" | tee "$out/swift.jsonl"
"$venv/bin/python" scripts/bench_cpu_pytorch.py --threads "$threads" "$@" | tee "$out/torch.jsonl"
python3 - "$out/swift.jsonl" "$out/torch.jsonl" <<'PY'
import json, sys, platform, subprocess
swift = {(r["case"], r["mode"]): r for r in map(json.loads, open(sys.argv[1]))}
torch = {(r["case"], r["mode"]): r for r in map(json.loads, open(sys.argv[2]))}
cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()
print(f"\n{cpu}, {next(iter(swift.values()))['threads']} threads, torch {next(iter(torch.values()))['torch']}")
print("| case | mode | resnext-swift ms | GFLOP/s | PyTorch ms | GFLOP/s | speed ratio |")
print("|---|---|---|---|---|---|---|")
for key, s in swift.items():
    t = torch.get(key)
    if t:
        print(f"| {key[0]} | {key[1]} | {s['ms']:.1f} | {s['gflops']:.1f} | {t['ms']:.1f} | {t['gflops']:.1f} | {t['ms'] / s['ms']:.2f}x |")
PY
