#!/usr/bin/env bash
# Installs the benchmark peers that do not come from Debian into bench/peers/node_modules (git-ignored): ONNX Runtime's
# Node binding, whose npm package carries the CPU libraries. Bench-only: `make test` never needs it. Idempotent: an
# install of the pinned version is left alone.
#
# --ignore-scripts: the package's install script only downloads GPU parts, and fails without a network route to them;
# the CPU binaries are already inside the package.
#
# Usage: bench/peers/install.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package=onnxruntime-node
version=1.30.0

installed="$(node -p "require('$here/node_modules/$package/package.json').version" 2>/dev/null || true)"
if [[ "$installed" == "$version" ]]; then
  echo "peers: $package@$version already in $here/node_modules"
  exit 0
fi
# --no-save and --no-package-lock: nothing but node_modules/ is written, so the tree stays clean.
npm install --prefix "$here" --no-save --no-package-lock --ignore-scripts --no-audit --no-fund "$package@$version"
node -e "require('$here/node_modules/$package')" # fails here, not in a benchmark, if the CPU binary does not load
echo "peers: installed $package@$version in $here/node_modules"
