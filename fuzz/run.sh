#!/usr/bin/env bash
# run.sh: fuzz each target named on the command line (json npy target cli sweep checkpoint cellfile) for
# FUZZ_SECONDS seconds, one after the other, and print libFuzzer's final statistics per
# target. Inputs found that grow coverage go to $OUT/corpus/<target> (the seeds in
# fuzz/corpus/<target> are read, never written); a crash stops that target, leaves the
# input in $OUT/crashes/ and makes the script exit 1 after the others have run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(cd "$here/.." && pwd)/build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
[ $# -gt 0 ] || set -- json npy target cli sweep checkpoint cellfile
mkdir -p "$OUT/crashes" "$OUT/logs"
export UBSAN_OPTIONS="suppressions=$here/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
failed=0
summary=()
for t in "$@"; do
    exe=$OUT/fuzz_$t
    [ -x "$exe" ] || { echo "run.sh: $exe missing (make -C fuzz)" >&2; exit 2; }
    mkdir -p "$OUT/corpus/$t"
    log=$OUT/logs/$t.log
    echo "== fuzz_$t: ${FUZZ_SECONDS}s (log: $log)" >&2
    # -timeout: one input may take 10 s (the target loader allocates up to ~1 GB for the
    # largest valid configuration before it reads the weights)
    # shellcheck disable=SC2086
    "$exe" "$OUT/corpus/$t" "$here/corpus/$t" -dict="$here/dict/$t.dict" \
        -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -timeout=10 -rss_limit_mb=3072 \
        -artifact_prefix="$OUT/crashes/$t-" $FUZZ_FLAGS >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
    if [ $rc -eq 0 ]; then
        result=ok
    else
        failed=1
        art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        what=$(grep -E '^SUMMARY:|check failed|ERROR: libFuzzer' "$log" | head -1)
        result="FAILED (exit $rc): ${what:-see log}${art:+; input: $art}"
    fi
    summary+=("$(printf '%-7s execs %-10s exec/s %-7s cov %-6s ft %-7s corpus %-12s %s' \
        "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done
printf '%s\n' "${summary[@]}"
exit $failed
