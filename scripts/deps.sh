#!/usr/bin/env bash
# Installs the Debian packages Sinter builds and tests with. Quiet and quick
# when everything is already there; needs root (or sudo) only when not.
set -euo pipefail

PACKAGES=(build-essential cmake pkg-config llvm-19 llvm-19-dev clang-19 protobuf-c-compiler
  libprotobuf-c-dev libonnx-dev libonnx-testdata check libjansson-dev python3-onnx
  python3-numpy)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "deps: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
