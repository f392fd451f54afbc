#!/usr/bin/env bash
# deps.sh: make sure the Debian packages bfc needs are installed.
# As root, installs what is missing (apt-get update once, then apt-get install).
# Otherwise prints the exact apt-get line and exits 1.
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail

packages=(build-essential cmake libgsl-dev libopenblas-dev libjansson-dev libcriterion-dev gnuplot-nox
          "$@")

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing+=("$p") ;;
    esac
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "bfc: missing Debian packages: ${missing[*]}" >&2
    echo "bfc: install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

echo "bfc: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
