#!/usr/bin/env bash
# clang-tidy 14 with the checks in .clang-tidy (every warning an error) over the C++ sources a branch changed relative to
# its merge base with main, committed or not. Not a CTest test: the whole tree takes about 8 minutes on 2 cores
# (docs/testing.md). Headers are checked through the .cc files that include them; name a .cc file to check a header no
# changed file includes. Exits 1 on any warning.
#
# Usage: scripts/tidy.sh [--build-dir DIR] [--base REF] [--jobs N] [--all] [FILE.cc...]
#   --build-dir  a configured build folder with compile_commands.json (default build) in which the proto headers have
#                been generated (building any server or client target does it)
#   --base       check the files changed since the merge base with REF (default main)
#   --jobs       clang-tidy processes at once (default 2)
#   --all        every .cc file the build compiles
#   FILE.cc      check these instead of the changed files
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="$root/build"
base=main
jobs=2
all=0
files=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$(cd "$2" && pwd)"; shift 2 ;;
    --base) base="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --all) all=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) files+=("$1"); shift ;;
  esac
done

clang_tidy="${CLANG_TIDY:-clang-tidy-14}"
command -v "$clang_tidy" >/dev/null || { echo "tidy: $clang_tidy not found; scripts/install-deps.sh installs it" >&2; exit 1; }
database="$build_dir/compile_commands.json"
[[ -f "$database" ]] || { echo "tidy: no $database; configure a build first (make configure)" >&2; exit 1; }

cd "$root"
if [[ $all -eq 1 ]]; then
  mapfile -t files < <(git ls-files -- '*.cc')
elif [[ ${#files[@]} -eq 0 ]]; then
  merge_base="$(git merge-base HEAD "$base")"
  mapfile -t files < <({
    git diff --name-only --diff-filter=d "$merge_base" -- '*.cc'
    git ls-files --others --exclude-standard -- '*.cc'
  } | sort -u)
fi

# Only files this build compiles have a command line (the fuzz targets, for one, build only in the clang fuzz build).
checked=()
for file in "${files[@]}"; do
  if grep -qF "\"file\": \"$root/$file\"" "$database"; then
    checked+=("$file")
  else
    echo "tidy: skipping $file (not in $database)"
  fi
done
if [[ ${#checked[@]} -eq 0 ]]; then
  echo "tidy: no changed .cc files to check"
  exit 0
fi

echo "tidy: ${#checked[@]} files, $jobs at a time"
start=$SECONDS
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
# One log per file, printed whole, so that parallel runs do not interleave their diagnostics.
export clang_tidy build_dir logs
printf '%s\0' "${checked[@]}" | xargs -0 -n 1 -P "$jobs" bash -c '
  log="$logs/$(echo "$1" | tr / _).log"
  if "$clang_tidy" -p "$build_dir" --quiet "$1" >"$log" 2>&1; then
    echo "tidy: $1 ok"
  else
    cat "$log"
    echo "tidy: $1 FAILED"
    touch "$logs/failed"
  fi' _
echo "tidy: ${#checked[@]} files in $((SECONDS - start)) s"
[[ ! -f "$logs/failed" ]]
