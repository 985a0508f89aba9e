#!/usr/bin/env bash
# Prints the Debian packages that own the shared libraries BINARY... load, one per line, so that the image's runtime
# stage installs exactly what the binaries link (and nothing the build needed). Run where the binaries were built.
set -euo pipefail

# dpkg records a file under the path its package shipped it at; with merged /usr that may be /lib/... or /usr/lib/...
owner_of() {
  local path=$1
  dpkg-query -S "$path" 2>/dev/null || dpkg-query -S "${path#/usr}" 2>/dev/null || dpkg-query -S "/usr$path" 2>/dev/null
}

for binary in "$@"; do
  if ldd "$binary" | grep -q "not found"; then
    echo "runtime-packages: $binary has unresolved libraries" >&2
    ldd "$binary" >&2
    exit 1
  fi
  ldd "$binary" | awk '/=> \// { print $3 }'
done | sort -u | while read -r library; do
  owner=$(owner_of "$(readlink -f "$library")" || owner_of "$library") || {
    echo "runtime-packages: no package owns $library" >&2
    exit 1
  }
  echo "${owner%%:*}"
done | sort -u
