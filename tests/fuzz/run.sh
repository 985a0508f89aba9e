#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in their own build folder and runs each for a bounded time,
# starting from the committed seeds in tests/fuzz/corpus/<target>/. Exits non-zero when a target crashes, leaks,
# times out or fails to build. New corpus entries go to <build-dir>/corpus/<target>/, crash reproducers to
# <build-dir>/artifacts/<target>/.
#
# Usage: tests/fuzz/run.sh [--seconds N] [--runs N] [--build-dir DIR] [--jobs N] [TARGET...]
#   --seconds N   time per target (default 20)
#   --runs N      also stop each target after N executions (long campaigns: a count, with --seconds as a cap)
#   --build-dir   default build-fuzz (relative to the repository root)
#   --jobs        parallel compile jobs (default 2)
#   --configure-only  only configure the clang build (tests/sanitizers/run.sh builds its suites in it)
#   TARGET        onnx_import_fuzz, classifier_edit_fuzz, image_decode_fuzz, classify_request_fuzz,
#                 model_infer_request_fuzz, flags_fuzz, rest_body_fuzz, triton_config_fuzz, triton_config_json_fuzz,
#                 slide_read_fuzz (default: all)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds=20
runs=""
build_dir="$root/build-fuzz"
jobs=2
configure_only=0
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --configure-only) configure_only=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(onnx_import_fuzz classifier_edit_fuzz image_decode_fuzz classify_request_fuzz model_infer_request_fuzz flags_fuzz
  rest_body_fuzz triton_config_fuzz triton_config_json_fuzz slide_read_fuzz)

if [[ ! -f "$build_dir/build.ninja" ]]; then
  # -O1 with line tables: what OSS-Fuzz uses; quicker to compile than -O2 and stack traces stay exact.
  mkdir -p "$build_dir"
  CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DFOVEA_FUZZ=ON -DFOVEA_SANITIZE=address,undefined >"$build_dir/configure.log" 2>&1 ||
    { cat "$build_dir/configure.log"; exit 1; }
fi
[[ $configure_only -eq 0 ]] || exit 0
build_start=$SECONDS
cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"
echo "fuzz build: $((SECONDS - build_start)) s"

# One oneDNN thread: the inputs are tiny and libFuzzer runs one input at a time.
export OMP_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
failed=0
for target in "${targets[@]}"; do
  corpus="$build_dir/corpus/$target"
  artifacts="$build_dir/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  limit=(-max_total_time="$seconds")
  [[ -z "$runs" ]] || limit+=(-runs="$runs")
  log="$build_dir/$target.log"
  set +e
  # libFuzzer writes what it finds into the first corpus folder only: the build folder's, never the tracked seeds.
  "$build_dir/bin/$target" "${limit[@]}" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$root/tests/fuzz/corpus/$target" >"$log" 2>&1
  status=$?
  set -e
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  if [[ $status -eq 0 ]]; then
    echo "$target: ok, $executions executions, $speed exec/s, corpus $(ls "$corpus" | wc -l) files"
  else
    echo "$target: FAILED (exit $status); reproducers in $artifacts; last lines of $log:"
    tail -n 40 "$log"
    failed=1
  fi
done
exit $failed
