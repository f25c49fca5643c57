#!/usr/bin/env bash
# Kill -9 test of checkpointing and resume: trains a small CIFAR-format run once straight through, then the
# same run again, killing it with SIGKILL at random moments (during steps, mid-epoch checkpoints, validation,
# epoch checkpoints) and restarting it with -resume after each kill, until KILLS kills have happened and the
# run has finished. Checks that
#   - every restart resumes (no restart fails on its own),
#   - each kill loses at most -checkpointEvery iterations (the last iteration the killed process printed
#     against the position the next one resumes from),
#   - the final weights, momentum buffers and best model equal the uninterrupted run's, byte for byte.
# When a run finishes before enough kills, a fresh run starts (same checks, counted together).
# Usage: scripts/kill_test.sh [KILLS]     (default 20; KILL_TEST_EVERY=N sets -checkpointEvery, default 4)
#   RESNEXT_BIN  the binary (default .build/release/resnext, built when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
kills_wanted=${1:-20}
every=${KILL_TEST_EVERY:-4}
bin=${RESNEXT_BIN:-.build/release/resnext}
[ -x "$bin" ] || swift build -c release --product resnext >&2
work=$(mktemp -d /tmp/resnext-kill.XXXXXX)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
python3 scripts/make_tiny_cifar.py "$work/data" 40 40 # 200 training images: 25 iterations of 8 per epoch
args=(-dataset cifar10 -data "$work/data" -depth 11 -baseWidth 4 -cardinality 2 -batchSize 8 -nEpochs 3 -LR 0.05
    -manualSeed 3 -nThreads 2 --print-every 1 -checkpointEvery "$every" --compute-threads 2)
per_epoch=25
files=(model_3.safetensors optimState_3.safetensors model_best.safetensors)

t0=$(date +%s.%N)
"$bin" "${args[@]}" -save "$work/straight" > "$work/straight.log" 2>&1 || { tail "$work/straight.log" >&2; exit 1; }
straight_seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b - a}')
echo "kill_test: uninterrupted run: ${straight_seconds}s" >&2

# Global iteration index (iterations done) of the last progress line " | Epoch: [e][i/n] ..." in a log.
last_printed() {
    sed -n 's/.*| Epoch: \[\([0-9]*\)\]\[\([0-9]*\)\/.*/\1 \2/p' "$1" | tail -1 | awk -v n=$per_epoch '{print ($1-1)*n+$2}'
}
# Iterations done where a restart continues ("continuing at epoch E" or "..., iteration I"); empty when the
# process died before saying.
resumed_at() {
    grep -o 'continuing at epoch [0-9]*\(, iteration [0-9]*\)\?' "$1" | head -1 |
        awk -v n=$per_epoch '{e=$4+0; i=($6==""?1:$6); print (e-1)*n+i-1}'
}

kills=0 restarts=0 rounds=0 max_lost=0 lost_total=0
while [ $kills -lt "$kills_wanted" ] || [ -n "${save:-}" ]; do
    if [ -z "${save:-}" ]; then
        rounds=$((rounds + 1))
        save=$work/killed-$rounds
        mkdir -p "$save"
        printed=0
    fi
    log=$work/run-$kills.log
    resume=()
    ls "$save"/optimState_*.safetensors > /dev/null 2>&1 && resume=(-resume "$save")
    "$bin" "${args[@]}" -save "$save" "${resume[@]}" > "$log" 2>&1 &
    pid=$!
    if [ ${#resume[@]} -gt 0 ]; then restarts=$((restarts + 1)); fi
    killed=0
    if [ $kills -lt "$kills_wanted" ]; then
        # Uniform in [0.3, 0.3 + 1.5 x straight / KILLS] seconds: enough kills land before the run ends.
        pause=$(awk -v s="$straight_seconds" -v k="$kills_wanted" -v r=$RANDOM 'BEGIN{printf "%.3f", 0.3 + r/32768*1.5*s/k}')
        sleep "$pause"
        if kill -9 $pid 2>/dev/null; then killed=1; fi
    fi
    status=0
    { wait $pid; } 2>/dev/null || status=$?
    start=0
    [ ${#resume[@]} -gt 0 ] && start=$(resumed_at "$log")
    if [ -n "$start" ]; then
        lost=$((printed - start))
        [ $lost -lt 0 ] && lost=0
        if [ $lost -gt "$every" ]; then
            echo "kill_test: FAILED: a kill lost $lost iterations (reached $printed, resumed at $start; -checkpointEvery $every)" >&2
            exit 1
        fi
        [ $lost -gt $max_lost ] && max_lost=$lost
        lost_total=$((lost_total + lost))
    fi
    # Where this process got to: its last progress line, else where it started.
    p=$(last_printed "$log")
    if [ -n "$p" ]; then printed=$p; elif [ -n "$start" ]; then printed=$start; fi
    if [ $killed -eq 1 ] && [ $status -eq 137 ]; then
        kills=$((kills + 1))
        continue
    fi
    if [ $status -ne 0 ]; then
        echo "kill_test: FAILED: a restart exited with status $status on its own:" >&2
        tail -5 "$log" >&2
        exit 1
    fi
    for f in "${files[@]}"; do
        cmp -s "$work/straight/$f" "$save/$f" || { echo "kill_test: FAILED: $save/$f differs from the uninterrupted run's" >&2; exit 1; }
    done
    echo "kill_test: round $rounds finished after $kills kills in all: final weights, momentum and best model identical" >&2
    save=
done
echo "kill_test: passed: $kills kills (SIGKILL), $restarts resumes, $rounds run(s) of $((3 * per_epoch)) iterations;" \
    "at most $max_lost iterations lost per kill (-checkpointEvery $every), $lost_total in all; final files byte-identical"
