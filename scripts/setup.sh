#!/usr/bin/env bash
# Installs the Debian packages the build and tests need (oneDNN, TurboJPEG, curl, Open MPI for data-parallel
# runs). Safe to run again; needs root or sudo.
set -euo pipefail
packages=(libdnnl-dev libturbojpeg0-dev curl openmpi-bin iproute2)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
