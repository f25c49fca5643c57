#!/usr/bin/env bash
# Runs ON the GPU machine (no Swift there), from the repository root with .device/ carried (made by
# scripts/pack_gpu.sh on the build machine), in one call of at most GPU_CHECK_BUDGET seconds (default 330:
# under 6 minutes, leaving room for a second call). Unpacks .device/resnext-gpu.tar.xz to /tmp, then:
#   environment    nvidia-smi, the cuDNN packages and libraries (and what each libcudnn*.so.9 fails to resolve)
#   selftest       resnext selftest --device cuda (TF32 convolutions, tolerance 5e-3 for them, 1e-5 else).
#                  When it cannot start, once more with the cuDNN of PyTorch's wheel (RESNEXT_LIBCUDNN, its
#                  directory first in LD_LIBRARY_PATH, kept for the later steps); when that cannot start either, stop.
#   selftest-fp32  resnext selftest --device cuda --tf32 false (fp32: tolerance 1e-5 everywhere)
#   bench          resnext bench --arch --device cuda: resnext50_32x4d batch 256 train and infer, ResNeXt-29 8x64d
#                  batch 128 train (images/s, peak device bytes)
#   pytorch        the same three rows of pytorch_baseline.py (fp32, NCHW) on the same GPU in the same call
#                  (scripts/gpu_pytorch_rows.py)
# Results under $OUT (a temporary folder when unset), at most 8 files: environment.txt, selftest.txt,
# selftest_fp32.txt, bench.jsonl, pytorch.jsonl, summary.json, summary.txt; the summary (steps, then ours
# against PyTorch) is printed last. Exit status: 1 when a step failed or could not run, else 0.
# Usage: scripts/gpu_check.sh [--dry-run] [step ...]   (default: all five in that order; --dry-run prints the plan)
#   GPU_CHECK_BUDGET  total seconds (default 330)
#   SELFTEST_ARGS     extra arguments for both selftests (e.g. "--seed 42 --cudnn deterministic")
#   BENCH_STEPS       timed steps per benchmark (default 10, after 3 warm-up steps)
#   GPU_CHECK_TARBALL the package (default .device/resnext-gpu.tar.xz; the tests point it elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
start=$(date +%s)
budget=${GPU_CHECK_BUDGET:-330}
bench_steps=${BENCH_STEPS:-10}
tarball=${GPU_CHECK_TARBALL:-.device/resnext-gpu.tar.xz}
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
die() { echo "gpu_check: $*" >&2; exit 2; }

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(environment selftest selftest-fp32 bench pytorch)
for step in "${steps[@]}"; do
    case $step in
        environment|selftest|selftest-fp32|bench|pytorch) ;;
        *) die "unknown step '$step' (expected environment, selftest, selftest-fp32, bench, pytorch)" ;;
    esac
done

if [ $dry -eq 1 ]; then
    OUT=${OUT:-/tmp/resnext-gpu-out}
    pkg='$pkg'
else
    [ -f "$tarball" ] || die "$tarball is missing: run scripts/pack_gpu.sh on the build machine and carry .device/ here"
    command -v xz >/dev/null || command -v unxz >/dev/null || die "xz is not installed here"
    OUT=${OUT:-$(mktemp -d /tmp/resnext-gpu-out.XXXXXX)}
    mkdir -p "$OUT"
    work=$(mktemp -d /tmp/resnext-gpu.XXXXXX)
    tar -C "$work" -xJf "$tarball" || die "cannot unpack $tarball"
    pkg=$work/resnext-gpu
    [ -x "$pkg/resnext" ] || die "$tarball has no resnext binary"
    export LD_LIBRARY_PATH="$pkg/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    if ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libgomp\.so\.1 '; then
        LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$pkg/lib/fallback"
        echo "gpu_check: no system libgomp.so.1; using the packed one" >&2
    fi
    if ldd "$pkg/resnext" | grep -q "not found"; then
        ldd "$pkg/resnext" | grep "not found" >&2
        die "the binary's libraries do not all resolve"
    fi
