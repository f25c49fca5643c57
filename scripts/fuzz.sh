#!/usr/bin/env bash
# Coverage-guided fuzzing of one parser with libFuzzer (it ships with the Swift toolchain).
# Usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#   TARGET: safetensors | json | t7 | pth | zip | image | all
# Builds Sources/resnext-fuzz into .build-fuzz (git-ignored) with -DFUZZING, AddressSanitizer and libFuzzer's
# coverage (edge, inline 8-bit counters, PC table, comparison tracing), linked against libFuzzer without
# its main (SwiftPM names an executable's main itself, so the harness calls LLVMFuzzerRunDriver). Seeds a
# working corpus from Tests/Fuzz/<target>/ (committed; made by scripts/make_fuzz_seeds.py) and runs for
# SECONDS with -seed=1 unless a -seed is given, a 2 GiB memory limit and a 10 s per-input timeout.
# Findings (crash-*, timeout-*, oom-*) go to .build-fuzz/findings/<target>/ and make the exit status
# non-zero. The last line gives the number of executions. Leak detection is off: a crafted .t7 whose tables
# reference each other leaks its cycle (a few hundred bytes, found 2026-12-04; not a crash).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]" >&2; exit 2; }
target=$1 seconds=$2
shift 2
targets=(safetensors json t7 pth zip image)
if [ "$target" = all ]; then
    for t in "${targets[@]}"; do "$0" "$t" "$seconds" "$@"; done
    exit 0
fi
printf '%s\n' "${targets[@]}" | grep -qx "$target" || { echo "fuzz.sh: unknown target '$target' (${targets[*]})" >&2; exit 2; }
scratch=.build-fuzz
runtime=$(dirname "$(dirname "$(command -v swift)")")/lib/clang
fuzzer_lib=$(find "$runtime" -name 'libclang_rt.fuzzer_no_main-x86_64.a' | head -1)
[ -n "$fuzzer_lib" ] || { echo "fuzz.sh: libclang_rt.fuzzer_no_main not found under $runtime" >&2; exit 2; }
flags=(-c release --scratch-path "$scratch" --product resnext-fuzz -Xswiftc -DFUZZING -Xswiftc -sanitize=address
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp -Xlinker "$fuzzer_lib" -Xlinker -lstdc++)
swift build "${flags[@]}" >&2
binary=$(swift build "${flags[@]}" --show-bin-path)/resnext-fuzz
corpus=$scratch/corpus/$target findings=$scratch/findings/$target log=$scratch/fuzz-$target.log
mkdir -p "$corpus" "$findings"
cp Tests/Fuzz/"$target"/* "$corpus"/ 2>/dev/null || true
seed=(-seed=1)
for arg in "$@"; do case $arg in -seed=*) seed=() ;; esac; done
status=0
ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no RESNEXT_FUZZ_TARGET=$target "$binary" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -detect_leaks=0 -timeout=10 -artifact_prefix="$findings/" -print_final_stats=1 "${seed[@]}" "$@" > "$log" 2>&1 || status=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
if [ $status -ne 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz.sh: $target: FINDING after $runs executions (libFuzzer exit $status); inputs in $findings" >&2
    exit $status
fi
echo "fuzz.sh: $target: $runs executions in ${seconds} s, no crash, hang or out-of-memory ($(grep -o 'cov: [0-9]*' "$log" | tail -1))"
