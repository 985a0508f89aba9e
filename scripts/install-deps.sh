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
  clang libclang-rt-14-dev  # tests/fuzz (libFuzzer) and the sanitizer subset
)
if [ "${1:-}" != "--build-only" ]; then
  packages+=(
    libonnx-testdata dataset-fashion-mnist
    python3-torch python3-torchvision python3-onnx python3-opencv python3-numpy
    python3-grpcio python3-protobuf
    podman runc catatonit debootstrap nginx  # make docker-test (podman --init) and the nginx scale-out test
  )
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
