#!/usr/bin/env bash
# Installs the Debian packages tinyflash builds and emulates with, when any is missing:
# the Arm GNU toolchain with newlib, QEMU's Arm system emulator, iproute2 (`ip netns`: the
# board-farm test's private network namespace) and clang-format (`make lint` checks the C style).
set -euo pipefail
packages=(gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm iproute2 clang-format)
# --fuzz (make fuzz): also clang with libFuzzer. Debian 12 ships the fuzzer runtime in
# libclang-rt-<N>-dev, N = the major version the `clang` package depends on.
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang)
  clang_major=$(apt-cache depends clang 2>/dev/null | sed -n 's/.*Depends: clang-\([0-9][0-9]*\)$/\1/p' | head -n1)
  if [ -n "$clang_major" ] && apt-cache show "libclang-rt-${clang_major}-dev" >/dev/null 2>&1; then
    packages+=("libclang-rt-${clang_major}-dev")
  fi
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "tinyflash needs these Debian packages: ${missing[*]}." >&2
  echo "Install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} with apt-get"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
