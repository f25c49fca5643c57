#!/usr/bin/env bash
# Runs ON the GPU machine (no Swift there), from the repository root with .device/ carried (made by
# scripts/pack_gpu.sh on the build machine). Unpacks .device/resnext-gpu.tar.xz to /tmp, then runs, each
# with its own time limit inside an overall budget:
#   selftest        resnext selftest --device cuda              (CUDA vs CPU, every operation; TF32 on)
#   selftest-fp32   resnext selftest --device cuda --tf32 false  (tolerance 1e-5)
#   bench           resnext bench --json                         (the CPU-side benchmark)
#   pytorch         python3 pytorch_baseline.py                  (PyTorch's numbers on the same GPU, same call)
# Everything goes under $OUT (a temporary folder when unset): one .txt/.jsonl per step, summary.json, and
# a summary table printed last. Exit status: 1 when a selftest failed or a step could not run, else 0.
# Usage: scripts/gpu_check.sh [step ...]      (default: all four, in that order)
#   GPU_CHECK_BUDGET  total seconds for all steps (default 540, under the device's 10-minute limit)
#   SELFTEST_ARGS     extra arguments for both selftests (e.g. "--seed 42 --cudnn deterministic")
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
budget=${GPU_CHECK_BUDGET:-540}
tarball=.device/resnext-gpu.tar.xz
die() { echo "gpu_check: $*" >&2; exit 2; }
[ -f "$tarball" ] || die "$tarball is missing: run scripts/pack_gpu.sh on the build machine and carry .device/ here"
command -v xz >/dev/null || command -v unxz >/dev/null || die "xz is not installed here"
OUT=${OUT:-$(mktemp -d /tmp/resnext-gpu-out.XXXXXX)}
mkdir -p "$OUT"
export OUT

work=$(mktemp -d /tmp/resnext-gpu.XXXXXX)
tar -C "$work" -xJf "$tarball" || die "cannot unpack $tarball"
pkg=$work/resnext-gpu
[ -x "$pkg/resnext" ] || die "$tarball has no resnext binary"
export LD_LIBRARY_PATH="$pkg/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libgomp\.so\.1 '; then
    LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$pkg/lib/fallback"
    echo "gpu_check: no system libgomp.so.1; using the packed one" >&2
fi
{
    echo "== MANIFEST"; cat "$pkg/MANIFEST" 2>/dev/null || true
    echo "== ldd resnext"; ldd "$pkg/resnext" || true
    echo "== nvidia-smi"; nvidia-smi 2>&1 || echo "nvidia-smi not available"
    echo "== CUDA libraries in the ld cache"; /sbin/ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libnvrtc|libcudnn\.so|libcublas\.so' || true
} > "$OUT/environment.txt" 2>&1
if ldd "$pkg/resnext" | grep -q "not found"; then
    grep "not found" <(ldd "$pkg/resnext") >&2
    die "the binary's libraries do not all resolve (see $OUT/environment.txt)"
fi

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(selftest selftest-fp32 bench pytorch)
declare -a rows=()
failed=0

remaining() { echo $(( budget - ($(date +%s) - start) )); }

# run_step NAME OUTPUT_FILE DEFAULT_LIMIT COMMAND...: runs with min(limit, remaining budget) seconds.
run_step() {
    local name=$1 file=$2 limit=$3
    shift 3
    local left
    left=$(remaining)
    if [ "$left" -lt 20 ]; then
        rows+=("$name|skipped|0|out of time budget ($budget s)")
        return 0
    fi
    [ "$limit" -gt $((left - 5)) ] && limit=$((left - 5))
    echo "gpu_check: $name (limit ${limit}s) -> $file" >&2
    local t0 status=0
    t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" > "$OUT/$file" 2>&1 || status=$?
    local secs=$(( $(date +%s) - t0 ))
    local result
    case $name in
        selftest*) result=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT/$file" | tail -1 || true)
                   [ -n "$result" ] || result=$(grep -m1 -E 'unsupported|error' "$OUT/$file" | cut -c1-100 || true) ;;
        bench)     result="$(grep -c '"case"' "$OUT/$file" || true) benchmark lines" ;;
        pytorch)   result="$(grep -c '"img_s"' "$OUT/$file" || true) baseline rows" ;;
    esac
    [ $status -eq 124 ] || [ $status -eq 137 ] && result="timed out after ${limit}s; $result"
    local verdict=ok
    if [ $status -ne 0 ]; then
        verdict="exit $status"
        failed=1
        case $name in
            selftest*) ;;
            *) result="$result; $(grep -v '^[[:space:]]*$' "$OUT/$file" | tail -1 | cut -c1-100)" ;;
        esac
    fi
    rows+=("$name|$verdict|$secs|$result")
    return 0
}

