#!/usr/bin/env bash
# Installs every Debian package Fovea needs to build, test and benchmark. Idempotent: installs only what is missing.
# --build-only: just what compiling the binaries and the unit tests needs (the Docker image's build stage).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libdnnl-dev ocl-icd-opencl-dev opencl-headers libonnx-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev prometheus-cpp-dev
  libpng-dev libspng-dev libjpeg62-turbo-dev zlib1g-dev
  libcivetweb-dev  # the metrics port (prometheus-cpp's exposer)
  libcpp-httplib-dev libssl-dev nlohmann-json3-dev  # the REST port (HTTP and HTTPS)
  clang libclang-rt-14-dev  # tests/fuzz (libFuzzer) and the sanitizer subset
  clang-format-14 clang-tidy-14  # scripts/lint.sh (the CTest test `lint`) and scripts/tidy.sh
)
if [ "${1:-}" != "--build-only" ]; then
  packages+=(
    libonnx-testdata dataset-fashion-mnist
    python3-torch python3-torchvision python3-onnx python3-opencv python3-numpy
    python3-grpcio python3-protobuf
    podman runc catatonit debootstrap nginx  # make docker-test (podman --init) and the nginx scale-out test
    wrk  # bench/RESULTS.md, "REST port under keep-alive load" (by hand)
    chromium nodejs  # tests/browser: the demo page in headless Chromium (playwright-core from npm, below)
    libvips-dev libvips-tools python3-tifffile  # fovea-slide (libvips reads slides, OpenSlide's formats through it)
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# tests/browser: playwright-core exactly as package-lock.json pins it (node_modules stays out of git). Debian's nodejs
# ships npm separately; a nodejs from elsewhere may bundle its own.
if [ "${1:-}" != "--build-only" ]; then
  browser_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
  if [ ! -f "$browser_dir/node_modules/playwright-core/package.json" ]; then
    command -v npm >/dev/null ||
      DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm
    echo "install-deps: npm ci in $browser_dir"
    (cd "$browser_dir" && npm ci --no-audit --no-fund)
  fi
  # fovea slide's viewer page: OpenSeadragon, pinned in slide/viewer/package-lock.json, copied next to each page.
  viewer_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/slide/viewer"
  if [ ! -f "$viewer_dir/node_modules/openseadragon/package.json" ]; then
    command -v npm >/dev/null ||
      DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm
    echo "install-deps: npm ci in $viewer_dir"
    (cd "$viewer_dir" && npm ci --no-audit --no-fund --ignore-scripts)
  fi
fi
