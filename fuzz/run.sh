#!/usr/bin/env bash
# Runs the libFuzzer targets of a build configured with -DOPSTREAM_FUZZ=ON (docs/fuzzing.md).
#   fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET [TARGET...]]
# Each target runs for SECONDS (default 60) on its seed corpus plus a growing working corpus in
# BUILD_DIR/fuzz/grown-corpus/<target>; crashes are written to BUILD_DIR/fuzz/artifacts/<target>/ and the
# last lines of each log (executions/s, coverage) are printed.
set -uo pipefail
dir=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS [TARGET...]]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$dir"/fuzz/fuzz_*; do targets+=("$(basename "${bin#"$dir"/fuzz/fuzz_}")"); done
fi
status=0
for target in "${targets[@]}"; do
  grown="$dir/fuzz/grown-corpus/$target" artifacts="$dir/fuzz/artifacts/$target"
  mkdir -p "$grown" "$artifacts"
  log="$dir/fuzz/$target.log"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$dir/fuzz/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" "$grown" "$dir/fuzz/corpus/$target" >"$log" 2>&1
  rc=$?
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  speed=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  echo "$target: exit $rc, ${execs:-?} executions, ${speed:-?}/s, $cov, corpus $(ls "$grown" | wc -l)"
  [ "$rc" -eq 0 ] || { status=1; grep -E 'ERROR|invariant|SUMMARY|Test unit written' "$log" | head -5; }
done
exit $status
