#!/usr/bin/env bash
# Builds test suites with sanitizers and runs them. Two modes:
#
#   tests/sanitizers/run.sh --preset asan|tsan [--jobs N] [GTEST_FILTER]
#       The CMakePresets.json build (gcc; build-asan = ASan+UBSan, build-tsan = TSan): builds every unit and
#       integration suite and runs them with the sanitizer options below. Slow; run by hand (docs/RELIABILITY.md).
#   tests/sanitizers/run.sh --fuzz-build DIR [--jobs N]
#       The CI subset: reuses the clang ASan+UBSan build that tests/fuzz/run.sh makes (the instrumented libraries
#       are already compiled there) and runs the server, imageio, modelio and client unit suites and the integration
#       suite in it.
#
# UBSan findings stop the test that hit them (halt_on_error), so a finding is a failed test, never just a log line.
# TSan runs with one OpenMP thread per oneDNN call: libgomp is not instrumented, and its barriers would be reported
# as races; every thread Fovea and gRPC create is still checked.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
preset=""
fuzz_build=""
jobs=2
regex=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --preset) preset="$2"; shift 2 ;;
    --fuzz-build) fuzz_build="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) regex="$1"; shift ;;
  esac
done

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
tsan_defaults="halt_on_error=1:second_deadlock_stack=1"
export TSAN_OPTIONS="${TSAN_OPTIONS:-$tsan_defaults:suppressions=$root/tests/sanitizers/tsan.supp}"
suites=(server_tests imageio_tests modelio_tests client_tests integration_tests fault_tests)

if [[ -n "$fuzz_build" ]]; then
  [[ -f "$fuzz_build/build.ninja" ]] || "$root/tests/fuzz/run.sh" --build-dir "$fuzz_build" --configure-only
  build_dir="$fuzz_build"
elif [[ "$preset" == asan || "$preset" == tsan ]]; then
  build_dir="$root/build-$preset"
  [[ -f "$build_dir/build.ninja" ]] || (cd "$root" && cmake --preset "$preset")
  [[ "$preset" == asan ]] && suites+=(engine_tests trainer_tests)
  [[ "$preset" == tsan ]] && export OMP_NUM_THREADS=1
else
  sed -n '2,15p' "$0"
  exit 2
fi

build_dir="$(cd "$build_dir" && pwd)"
start=$SECONDS
cmake --build "$build_dir" -j "$jobs" --target "${suites[@]}" fovea-server fovea
echo "sanitizer build: $((SECONDS - start)) s"
if [[ "$preset" == tsan ]]; then
  # The fixed suppressions plus one called_from_lib line per uninstrumented Abseil library (see tsan.supp).
  suppressions="$build_dir/tsan.supp"
  cp "$root/tests/sanitizers/tsan.supp" "$suppressions"
  for suite in "${suites[@]}"; do ldd "$build_dir/bin/$suite"; done | grep -o 'libabsl_[a-z0-9_]*\.so' | sort -u |
    sed 's/^/called_from_lib:/' >>"$suppressions"
  [[ "$TSAN_OPTIONS" != "$tsan_defaults:"* ]] || export TSAN_OPTIONS="$tsan_defaults:suppressions=$suppressions"
fi
start=$SECONDS
# Each suite's binary directly (not ctest): this build also registers targets it never built.
failed=()
for suite in "${suites[@]}"; do
  filter=()
  [[ -z "$regex" ]] || filter=(--gtest_filter="$regex")
  if ! (cd "$build_dir" && "./bin/$suite" "${filter[@]}" >"$build_dir/$suite.sanitizer.log" 2>&1); then
    failed+=("$suite")
    tail -n 60 "$build_dir/$suite.sanitizer.log"
  fi
  echo "$suite: $(grep -E '^\[  (PASSED|FAILED)  \]' "$build_dir/$suite.sanitizer.log" | head -n 1)"
done
echo "sanitizer tests: $((SECONDS - start)) s"
[[ ${#failed[@]} -eq 0 ]] || { echo "failed: ${failed[*]}"; exit 1; }