fi
export OUT
resnext=$pkg/resnext

declare -a rows=()
failed=0
stopped=""
wheel_note=""   # set when the selftest switched to PyTorch's cuDNN

remaining() { echo $(( budget - ($(date +%s) - start) )); }

# run_step NAME FILE LIMIT COMMAND...: runs COMMAND (output appended to $OUT/FILE) for at most LIMIT
# seconds and what is left of the budget; sets $status. --dry-run prints it instead.
status=0
run_step() {
    local name=$1 file=$2 limit=$3
    shift 3
    if [ $dry -eq 1 ]; then
        echo "[$name, ${limit} s] $* >> \$OUT/$file"
        status=0
        return 0
    fi
    local left
    left=$(remaining)
    if [ "$left" -lt 20 ]; then
        status=125
        echo "== $name: skipped, out of the ${budget} s budget: $*" >> "$OUT/$file"
        return 0
    fi
    [ "$limit" -gt $((left - 5)) ] && limit=$((left - 5))
    echo "gpu_check: $name (limit ${limit} s) -> $file" >&2
    status=0
    timeout --kill-after=10 "$limit" "$@" >> "$OUT/$file" 2>&1 || status=$?
    case $status in 124|137) echo "== $name: timed out after ${limit} s: $*" >> "$OUT/$file" ;; esac
    return 0
}

# record NAME STATUS SECONDS RESULT: one row of the summary.
record() {
    rows+=("$1|$2|$3|$4")
    [ "$2" = ok ] || failed=1
}

verdict() {  # the status word for an exit status
    case $1 in 0) echo ok ;; 124|137) echo "timed out" ;; 125) echo skipped ;; *) echo "exit $1" ;; esac
}

# The directory of the cuDNN that PyTorch's wheel brings (nvidia-cudnn-cu*), or nothing.
wheel_cudnn() {
    command -v python3 >/dev/null || return 0
    python3 - <<'PY' 2>/dev/null || true
import os
import nvidia.cudnn as m
d = os.path.dirname(m.__file__) if getattr(m, "__file__", None) else list(m.__path__)[0]
lib = os.path.join(d, "lib")
if os.path.exists(os.path.join(lib, "libcudnn.so.9")):
    print(lib)
PY
}

step_environment() {
    if [ $dry -eq 1 ]; then
        echo "[environment] nvidia-smi; dpkg -l '*cudnn*'; ldd of every libcudnn*.so.9 (unresolved only); PyTorch's cuDNN >> \$OUT/environment.txt"
        return
    fi
    local t0=$(date +%s) unresolved=0
    {
        echo "== MANIFEST"; cat "$pkg/MANIFEST" 2>/dev/null || true
        echo "== ldd resnext"; ldd "$resnext" || true
        echo "== GPU"
        timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi not available"
        echo "== nvidia-smi"; timeout 20 nvidia-smi 2>&1 || true
        echo "== cuDNN packages"; dpkg -l 2>/dev/null | grep -i cudnn || echo "no cuDNN package in dpkg"
        echo "== CUDA libraries in the ld cache"
        /sbin/ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libnvrtc|libcudnn|libcublas' || true
        echo "== cuDNN libraries: unresolved dependencies (ldd)"
        for lib in $(/sbin/ldconfig -p 2>/dev/null | grep -oE '/[^ ]*libcudnn[a-z_]*\.so\.9$' | sort -u); do
            missing=$(ldd "$lib" 2>&1 | grep "not found" || true)
            echo "$lib: ${missing:-all resolved}"
        done
        echo "== PyTorch's cuDNN"
        local wheel
        wheel=$(wheel_cudnn)
        if [ -n "$wheel" ]; then
            ls "$wheel"
            for lib in "$wheel"/libcudnn*.so.9; do echo "$lib: $(ldd "$lib" 2>&1 | grep -c 'not found') unresolved"; done
        else
            echo "none (python3 -c 'import nvidia.cudnn' failed)"
        fi
    } > "$OUT/environment.txt" 2>&1
    unresolved=$(grep -c "not found" "$OUT/environment.txt" || true)
    record environment ok $(( $(date +%s) - t0 )) "$(sed -n '/^== GPU$/{n;p;q}' "$OUT/environment.txt" | cut -c1-70); $unresolved unresolved libraries"
}

