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
# BENCH_CHECKS: the claim checks at full size (bfc_check --size full) after the sweep, into
# OUT_DIR/checks; their verdicts go into the report beside the sweep's own.
#   1 (default)  the checks of the claims the sweep does not judge on its cells, C1 C2 C3 C5
#                C7 C8 C9 C10 (about 6 minutes of CPU); C4 and C6 are judged by the sweep at
#                every n of the grid up to 20000, on both targets
#   all          every check, C4 and C6 with their own fits too (about 16 minutes of CPU)
#   0            none
# With 2 or more jobs the checks run as two processes and their outputs are merged. Not with
# --quick. BENCH_CHECKS_SIZE=fast runs them at the ctest size instead (to try the report).
# BENCH_PERF: 1 (default) runs bfc_perf after the checks, on the then idle cores, into
# OUT_DIR/perf (bfc against PyTorch and scikit-learn side by side, bench/README.md), with
# BENCH_PERF_ARGS (default "--krr-n 5000,10000 --sample-seconds 0.1": KRR where scikit-learn is
# timed, shorter learner samples; about 4 minutes);
# its tables and goals go into the report. 0: not run. Not with --quick.
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
checks=${BENCH_CHECKS:-1}
case $checks in
  0 | 1 | all) ;;
  *) echo "bench: BENCH_CHECKS must be 0, 1 or all (got '$checks')" >&2; exit 2 ;;
esac
perf=${BENCH_PERF:-1}
case $perf in
  0 | 1) ;;
  *) echo "bench: BENCH_PERF must be 0 or 1 (got '$perf')" >&2; exit 2 ;;
esac
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
if [ "$checks" != 0 ] && [ ${#quick[@]} -eq 0 ] && [ $rc -ne 130 ]; then
  if [ -x "$build/bfc_check" ]; then
    echo "bench: claim checks (bfc_check --size ${BENCH_CHECKS_SIZE:-full}) into $out/checks; progress below, results in $out/checks.log" >&2
    checks_rc=0
    # two parts of about equal CPU time (measured at full size: C6 7 min, C5 4.4, C4 3, C10 2,
    # C8 1, the rest 1); C4 and C6 in one process share their NTK and empirical NTK fits
    if [ "$checks" = all ]; then
      if [ "$jobs" -ge 2 ]; then parts=("C4,C6" "C1,C2,C3,C5,C7,C8,C9,C10"); else parts=("all"); fi
    else
      if [ "$jobs" -ge 2 ]; then
        parts=("C5" "C1,C2,C3,C7,C8,C9,C10")
      else
        parts=("C1,C2,C3,C5,C7,C8,C9,C10")
      fi
    fi
    pids=()
    mkdir -p "$out/checks"
    # results (stdout) to the part's log only; progress (stderr: elapsed, ETA, a heartbeat when
    # a run is long; each line names the check) to the log and to the terminal
    for i in "${!parts[@]}"; do
      log="$out/checks-part$i.log"
      : > "$log"
      { OPENBLAS_NUM_THREADS=1 "$build/bfc_check" "${parts[$i]}" \
          --size "${BENCH_CHECKS_SIZE:-full}" --out "$out/checks/part$i" 2>&1 >> "$log" |
          tee -a "$log" | sed -u "s/^/bench: checks /" >&2; } &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || checks_rc=1; done
    # one verdicts.csv and checks.csv for the report, rows in claim order; one log
    for f in verdicts.csv checks.csv; do
      case $f in verdicts.csv) header=claim,verdict,summary ;; *) header=claim,seed,metric,value ;; esac
      { echo "$header"
        for i in "${!parts[@]}"; do tail -n +2 "$out/checks/part$i/$f" 2>/dev/null || true; done |
          LC_ALL=C sort -s -t, -k1,1V; } > "$out/checks/$f.tmp" && mv "$out/checks/$f.tmp" "$out/checks/$f"
    done
    for i in "${!parts[@]}"; do cat "$out/checks-part$i.log"; done > "$out/checks.log"
    rm -f "$out"/checks-part*.log
    grep -h -E '^[0-9]+ passed, [0-9]+ failed' "$out/checks.log" | sed 's/^/bench: claim checks: /' >&2 || true
    if [ $checks_rc -ne 0 ]; then
      echo "bench: some claim checks failed (see $out/checks.log)" >&2
      rc=1
    fi
  else
    echo "bench: $build/bfc_check not built; no claim checks" >&2
  fi
fi
t2=$(date +%s)
if [ "$perf" = 1 ] && [ ${#quick[@]} -eq 0 ] && [ $rc -ne 130 ]; then
  if [ -x "$build/bfc_perf" ]; then
    echo "bench: performance (bfc_perf) into $out/perf; progress below, tables in $out/perf.log" >&2
    : > "$out/perf.log"
    # shellcheck disable=SC2086  # BENCH_PERF_ARGS is a list of flags
    if ! { "$build/bfc_perf" --out "$out/perf" ${BENCH_PERF_ARGS:---krr-n 5000,10000 --sample-seconds 0.1} \
      2>&1 >> "$out/perf.log" | tee -a "$out/perf.log" | sed -u 's/^/bench: /' >&2; }; then
      echo "bench: bfc_perf failed (see $out/perf.log)" >&2
      rc=1
    fi
    grep -h -E '^goals \[' "$out/perf.log" | sed 's/^/bench: performance /' >&2 || true
  else
    echo "bench: $build/bfc_perf not built; no performance comparison" >&2
  fi
fi
t3=$(date +%s)
echo "bench: figures and report" >&2
scripts/report.sh "$build" "$out"
t4=$(date +%s)
echo "bench: sweep $((t1 - t0)) s, checks $((t2 - t1)) s, performance $((t3 - t2)) s, report $((t4 - t3)) s, total $((t4 - t0)) s" >&2
echo "bench: report $out/REPORT.md; data $out/results.csv, $out/neps.csv; figures $out/fig_*.png" >&2
exit $rc
