#!/usr/bin/env bash
# `make docker-test`: builds the Fovea image from docker/Dockerfile with podman, starts it, waits until its
# HEALTHCHECK reports healthy, classifies 100 Fashion-MNIST test PNGs through it with the host's `fovea` CLI, stops
# it with SIGTERM (exit code 0 expected), and checks the image size. Needs root, podman, runc and debootstrap
# (scripts/install-deps.sh) and a host build (build/bin/fovea).
# Usage: docker/docker-test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

readonly build_dir=${1:-build}
readonly image=localhost/fovea:docker-test
readonly container=fovea-docker-test-$$
readonly max_image_mb=250
readonly health_wait_seconds=180
readonly stop_timeout_seconds=40  # above the image's FOVEA_SHUTDOWN_TIMEOUT (30 s)
readonly cli="$build_dir/bin/fovea"
started=$(date +%s)

step() { echo "docker-test [$(($(date +%s) - started)) s]: $*"; }
fail() {
  echo "docker-test: FAIL: $*" >&2
  exit 1
}

[ -x "$cli" ] || fail "$cli not found; build the host binaries first (make build)"
docker/podman-env.sh "$build_dir/docker"
CONTAINERS_CONF="$(realpath "$build_dir")/docker/containers.conf"
export CONTAINERS_CONF

step "building $image (layers are cached between runs)"
podman build --format docker --network host -f docker/Dockerfile -t "$image" . >"$build_dir/docker/build.log" 2>&1 || {
  tail -n 40 "$build_dir/docker/build.log" >&2
  fail "podman build failed; full log in $build_dir/docker/build.log"
}

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
grpc_port=$(free_port)
metrics_port=$(free_port)
http_port=$(free_port)
podman_log="$build_dir/docker/podman.log"
: >"$podman_log"
trap 'podman rm -f "$container" >/dev/null 2>&1 || true' EXIT
step "starting $container on 127.0.0.1:$grpc_port"
# Without systemd podman cannot schedule the HEALTHCHECK on its interval, so the timer is off and the wait loop below
# runs the image's check itself. podman still logs errors about the missing systemd timer; they go to $podman_log.
podman run -d --init --network host --name "$container" --health-interval disable \
  -e FOVEA_ADDRESS="127.0.0.1:$grpc_port" -e FOVEA_METRICS_PORT="$metrics_port" -e FOVEA_HTTP_PORT="$http_port" -e FOVEA_THREADS=2 \
  "$image" >/dev/null 2>>"$podman_log"

# Runs the image's HEALTHCHECK until it passes; inspect must then agree that the container is healthy.
health=starting
for _ in $(seq "$health_wait_seconds"); do
  [ "$(podman inspect --format '{{.State.Running}}' "$container")" = true ] || break
  if podman healthcheck run "$container" >/dev/null 2>&1; then
    health=$(podman inspect --format '{{.State.Health.Status}}' "$container")
    break
  fi
  sleep 1
done
[ "$health" = healthy ] || {
  podman logs "$container" >&2 || true
  fail "container health is '$health', not healthy"
}
step "container is healthy"

/usr/bin/python3 docker/classify_check.py --cli-bin "$cli" --server "127.0.0.1:$grpc_port" --count 100 \
  --model-file models/fashion-mnist/1/model.onnx || {
  podman logs "$container" 2>&1 | tail -n 20 >&2
  fail "classification through the container"
}

# REST from the image: readiness, and the demo page embedded in the binary.
curl -sf "http://127.0.0.1:$http_port/v2/health/ready" >/dev/null || fail "REST readiness on port $http_port"
curl -sf "http://127.0.0.1:$http_port/" | grep -q "<title>Fovea</title>" || fail "demo page on port $http_port"
echo "PASS REST readiness and the demo page"

step "stopping with SIGTERM"
podman stop -t "$stop_timeout_seconds" "$container" >/dev/null 2>>"$podman_log"
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$container")
logs=$(podman logs "$container" 2>&1)
[ "$exit_code" = 0 ] || fail "container exited with $exit_code after SIGTERM; logs: $logs"
grep -q "fovea-server stopped" <<<"$logs" || fail "no clean-shutdown line in the logs: $logs"
echo "PASS clean exit 0 after SIGTERM"

# A CPU limit (docker run --cpus, Kubernetes limits) reaches the server as a cgroup quota; it sizes its defaults by it.
step "starting a container limited to 1.5 CPUs"
limited="$container-cpus"
podman run -d --init --network host --name "$limited" --health-interval disable --cpus 1.5 \
  -e FOVEA_ADDRESS="127.0.0.1:$(free_port)" -e FOVEA_METRICS_PORT=0 -e FOVEA_HTTP_PORT=0 \
  "$image" >/dev/null 2>>"$podman_log"
trap 'podman rm -f "$container" "$limited" >/dev/null 2>&1 || true' EXIT
sizing=""
for _ in $(seq "$health_wait_seconds"); do
  sizing=$(podman logs "$limited" 2>&1 | grep "defaults sized for" || true)
  [ -n "$sizing" ] && break
  sleep 1
done
podman rm -f "$limited" >/dev/null 2>>"$podman_log"
grep -q "cgroup quota 1.50; defaults sized for 1" <<<"$sizing" || fail "CPU budget under --cpus 1.5: '$sizing'"
echo "PASS a 1.5-CPU container sizes its defaults for 1 CPU"

size_bytes=$(podman image inspect --format '{{.Size}}' "$image")
size_mb=$((size_bytes / 1000000))
echo "docker-test: image $image is $size_mb MB (limit $max_image_mb MB)"
[ "$size_mb" -le "$max_image_mb" ] || fail "image is over $max_image_mb MB"
step "all checks passed"