# The selftest's result line, or its first error line.
selftest_result() {
    local r
    r=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT/$1" | tail -1 || true)
    [ -n "$r" ] || r=$(grep -m1 -E 'unsupported|error|failed' "$OUT/$1" | cut -c1-110 || true)
    echo "$r"
}

# Whether the selftest in FILE got as far as its backend (the first line names it).
selftest_started() { grep -q '^selftest: cuDNN' "$OUT/$1"; }

step_selftest() {
    local name=$1 file=$2
    shift 2
    local t0=$(date +%s)
    run_step "$name" "$file" 100 "$resnext" selftest --device cuda "$@" ${SELFTEST_ARGS:-}
    [ $dry -eq 1 ] && { [ "$name" = selftest ] && echo "  (when it cannot start: once more with RESNEXT_LIBCUDNN=<PyTorch's cuDNN>, then stop)"; return 0; }
    if [ "$name" = selftest ] && ! selftest_started "$file"; then
        local wheel
        wheel=$(wheel_cudnn)
        if [ -n "$wheel" ]; then
            echo "== could not start (exit $status); again with PyTorch's cuDNN in $wheel" >> "$OUT/$file"
            export RESNEXT_LIBCUDNN=$wheel/libcudnn.so.9
            export LD_LIBRARY_PATH="$wheel:$LD_LIBRARY_PATH"
            wheel_note=" (PyTorch's cuDNN: $wheel)"
            run_step "$name" "$file" 100 "$resnext" selftest --device cuda "$@" ${SELFTEST_ARGS:-}
        fi
        if ! selftest_started "$file"; then
            stopped="the CUDA backend cannot start (see $file)"
            record "$name" "$(verdict $status)" $(( $(date +%s) - t0 )) "cannot start: $(selftest_result "$file")"
            return
        fi
    fi
    record "$name" "$(verdict $status)" $(( $(date +%s) - t0 )) "$(selftest_result "$file")$wheel_note"
}

step_bench() {
    local t0=$(date +%s) all=0
    for run in "resnext50_32x4d 256 train 75" "resnext50_32x4d 256 infer 40" "resnext29_8x64d 128 train 60"; do
        read -r arch batch mode limit <<<"$run"
        run_step bench bench.jsonl "$limit" "$resnext" bench --arch "$arch" --batch "$batch" --mode "$mode" --device cuda \
            --steps "$bench_steps" --warmup 3
        [ $status -eq 0 ] || [ $all -ne 0 ] || all=$status
    done
    [ $dry -eq 1 ] && return
    record bench "$(verdict $all)" $(( $(date +%s) - t0 )) "$(grep -c '"images_per_second"' "$OUT/bench.jsonl" || true) of 3 benchmarks"
}

step_pytorch() {
    local t0=$(date +%s)
    if [ $dry -eq 0 ] && ! command -v python3 >/dev/null; then record pytorch skipped 0 "no python3 here"; return; fi
    run_step pytorch pytorch.jsonl 120 python3 "$root/scripts/gpu_pytorch_rows.py" "$pkg/pytorch_baseline.py"
    [ $dry -eq 1 ] && return
    record pytorch "$(verdict $status)" $(( $(date +%s) - t0 )) "$(grep -c '"img_s"' "$OUT/pytorch.jsonl" || true) of 3 rows"
}

for step in "${steps[@]}"; do
    if [ -n "$stopped" ]; then record "$step" skipped 0 "$stopped"; continue; fi
    case $step in
        environment) step_environment ;;
        selftest) step_selftest selftest selftest.txt ;;
        selftest-fp32) step_selftest selftest-fp32 selftest_fp32.txt --tf32 false ;;
        bench) step_bench ;;
        pytorch) step_pytorch ;;
    esac