for step in "${steps[@]}"; do
    case $step in
        selftest)      run_step selftest selftest.txt 240 "$pkg/resnext" selftest --device cuda ${SELFTEST_ARGS:-} ;;
        selftest-fp32) run_step selftest-fp32 selftest_fp32.txt 240 "$pkg/resnext" selftest --device cuda --tf32 false ${SELFTEST_ARGS:-} ;;
        bench)         run_step bench bench.jsonl 150 "$pkg/resnext" bench --json ;;
        pytorch)
            if command -v python3 >/dev/null; then
                run_step pytorch pytorch_baseline.jsonl 400 python3 "$pkg/pytorch_baseline.py"
            else
                rows+=("pytorch|skipped|0|no python3 here"); failed=1
            fi ;;
        *) die "unknown step '$step' (expected selftest, selftest-fp32, bench, pytorch)" ;;
    esac
done

# summary.json and the table (printed last).
{
    echo "{"
    echo "  \"total_seconds\": $(( $(date +%s) - start )),"
    echo "  \"steps\": ["
    n=${#rows[@]}; i=0
    for row in "${rows[@]}"; do
        IFS='|' read -r name verdict secs result <<<"$row"
        i=$((i + 1)); sep=,; [ $i -eq $n ] && sep=
        printf '    {"step": "%s", "status": "%s", "seconds": %s, "result": "%s"}%s\n' \
            "$name" "$verdict" "$secs" "$(printf '%s' "$result" | sed 's/\\/\\\\/g; s/"/\\"/g')" "$sep"
    done
    echo "  ]"
    echo "}"
} > "$OUT/summary.json"

if [ -s "$OUT/pytorch_baseline.jsonl" ] && command -v python3 >/dev/null; then
    python3 - "$OUT/pytorch_baseline.jsonl" <<'PY' > "$OUT/pytorch_table.txt" || true
import json, sys
rows = []
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if "img_s" in r:
        rows.append(r)
if rows:
    print("PyTorch baseline (same GPU, this call):")
    print(f"{'model':<20} {'batch':>5} {'mode':<9} {'layout':<13} {'precision':<9} {'img/s':>9} {'peak GiB':>8}")
    for r in rows:
        print(f"{r['name']:<20} {r['bs']:>5} {'train' if r['train'] else 'inference':<9} "
              f"{'channels_last' if r['channels_last'] else 'NCHW':<13} {'bf16' if r['amp_bf16'] else 'fp32/tf32':<9} "
              f"{r['img_s']:>9} {r['peak_mem_gib']:>8}")
PY
fi

for f in selftest.txt selftest_fp32.txt; do
    if [ -f "$OUT/$f" ] && grep -q '^FAIL' "$OUT/$f"; then
        echo "== failed checks in $f"
        grep '^FAIL' "$OUT/$f" | head -40
    fi
done
[ -s "$OUT/pytorch_table.txt" ] && cat "$OUT/pytorch_table.txt"
echo
echo "== gpu_check summary ($(( $(date +%s) - start )) s; files in $OUT)"
printf '%-14s %-10s %7s  %s\n' step status seconds result
for row in "${rows[@]}"; do
    IFS='|' read -r name verdict secs result <<<"$row"
    printf '%-14s %-10s %7s  %s\n' "$name" "$verdict" "$secs" "$result"
done
exit $failed
