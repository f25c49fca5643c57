#!/usr/bin/env bash
# Disk-full test of checkpointing: runs the same small CIFAR-format training (mid-epoch checkpoints every
# 4 iterations, ~6 MB per checkpoint pair) with -save on tmpfs file systems too small for the whole run, so
# that the disk fills while a weights file, an optimizer file, latest.json or model_best is being written.
# For each size it checks that
#   - the run stops with an error naming the file and "No space left on device" (no crash, exit status 1),
#   - no partial temporary file is left behind,
#   - latest.json names an intact pair (the resume needs no fallback) no more than -checkpointEvery
#     iterations behind the last iteration the run printed: every complete checkpoint was committed,
#   - resuming from a copy on a roomy disk finishes with weights, momentum and best model byte-identical
#     to an uninterrupted run's.
# Needs root (mount -t tmpfs); prints SKIPPED and exits 0 where mounting is not permitted.
# Usage: scripts/disk_full_test.sh [SIZE_MB...]   (default: 9 13 17 22 27)
#   RESNEXT_BIN  the binary (default .build/release/resnext, built when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(9 13 17 22 27)
every=4 per_epoch=25
bin=${RESNEXT_BIN:-.build/release/resnext}
[ -x "$bin" ] || swift build -c release --product resnext >&2
work=$(mktemp -d /tmp/resnext-diskfull.XXXXXX)
mounts=()
cleanup() {
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
if ! mkdir -p "$work/probe" || ! mount -t tmpfs -o size=1m tmpfs "$work/probe" 2>/dev/null; then
    echo "disk_full_test: SKIPPED: cannot mount a tmpfs here (needs root and mount permission)" >&2
    exit 0
fi
umount "$work/probe"
python3 scripts/make_tiny_cifar.py "$work/data" 40 40
args=(-dataset cifar10 -data "$work/data" -depth 11 -baseWidth 4 -cardinality 2 -batchSize 8 -nEpochs 3 -LR 0.05
    -manualSeed 3 -nThreads 2 --print-every 1 -checkpointEvery "$every" --compute-threads 2)
files=(model_3.safetensors optimState_3.safetensors model_best.safetensors)
"$bin" "${args[@]}" -save "$work/straight" > "$work/straight.log" 2>&1 || { tail "$work/straight.log" >&2; exit 1; }

fail() { echo "disk_full_test: FAILED ($1 MB): $2" >&2; exit 1; }
for size in "${sizes[@]}"; do
    disk=$work/disk-$size copy=$work/copy-$size
    mkdir -p "$disk"
    mount -t tmpfs -o "size=${size}m" tmpfs "$disk"
    mounts+=("$disk")
    status=0
    "$bin" "${args[@]}" -save "$disk" > "$work/full-$size.log" 2>&1 || status=$?
    [ $status -ne 0 ] || fail "$size" "the run did not fill the disk; use a smaller size"
    [ $status -lt 128 ] || fail "$size" "the run crashed (status $status): $(tail -3 "$work/full-$size.log")"
    message=$(grep -i 'error' "$work/full-$size.log" | tail -1)
    echo "$message" | grep -q "No space left on device" || fail "$size" "unexpected failure: $message"
    echo "$message" | grep -q "$disk/" || fail "$size" "the error does not name the file: $message"
    leftovers=$(find "$disk" -name '*.tmp-*')
    [ -z "$leftovers" ] || fail "$size" "temporary files left behind: $leftovers"
    printed=$(sed -n 's/.*| Epoch: \[\([0-9]*\)\]\[\([0-9]*\)\/.*/\1 \2/p' "$work/full-$size.log" | tail -1 |
        awk -v n=$per_epoch '{print ($1-1)*n+$2}')
    mkdir -p "$copy"
    cp -p "$disk"/*.safetensors "$disk"/latest.json "$copy"/
    "$bin" "${args[@]}" -save "$copy" -resume "$copy" > "$work/resume-$size.log" 2>&1 ||
        fail "$size" "resume failed: $(tail -3 "$work/resume-$size.log")"
    ! grep -q 'instead' "$work/resume-$size.log" || fail "$size" "latest.json was not intact: $(grep instead "$work/resume-$size.log")"
    at=$(grep -o 'continuing at epoch [0-9]*\(, iteration [0-9]*\)\?' "$work/resume-$size.log" | head -1 |
        awk -v n=$per_epoch '{e=$4+0; i=($6==""?1:$6); print (e-1)*n+i-1}')
    [ $((printed - at)) -le $every ] || fail "$size" "committed position $at is more than $every iterations behind $printed"
    for f in "${files[@]}"; do
        cmp -s "$work/straight/$f" "$copy/$f" || fail "$size" "$f differs from the uninterrupted run's after resuming"
    done
    failed_file=$(echo "$message" | grep -o "$disk/[^:]*" | head -1)
    echo "disk_full_test: ${size} MB: stopped writing ${failed_file#"$disk"/} (last iteration $printed), committed at $at;" \
        "resumed byte-identical" >&2
done
echo "disk_full_test: passed for ${#sizes[@]} disk sizes (${sizes[*]} MB)"
