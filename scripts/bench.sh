#!/usr/bin/env bash
# bench.sh BUILD_DIR [--quick] [OUT_DIR]: the head-to-head benchmark. Runs
#   BUILD_DIR/bfc sweep bench/configs/default.json [--quick] --out OUT_DIR
# (every learner schedule and baseline on the same targets, n grid and seeds; see
# bench/configs/README.md), then scripts/report.sh to draw the figures and write
# OUT_DIR/REPORT.md, and prints where everything is. OUT_DIR defaults to
# results/bench-<UTC timestamp> (results/bench-quick-<timestamp> with --quick). Rerunning with
# the same OUT_DIR resumes an interrupted sweep.
# Environment: BENCH_CONFIG (default bench/configs/default.json), BENCH_JOBS (cells in
# parallel, default 2), BENCH_SWEEP_ARGS (extra bfc sweep flags, e.g. "--seeds 0,1"),
# BENCH_CHECKS=1: also run the claim checks (bfc_check all --size full) into OUT_DIR/checks;
# the report then includes their verdicts. Off by default: at full size they take about
# 14 minutes of one core (C4-C6 fit their own kernels), which with the sweep's 13 to 20
# minutes exceeds the 20-minute budget of make bench; the sweep's own verdicts of C3-C6 are
# always in the report.
set -euo pipefail
build=${1:-build}
shift || true
quick=()
if [ "${1:-}" = "--quick" ]; then
  quick=(--quick)
  shift
fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${1:-results/bench${quick[*]:+-quick}-$stamp}
config=${BENCH_CONFIG:-bench/configs/default.json}
jobs=${BENCH_JOBS:-2}
bfc="$build/bfc"
[ -x "$bfc" ] || { echo "bench: $bfc not built (run make build)" >&2; exit 1; }
t0=$(date +%s)
rc=0
# shellcheck disable=SC2086  # BENCH_SWEEP_ARGS is a list of flags
"$bfc" sweep "$config" "${quick[@]}" --jobs "$jobs" --out "$out" ${BENCH_SWEEP_ARGS:-} || rc=$?
case $rc in
  0) ;;
  1) echo "bench: some cells failed (listed in $out/REPORT.md); drawing what finished" >&2 ;;
  130) echo "bench: interrupted; rerun 'scripts/bench.sh $build ${quick[*]:+${quick[*]} }$out' to resume" >&2 ;;
  *) exit "$rc" ;;
esac
t1=$(date +%s)
if [ "${BENCH_CHECKS:-0}" = 1 ] && [ $rc -ne 130 ]; then
  if [ -x "$build/bfc_check" ]; then
    echo "bench: claim checks (bfc_check all --size full) into $out/checks" >&2
    OPENBLAS_NUM_THREADS=1 "$build/bfc_check" all --size full --out "$out/checks" > "$out/checks.log" 2>&1 ||
      echo "bench: some claim checks failed (see $out/checks.log)" >&2
  else
    echo "bench: $build/bfc_check not built; no claim checks" >&2
  fi
fi
scripts/report.sh "$build" "$out"
t2=$(date +%s)
echo "bench: sweep $((t1 - t0)) s, checks and report $((t2 - t1)) s, total $((t2 - t0)) s" >&2
echo "bench: report $out/REPORT.md; data $out/results.csv, $out/neps.csv; figures $out/fig_*.png" >&2
exit $rc