done
if [ $dry -eq 1 ]; then
    echo "[summary] \$OUT/summary.json, \$OUT/summary.txt (steps; ours against PyTorch: img/s, ratio, peak GiB)"
    exit 0
fi

# summary.json and summary.txt: the steps, then our benchmark rows against PyTorch's.
printf '%s\n' "${rows[@]}" > "$OUT/.rows"
python3 - "$OUT" "$(( $(date +%s) - start ))" <<'PY' || { cat "$OUT/.rows"; failed=1; }
import json, os, sys
out, seconds = sys.argv[1], int(sys.argv[2])
steps = []
for line in open(os.path.join(out, ".rows")):
    name, status, secs, result = line.rstrip("\n").split("|", 3)
    steps.append(dict(step=name, status=status, seconds=int(secs), result=result))

def jsonl(name):
    path = os.path.join(out, name)
    rows = []
    for line in open(path) if os.path.exists(path) else []:
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    return rows

ours = {(r["arch"], r["batch"], r["mode"] == "train"): r for r in jsonl("bench.jsonl") if "images_per_second" in r}
theirs = {(r["name"], r["bs"], r["train"]): r for r in jsonl("pytorch.jsonl") if "img_s" in r and not r["channels_last"] and not r["amp_bf16"]}
compare = []
for key in [("resnext50_32x4d", 256, True), ("resnext50_32x4d", 256, False), ("resnext29_8x64d", 128, True)]:
    o, t = ours.get(key), theirs.get(key)
    compare.append(dict(
        model=key[0], batch=key[1], mode="train" if key[2] else "infer",
        ours_img_s=o and o["images_per_second"], pytorch_img_s=t and t["img_s"],
        ratio=round(o["images_per_second"] / t["img_s"], 3) if o and t else None,
        ours_peak_gib=o and round(o["peak_device_bytes"] / 2**30, 2), pytorch_peak_gib=t and t["peak_mem_gib"]))
json.dump(dict(total_seconds=seconds, steps=steps, comparison=compare), open(os.path.join(out, "summary.json"), "w"), indent=1)

fmt = lambda v, spec="": "-" if v is None else format(v, spec)
lines = [f"== gpu_check summary ({seconds} s; files in {out})", f"{'step':<14} {'status':<10} {'seconds':>7}  result"]
lines += [f"{s['step']:<14} {s['status']:<10} {s['seconds']:>7}  {s['result']}" for s in steps]
lines += ["", "ours (resnext bench --arch, TF32 convolutions) against PyTorch eager (fp32/TF32, NCHW), same GPU, this call:",
          f"{'model':<16} {'batch':>5} {'mode':<6} {'ours img/s':>10} {'PyTorch':>9} {'ratio':>6} {'peak GiB':>9} {'PyTorch':>8}"]
lines += [f"{c['model']:<16} {c['batch']:>5} {c['mode']:<6} {fmt(c['ours_img_s'], '.1f'):>10} {fmt(c['pytorch_img_s'], '.1f'):>9} "
          f"{fmt(c['ratio'], '.2f'):>6} {fmt(c['ours_peak_gib'], '.2f'):>9} {fmt(c['pytorch_peak_gib'], '.2f'):>8}" for c in compare]
open(os.path.join(out, "summary.txt"), "w").write("\n".join(lines) + "\n")
PY
rm -f "$OUT/.rows"
if [ -n "$stopped" ]; then
    echo "== the CUDA backend could not start: selftest.txt"
    head -c 3000 "$OUT/selftest.txt"
fi
for f in selftest.txt selftest_fp32.txt; do
    if [ -f "$OUT/$f" ] && grep -q '^FAIL' "$OUT/$f"; then
        echo "== failed checks in $f"
        grep '^FAIL' "$OUT/$f" | head -30
    fi
done
echo
cat "$OUT/summary.txt" 2>/dev/null || true
exit $failed
