#!/usr/bin/env bash
# Formatting gate, run by CTest as the test `lint`: every C++ file tracked by git (*.cc, *.h; generated code lives in
# the build folder and is never tracked) must be exactly what clang-format 14 writes with .clang-format. Prints each
# offending file and line; exits 1 if any differ, 77 (CTest: skipped) outside a git checkout.
# clang-tidy is too slow for every test run; scripts/tidy.sh checks a branch's changed files (docs/testing.md).
#
# Usage: scripts/lint.sh [--fix]
#   --fix   rewrite the offending files in place instead of failing
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fix=0
case "${1:-}" in
  --fix) fix=1 ;;
  "") ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac

# Pinned to 14 (Debian 12's): other versions break lines differently, and the gate must not depend on who runs it.
clang_format="${CLANG_FORMAT:-clang-format-14}"
if ! command -v "$clang_format" >/dev/null; then
  echo "lint: $clang_format not found; scripts/install-deps.sh installs it" >&2
  exit 1
fi
if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "lint: $root is not a git checkout; nothing to check"
  exit 77
fi

cd "$root"
mapfile -t files < <(git ls-files -- '*.cc' '*.h')
start=$SECONDS
if [[ $fix -eq 1 ]]; then
  printf '%s\0' "${files[@]}" | xargs -0 -n 50 "$clang_format" -i
  echo "lint: formatted ${#files[@]} files in $((SECONDS - start)) s"
  exit 0
fi
if printf '%s\0' "${files[@]}" | xargs -0 -n 50 "$clang_format" --dry-run --Werror; then
  echo "lint: ${#files[@]} files formatted as clang-format 14 writes them ($((SECONDS - start)) s)"
else
  echo "lint: files above differ from clang-format's output; scripts/lint.sh --fix rewrites them" >&2
  exit 1
fi
