#!/usr/bin/env bash
# Data parallelism across two "machines" over a real network stack: two network namespaces joined by a
# veth pair (10.77.0.1 and 10.77.0.2), one rank in each, Open MPI's TCP transport only (no shared memory),
# its launch agent `ip netns exec` in place of ssh. The 2-epoch run must end with the same weights,
# momentum and best model, byte for byte, as the same 2-rank run on one host.
# Needs root (ip netns, /etc/netns); prints SKIPPED and exits 0 where that is not permitted.
# Usage: scripts/netns_test.sh      RESNEXT_BIN: the binary (default .build/release/resnext)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${RESNEXT_BIN:-.build/release/resnext}")
[ -x "$bin" ] || { swift build -c release --product resnext >&2; bin=$(realpath .build/release/resnext); }
command -v mpirun > /dev/null || { echo "netns_test: mpirun missing (scripts/setup.sh installs openmpi-bin)" >&2; exit 1; }
a=rnxa$$ b=rnxb$$
work=$(mktemp -d /tmp/resnext-netns.XXXXXX)
cleanup() {
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
    rm -rf "/etc/netns/$a" "/etc/netns/$b" "$work"
}
trap cleanup EXIT
if ! command -v ip > /dev/null || ! ip netns add "$a" 2>/dev/null; then
    echo "netns_test: SKIPPED: cannot create network namespaces here (needs iproute2 and root)" >&2
    exit 0
fi
ip netns add "$b"
ip link add "v$a" type veth peer name "v$b"
ip link set "v$a" netns "$a"
ip link set "v$b" netns "$b"
ip netns exec "$a" ip addr add 10.77.0.1/24 dev "v$a"
ip netns exec "$b" ip addr add 10.77.0.2/24 dev "v$b"
for ns in "$a" "$b"; do
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip link set "v$ns" up
    # ip netns exec bind-mounts /etc/netns/NAME/hosts over /etc/hosts: the two hosts know each other by name.
    mkdir -p "/etc/netns/$ns"
    printf '127.0.0.1 localhost\n10.77.0.1 %s\n10.77.0.2 %s\n' "$a" "$b" > "/etc/netns/$ns/hosts"
done
# The launch agent is called like ssh: HOST then the command as words for a shell.
printf '#!/bin/sh\nhost=$1; shift\nexec ip netns exec "$host" sh -c "$*"\n' > "$work/agent"
chmod +x "$work/agent"
printf '%s slots=1\n%s slots=1\n' "$a" "$b" > "$work/hostfile"

python3 scripts/make_tiny_cifar.py "$work/data" 8 16 # 40 training images: 5 global batches of 8 per epoch
args=(-dataset cifar10 -data "$work/data" -depth 11 -baseWidth 4 -cardinality 2 -batchSize 8 -nEpochs 2 -LR 0.05
    -manualSeed 9 --compute-threads 1)
mpirun --allow-run-as-root --oversubscribe -np 2 "$bin" "${args[@]}" -save "$work/one-host" > "$work/one-host.log" 2>&1 ||
    { tail "$work/one-host.log" >&2; exit 1; }
ip netns exec "$a" mpirun --allow-run-as-root --hostfile "$work/hostfile" -np 2 --mca plm_rsh_agent "$work/agent" \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
    -x RESNEXT_TEST_CHECK_REPLICAS=1 "$bin" "${args[@]}" -save "$work/two-hosts" > "$work/two-hosts.log" 2>&1 ||
    { tail -20 "$work/two-hosts.log" >&2; exit 1; }
grep -q "replica check: weights bit-identical on all 2 ranks" "$work/two-hosts.log" ||
    { tail "$work/two-hosts.log" >&2; echo "netns_test: FAILED: no replica check" >&2; exit 1; }
for f in model_2.safetensors optimState_2.safetensors model_best.safetensors; do
    cmp -s "$work/one-host/$f" "$work/two-hosts/$f" || { echo "netns_test: FAILED: $f differs between one host and two" >&2; exit 1; }
done
echo "netns_test: passed: 2 ranks on 2 network namespaces over TCP (veth) trained 2 epochs, replicas identical after every" \
    "step, final weights, momentum and best model byte-identical to the one-host 2-rank run"
