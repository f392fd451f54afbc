#!/usr/bin/env bash
# valgrind.sh: valgrind memcheck on short runs of every bfc command: gen, train, fit with
# each baseline family, train/fit reading the files gen wrote, and sweep --dry-run on the
# default configuration. Exits 1 if any run has a memcheck error or definitely/indirectly
# lost bytes; "possibly lost" blocks (such as a thread pool's stacks left at exit) are
# printed, not counted.
#   fuzz/valgrind.sh [BUILD_DIR]      default build-vg, configured here if missing, then built
# The build is Debug without -march=native (valgrind cannot decode AVX-512 instructions);
# OpenBLAS is pinned to its Haswell kernels for the same reason.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-vg}
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DBFC_NATIVE=OFF >/dev/null || exit 2
fi
cmake --build "$build" -j 2 --target bfc_cli >/dev/null || exit 2
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind not installed" >&2; exit 2; }
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bfc-valgrind-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
small=(--d 6 --n-test 500 --n-ref 5000 --quiet)
runs=(
    "gen --out $tmp/gen --n 512 ${small[*]}"
    "train --n 512 --steps 20 ${small[*]}"
    "fit --method krr --n 600 ${small[*]}"
    "fit --method ntk --n 600 ${small[*]}"
    "fit --method entk --n 300 ${small[*]}"
    "fit --method seqkernel --n 1500 ${small[*]}"
    "fit --method twolayer --width 16 --steps 20 --n 512 ${small[*]}"
    "train --data $tmp/gen --steps 20 --out $tmp/train --quiet"
    "fit --method krr --data $tmp/gen --out $tmp/fit --quiet"
    "sweep $root/bench/configs/default.json --dry-run --out $tmp/sweep"
)
lost() { sed -n "s/.*$1 lost: \([0-9,]*\) bytes.*/\1/p" "$2" | tail -1; }
bad=0
i=0
for r in "${runs[@]}"; do
    i=$((i + 1))
    log=$tmp/vg$i.log
    # shellcheck disable=SC2086
    valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
        --log-file="$log" "$build/bfc" $r >/dev/null 2>"$tmp/stderr$i"
    rc=$?
    errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tail -1)
    def=$(lost definitely "$log") ind=$(lost indirectly "$log") pos=$(lost possibly "$log")
    verdict=ok
    if [ "$rc" -eq 99 ] || [ "${errs:-0}" != 0 ]; then
        verdict="MEMCHECK ERRORS (log: $build/valgrind-$i.log)"
        cp "$log" "$build/valgrind-$i.log"
        bad=1
    elif [ "$rc" -ne 0 ]; then
        verdict="bfc exited $rc: $(tail -1 "$tmp/stderr$i")"
        bad=1
    fi
    printf '%-62s errors %-3s definitely %-6s indirectly %-6s possibly %-7s %s\n' \
        "$(sed "s|$tmp|TMP|g; s|$root/||g" <<<"bfc $r")" "${errs:-?}" "${def:-0}" "${ind:-0}" "${pos:-0}" "$verdict"
done
exit $bad
