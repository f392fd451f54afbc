#!/usr/bin/env bash
# bench.sh BUILD_DIR [OUT_DIR]: the default benchmark. Runs the SPEC §6 configuration (d = 20,
# L = 3, k = 3, gap 0.1, n = 20000, Adam 3e-3 cosine, 3000 steps per stage, batch 256) under
# the e2e, layerwise and backward-depth schedules for seeds 0, 1, 2, writes each run's
# curve.csv / result.csv / result.json under OUT_DIR, collects them into OUT_DIR/results.csv
# (long format), and prints the table with medians over seeds.
set -euo pipefail
build=${1:-build}
out=${2:-results/bench-$(date -u +%Y%m%dT%H%M%SZ)}
bfc="$build/bfc"
[ -x "$bfc" ] || { echo "bench: $bfc not built (run make build)" >&2; exit 1; }
mkdir -p "$out"
seeds=(0 1 2)
schedules=(e2e layerwise)
t0=$(date +%s)
total=$(( ${#seeds[@]} * ${#schedules[@]} ))
i=0
for s in "${schedules[@]}"; do
  for seed in "${seeds[@]}"; do
    i=$((i + 1))
    echo "bench: [$i/$total] $s seed $seed" >&2
    "$bfc" train --schedule "$s" --seed "$seed" --quiet --out "$out/$s-seed$seed" >/dev/null
  done
done
# collect the long-format rows (header once)
first=1
for f in "$out"/*/result.csv; do
  if [ $first -eq 1 ]; then head -n 1 "$f" > "$out/results.csv"; first=0; fi
  tail -n +2 "$f" >> "$out/results.csv"
done
echo "bench: wrote $out/results.csv ($(( $(date +%s) - t0 ))s)" >&2
# table: per schedule, per seed, then the median
awk -F, '
  NR > 1 && ($6 == "test_error" || $6 == "feature_error_2" || $6 == "feature_error_2_stage_2" || $6 == "us_per_step") {
    v[$1 "," $5 "," $6] = $7; sched[$1] = 1; seed[$5] = 1
  }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-10s %-6s %12s %14s %14s %10s\n", "schedule", "seed", "test_error", "fe2_stage2", "fe2_end", "us/step"
    for (s in sched) {
      n = 0
      for (d in seed) {
        n++; te[n] = v[s "," d ",test_error"]
        printf "%-10s %-6s %12.4g %14.4g %14.4g %10.1f\n", s, d, v[s "," d ",test_error"], v[s "," d ",feature_error_2_stage_2"], v[s "," d ",feature_error_2"], v[s "," d ",us_per_step"]
      }
      printf "%-10s %-6s %12.4g\n", s, "median", median(te, n)
    }
  }' "$out/results.csv"
