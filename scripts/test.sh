#!/usr/bin/env bash
# Builds everything and runs the whole test suite: unit tests (GoogleTest + RapidCheck), the
# black-box integration tests with the official npm clients, then both again under
# AddressSanitizer + UndefinedBehaviorSanitizer. Installs what it needs first. Exits non-zero on
# any failure and ends with one line `tests: N passed, M failed, K skipped` (skipped tests are never
# counted as passed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
source scripts/test-services.sh
start_test_services

JOBS=${JOBS:-$(nproc)}
passed=0
failed=0
skipped=0  # reported on their own line, never counted as passed
failures=()  # names of the failed tests, repeated at the very end so a truncated log still shows them
count_ctest() {  # parses "100% tests passed, 0 tests failed out of 250" and the "(Skipped)" list
  local line; line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1 || true)
  [ -n "$line" ] || { failed=$((failed + 1)); failures+=("[$2] unit tests did not finish"); return; }
  local f t s; f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line"); t=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  s=$(grep -cE '^\s+[0-9]+ - .*\(Skipped\)$' "$1" || true)  # ctest counts a skipped test as "passed"
  passed=$((passed + t - f - s)); failed=$((failed + f)); skipped=$((skipped + s))
  local name
  while IFS= read -r name; do failures+=("[$2] $name"); done < <(sed -n '/The following tests FAILED:/,/^Errors while running/p' "$1" | grep -E '^\s+[0-9]+ - ' | sed -E 's/^\s+//')
}
count_node() {  # parses node:test's summary lines ("ℹ pass N" / "ℹ fail N" / "ℹ skipped N", or "# pass N" with TAP)
  local p f s; p=$(grep -E '^(ℹ|#) pass [0-9]+' "$1" | tail -1 | awk '{print $3}'); f=$(grep -E '^(ℹ|#) fail [0-9]+' "$1" | tail -1 | awk '{print $3}')
  s=$(grep -E '^(ℹ|#) skip(ped)? [0-9]+' "$1" | tail -1 | awk '{print $3}')
  [ -n "$p" ] || { failed=$((failed + 1)); failures+=("[$2] integration tests did not finish"); return; }
  passed=$((passed + p)); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
  local name
  while IFS= read -r name; do failures+=("[$2] $name"); done < <(sed -n '/failing tests:/,$p' "$1" | grep -E '^\s*✖ ' | grep -v 'failing tests:' | sed -E 's/^\s*✖ //' | sort -u)
}

run_suite() {  # $1 build dir, $2 label, rest: cmake options
  local dir=$1 label=$2; shift 2
  echo "== [$label] configure and build"
  scripts/build.sh "$dir" -DOPSTREAM_WERROR=ON "$@"
  echo "== [$label] unit tests"
  local log="$dir/unit-tests.log"
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" 2>&1 | tee "$log" || true
  count_ctest "$log" "$label"
  echo "== [$label] integration tests"
  log="$dir/integration-tests.log"
  OPSTREAM_BIN="$PWD/$dir/opstream-server" tests/integration/run.sh 2>&1 | tee "$log" || true
  count_node "$log" "$label"
}

run_suite build release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOPSTREAM_BENCH=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan sanitizers -DCMAKE_BUILD_TYPE=Debug -DOPSTREAM_SANITIZE=ON -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1"

# Skipped: tests that need a server these machines cannot run (SQL Server; see docs/storage/sqlserver.md).
if [ "${#failures[@]}" -gt 0 ]; then
  echo "failed tests:"
  printf '  %s\n' "${failures[@]}"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
