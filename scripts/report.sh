#!/usr/bin/env bash
# report.sh BUILD_DIR [RESULTS_DIR]: draw the figures of a sweep's results directory and
# rewrite its REPORT.md. Each line "SCRIPT CSV PNG TITLE" of RESULTS_DIR/figures.txt (written
# by bfc sweep) becomes
#   gnuplot -c plots/SCRIPT.gp CSV PNG "TITLE"      (and a .pdf beside it with pdfcairo)
# run inside RESULTS_DIR; then 'bfc sweep ... --report-only' with the arguments the sweep
# saved in sweep-args.txt rewrites REPORT.md, which now embeds the PNGs (and the claim-check
# verdicts of RESULTS_DIR/checks/verdicts.csv when present). RESULTS_DIR defaults to the newest
# directory under results/ holding a figures.txt.
set -euo pipefail
build=${1:-build}
out=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$out" ]; then
  latest=$(ls -td results/*/figures.txt 2>/dev/null | head -n 1 || true)
  [ -n "$latest" ] || { echo "report: no results/*/figures.txt; run make bench first" >&2; exit 1; }
  out=$(dirname "$latest")
fi
[ -f "$out/figures.txt" ] || { echo "report: $out/figures.txt missing (not a bfc sweep results directory)" >&2; exit 1; }
if command -v gnuplot > /dev/null; then
  pdf=0
  if gnuplot -e 'set terminal' 2>&1 | grep -q pdfcairo; then pdf=1; fi
  [ $pdf = 1 ] || echo "report: gnuplot has no pdfcairo terminal: PNG only" >&2
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  # gnuplot -c SCRIPT CSV OUT TITLE in the results directory; its benign warnings (a series
  # without points, a one-point axis) are dropped, anything else is shown
  draw() {
    local rc=0
    (cd "$out" && gnuplot -c "$root/plots/$1.gp" "$2" "$3" "$4") 2> "$log" || rc=$?
    grep -v -E 'Skipping data file with no valid points|empty [xy]2? range|^[[:space:]]*$' "$log" >&2 || true
    return $rc
  }
  n=0
  while read -r script csv png title; do
    [ -n "$script" ] || continue
    if draw "$script" "$csv" "$png" "$title"; then
      n=$((n + 1))
      if [ $pdf = 1 ]; then
        draw "$script" "$csv" "${png%.png}.pdf" "$title" || echo "report: $script: PDF failed" >&2
      fi
    else
      echo "report: gnuplot failed on plots/$script.gp $csv" >&2
    fi
  done < "$out/figures.txt"
  echo "report: drew $n figures in $out" >&2
else
  echo "report: gnuplot not found: no figures (apt-get install gnuplot-nox)" >&2
fi
if [ -f "$out/sweep-args.txt" ] && [ -x "$build/bfc" ]; then
  mapfile -t args < "$out/sweep-args.txt"
  "$build/bfc" sweep "${args[@]}" --out "$out" --report-only --quiet
  echo "report: $out/REPORT.md" >&2
else
  echo "report: $out/sweep-args.txt or $build/bfc missing: REPORT.md not rewritten" >&2
fi
