#!/usr/bin/env bash
# Packs what the GPU machine needs into .device/resnext-gpu.tar.xz (git-ignored):
#   resnext                  static release binary (--static-swift-stdlib: no Swift runtime needed there)
#   lib/                     shared libraries the GPU machine (Ubuntu 24.04) lacks: oneDNN, TurboJPEG, the
#                            OpenCL ICD loader, and anything else they need that is not a base-system library
#   lib/fallback/            libgomp.so.1, used only where the GPU machine has none (gpu_check.sh decides)
#   pytorch_baseline.py      the PyTorch baseline to run in the same call (from ../shared/device/)
#   MANIFEST                 commit, build date, file sizes and sha256 sums
# Nothing CUDA is packed: the binary dlopens the GPU machine's own libcuda, NVRTC, cuDNN and cuBLAS.
# Usage: scripts/pack_gpu.sh            (from anywhere; run scripts/gpu_check.sh there with .device carried)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.device
stage=$out/resnext-gpu
tarball=$out/resnext-gpu.tar.xz
baseline=${PYTORCH_BASELINE:-$root/../shared/device/pytorch_baseline.py}

die() { echo "pack_gpu: $*" >&2; exit 1; }
command -v swift >/dev/null || die "swift is not on PATH"
command -v ldd >/dev/null || die "ldd is not available"
command -v xz >/dev/null || die "xz is not installed (apt-get install xz-utils)"
[ -f "$baseline" ] || die "PyTorch baseline not found at $baseline (set PYTORCH_BASELINE to its path)"

echo "pack_gpu: building the static release binary (a few minutes)..." >&2
swift build -c release --static-swift-stdlib --product resnext >&2 || die "release build failed"
bin_dir=$(swift build -c release --static-swift-stdlib --product resnext --show-bin-path)
binary=$bin_dir/resnext
[ -x "$binary" ] || die "no binary at $binary"
"$binary" help selftest >/dev/null 2>&1 || echo "pack_gpu: WARNING: this resnext has no 'selftest' subcommand (register SelftestCommand in ResNeXtCLI)" >&2

rm -rf "$stage" "$tarball"
mkdir -p "$stage/lib/fallback"
cp "$binary" "$stage/resnext"
strip --strip-debug "$stage/resnext" 2>/dev/null || true
cp "$baseline" "$stage/pytorch_baseline.py"

# Libraries an Ubuntu 24.04 machine has in its base system (glibc, the GCC runtime): never packed.
is_base() {
    case "$1" in
        linux-vdso.so.*|ld-linux*|libc.so.*|libm.so.*|libdl.so.*|librt.so.*|libpthread.so.*|libstdc++.so.*|libgcc_s.so.*|libutil.so.*) return 0 ;;
        *) return 1 ;;
    esac
}
# Copies a library (resolving symlinks, keeping its soname as the file name) and then its own needs.
declare -A packed=()
pack_lib() {
    local name=$1 path=$2 dest=${3:-$stage/lib}
    [ -n "${packed[$name]:-}" ] && return 0
    [ -f "$path" ] || die "cannot find $name (ldd said: $path)"
    packed[$name]=1
    cp -L "$path" "$dest/$name"
    echo "pack_gpu:   $name <- $path" >&2
    local dep dep_path
    while read -r dep _ dep_path _; do
        [ -z "$dep" ] && continue
        is_base "$dep" && continue
        if [ "$dep" = "libgomp.so.1" ]; then pack_lib "$dep" "$dep_path" "$stage/lib/fallback"; continue; fi
        pack_lib "$dep" "$dep_path"
    done < <(ldd "$path" | awk '/=>/ { print $1, $2, $3, $4 }')
}

echo "pack_gpu: resolving shared libraries with ldd" >&2
if ldd "$stage/resnext" | grep -q "not found"; then
    ldd "$stage/resnext" >&2
    die "the binary has unresolved libraries here"
fi
while read -r name _ path _; do
    is_base "$name" && continue
    if [ "$name" = "libgomp.so.1" ]; then pack_lib "$name" "$path" "$stage/lib/fallback"; continue; fi
    pack_lib "$name" "$path"
done < <(ldd "$stage/resnext" | awk '/=>/ { print $1, $2, $3, $4 }')
for required in libdnnl.so.2 libturbojpeg.so.0 libOpenCL.so.1; do
    [ -f "$stage/lib/$required" ] || die "$required was not packed: does the binary still link it? (ldd $stage/resnext)"
done

{
    echo "resnext-gpu package"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
    echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "swift: $(swift --version 2>/dev/null | head -1)"
    echo
    (cd "$stage" && find . -type f ! -name MANIFEST | sort | while read -r f; do
        printf '%10d  %s  %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)" "$f"
    done)
} > "$stage/MANIFEST"

echo "pack_gpu: compressing..." >&2
XZ_OPT=${XZ_OPT:--6 -T0} tar -C "$out" -cJf "$tarball" resnext-gpu
rm -rf "$stage"
size=$(stat -c %s "$tarball")
echo "pack_gpu: $tarball: $((size / 1024 / 1024)) MiB ($size bytes)"
cat <<MSG >&2
pack_gpu: on the GPU machine, from the repository root with .device/ carried:
    scripts/gpu_check.sh            (results and a summary under \$OUT)
MSG
