#!/usr/bin/env bash
# Prepares podman on a Debian host without a Docker engine or registry access, idempotently:
#   - a containers.conf that works with this host's hybrid cgroups and hard ulimits (runc, cgroupfs);
#   - the base image docker.io/library/debian:bookworm-slim, made with debootstrap from the mirror apt already uses.
# Usage: docker/podman-env.sh CONF_DIR   (writes CONF_DIR/containers.conf; callers export CONTAINERS_CONF to it)
set -euo pipefail

mkdir -p "${1:?usage: podman-env.sh CONF_DIR}"
conf_dir=$(realpath "$1")  # absolute: podman reads CONTAINERS_CONF from other working directories
readonly kBaseImage=docker.io/library/debian:bookworm-slim
readonly kMaxProcesses=32768

# crun refuses the hybrid cgroup layout here, and the default ulimits exceed the hard limits, so every podman call
# uses this file.
write_containers_conf() {
  local nofile nproc
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  [ "$nproc" = unlimited ] || [ "$nproc" -gt "$kMaxProcesses" ] && nproc=$kMaxProcesses
  mkdir -p "$conf_dir"
  cat >"$conf_dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  export CONTAINERS_CONF="$conf_dir/containers.conf"  # for the podman calls below
}

# The first "URIs:" of the first stanza in apt's deb822 sources: the Debian mirror this machine is configured for.
apt_mirror() {
  local sources=/etc/apt/sources.list.d/debian.sources
  [ -r "$sources" ] || { echo "podman-env: $sources not found; cannot pick a mirror" >&2; return 1; }
  awk '/^URIs:/ { print $2; exit }' "$sources"
}

# No registry is reachable, so the base image is built locally and tagged with the name the Dockerfile uses.
import_base_image() {
  if podman image exists "$kBaseImage"; then
    echo "podman-env: $kBaseImage present"
    return 0
  fi
  local mirror rootfs
  mirror=$(apt_mirror)
  rootfs=$(mktemp -d)
  echo "podman-env: debootstrap bookworm from $mirror (a few minutes)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$conf_dir/debootstrap.log" 2>&1 || {
    echo "podman-env: debootstrap failed; see $conf_dir/debootstrap.log" >&2
    rm -rf "$rootfs"
    return 1
  }
  # The image's apt then reads the same mirrors (main, updates, security) as the host.
  rm -f "$rootfs/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --quiet - "$kBaseImage" >/dev/null
  rm -rf "$rootfs"
  echo "podman-env: imported $kBaseImage"
}

write_containers_conf
import_base_image
