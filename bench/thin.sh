#!/usr/bin/env bash
# ThinLTO benchmark: lto-engine thin (+ the final lld link of its objects)
# against ld.lld-22's own ThinLTO, on the same inputs, with the same job count
# and the same LTO level (-O2), one run of each. Prints, per workload, the
# number of bitcode modules and the ratios engine/lld of wall time, CPU time
# (user+sys) and peak RSS; the programs both sides link must print the same.
#
#   bench/thin.sh                     # 2 jobs on each side
#   BENCH_JOBS=4 bench/thin.sh        # lld --thinlto-jobs=4, lto-engine --jobs 4
#   BENCH_DIR=/tmp/b bench/thin.sh    # work directory (default target/bench-thin)
#
# Workloads (rust: a crate graph of a few dozen crates; zstd: the C library):
# see bench/thin-workloads.sh. Per-step times and peaks are in
# $BENCH_DIR/results.txt, logs beside it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-thin}
jobs=${BENCH_JOBS:-2}
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
# shellcheck source=bench/thin-workloads.sh
. "$root/bench/thin-workloads.sh"
bench_setup

# ---- rust ----
rw=$work/rust
rust_workload "$root/bench/thin-rust"
measure rust-lld clang-22 -fuse-ld=lld -flto=thin -Wl,--thinlto-jobs="$jobs" -Wl,--lto-O2 \
    "${rust_lld_args[@]}" -o "$rw/lld-prog"
measure rust-engine "$engine" thin "${rust_inputs[@]}" -o "$rw/engine" --jobs "$jobs" -O2 --export main \
    --report "$rw/engine-report.json"
measure rust-engine-link clang-22 -fuse-ld=lld "${rust_final_args[@]}" -o "$rw/engine-prog"
compare "$rw"
compare "$rw" --records 3000 --seed 7
compare "$rw" --help

# ---- zstd ----
zw=$work/zstd
zstd_workload "$zstd"
measure zstd-lld clang-22 -fuse-ld=lld -flto=thin -Wl,--thinlto-jobs="$jobs" -Wl,--lto-O2 \
    "${zstd_objs[@]}" -pthread -o "$zw/lld-prog"
measure zstd-engine "$engine" thin "${zstd_objs[@]}" -o "$zw/engine" --jobs "$jobs" -O2 --export main \
    --report "$zw/engine-report.json"
measure zstd-engine-link clang-22 -fuse-ld=lld @"$zw/engine/link.rsp" -pthread -o "$zw/engine-prog"
compare "$zw"

echo
echo "ThinLTO, $jobs jobs each side, LTO -O2; engine = lto-engine thin + final lld link; ratio = engine/lld"
awk -v jobs="$jobs" -v rm="$rust_modules" -v zm="$zstd_modules" '
  { w[$1] = $2; c[$1] = $3 + $4; m[$1] = $5 }
  END {
    mods["rust"] = rm; mods["zstd"] = zm
    printf "%-8s %7s | %8s %8s %6s | %8s %8s %6s | %8s %8s %6s\n", "workload", "modules",
      "lld s", "engine s", "ratio", "lld cpu", "eng cpu", "ratio", "lld MiB", "eng MiB", "ratio"
    n = split("rust zstd", ws, " ")
    for (i = 1; i <= n; i++) {
      k = ws[i]; e = k "-engine"; l = k "-engine-link"
      ew = w[e] + w[l]; ec = c[e] + c[l]; em = (m[e] > m[l]) ? m[e] : m[l]
      printf "%-8s %7d | %8.2f %8.2f %6.2f | %8.2f %8.2f %6.2f | %8.1f %8.1f %6.2f\n", k, mods[k],
        w[k "-lld"], ew, ew / w[k "-lld"], c[k "-lld"], ec, ec / c[k "-lld"],
        m[k "-lld"] / 1024, em / 1024, em / m[k "-lld"]
    }
  }' "$results"
echo "(both builds of each program print the same; per-step figures: $results)"
