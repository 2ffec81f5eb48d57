#!/usr/bin/env bash
# Distributed ThinLTO benchmark, one run of each, on the ThinLTO workloads
# (bench/thin-workloads.sh):
#
#  1. The thin link alone, writing the per-module index and imports files:
#     `lto-engine index` against `ld.lld-22 --thinlto-index-only` (through
#     clang-22, with rustc's / the C link's flags).
#  2. A whole distributed build through the same local distributor (a
#     python script running $jobs jobs at once, like LLVM's
#     utils/dtlto/local.py): lld 22's DTLTO (`--thinlto-distributor`, clang-22
#     backends) against `lto-engine index --distributor` with clang-22
#     backends and with `lto-engine backend` backends, each plus the final
#     lld link of the objects. The programs must print what lld's print.
#
#   bench/distributed.sh                  # 2 jobs
#   BENCH_JOBS=4 bench/distributed.sh
#   BENCH_DIR=/tmp/b bench/distributed.sh # work directory (default target/bench-distributed)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-distributed}
jobs=${BENCH_JOBS:-2}
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
# shellcheck source=bench/thin-workloads.sh
. "$root/bench/thin-workloads.sh"
bench_setup

# The distributor: `python3 local.py jobs.json`, $jobs jobs at a time;
# fails when a job fails.
cat > "$work/local.py" <<EOF
import json, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
spec = json.load(open(sys.argv[-1]))
def run(job):
    return subprocess.call(spec["common"]["args"] + job["args"])
with ThreadPoolExecutor($jobs) as pool:
    codes = list(pool.map(run, spec["jobs"]))
sys.exit(1 if any(codes) else 0)
EOF
dist=(python3 "$work/local.py")

# distributed NAME DIR INPUTS...: the three distributed builds and the
# index-only thin links of one workload; the link flags are in link_before /
# link_after (around the inputs).
distributed() {
    local name=$1 dir=$2; shift 2
    local inputs=("$@")
    mkdir -p "$dir/lld-index"
    # lld writes index files beside its inputs: give it copies of nothing,
    # only a list of objects to write.
    measure "$name-index-lld" clang-22 -fuse-ld=lld -flto=thin -Wl,--lto-O2 \
        -Wl,--thinlto-index-only="$dir/lld-index/objects.txt" -Wl,--thinlto-emit-imports-files \
        "${link_before[@]}" "${inputs[@]}" "${link_after[@]}" -o "$dir/lld-index/unused"
    measure "$name-index-engine" "$engine" index "${inputs[@]}" --index-dir "$dir/engine-index" \
        -O2 --export main --emit-imports

    measure "$name-dtlto-lld" clang-22 -fuse-ld=lld -flto=thin -Wl,--lto-O2 \
        -Wl,--thinlto-distributor="$(command -v python3)" -Wl,--thinlto-distributor-arg="$work/local.py" \
        -Wl,--thinlto-remote-compiler="$(command -v clang-22)" \
        "${link_before[@]}" "${inputs[@]}" "${link_after[@]}" -o "$dir/lld-prog"
    local style
    for style in clang engine; do
        local compiler=$engine
        [ "$style" = clang ] && compiler=$(command -v clang-22)
        measure "$name-dtlto-$style" "$engine" index "${inputs[@]}" --index-dir "$dir/$style" \
            -O2 --export main --distributor "${dist[0]}" --distributor-arg "${dist[1]}" \
            --remote-compiler "$compiler"
        measure "$name-dtlto-$style-link" clang-22 -fuse-ld=lld \
            "${link_before[@]}" @"$dir/$style/link.rsp" "${link_after[@]}" -o "$dir/$style-prog"
    done
}

# same_output DIR PROG ARGS...: DIR/PROG prints what DIR/lld-prog prints.
same_output() {
    local dir=$1 prog=$2; shift 2
    (exec -a prog "$dir/lld-prog" "$@") > "$dir/lld.out" || fail "$dir/lld-prog $* failed"
    (exec -a prog "$dir/$prog" "$@") > "$dir/$prog.out" || fail "$dir/$prog $* failed"
    cmp -s "$dir/lld.out" "$dir/$prog.out" || fail "$dir/$prog: output differs from lld's ($*)"
}

# ---- rust ----
rw=$work/rust
rust_workload "$root/bench/thin-rust"
rust_link_around_inputs
distributed rust "$rw" "${rust_inputs[@]}"
for prog in clang-prog engine-prog; do
    same_output "$rw" "$prog"
    same_output "$rw" "$prog" --records 3000 --seed 7
done

# ---- zstd ----
zw=$work/zstd
zstd_workload "$zstd"
link_before=() link_after=(-pthread)
distributed zstd "$zw" "${zstd_objs[@]}"
for prog in clang-prog engine-prog; do
    same_output "$zw" "$prog"
done

echo
echo "Distributed ThinLTO, $jobs jobs, LTO -O2, one run; ratio = engine/lld"
awk -v rm="$rust_modules" -v zm="$zstd_modules" '
  { w[$1] = $2; m[$1] = $5 }
  END {
    mods["rust"] = rm; mods["zstd"] = zm
    printf "%-8s %7s | %-28s %8s %8s %6s | %8s %8s %6s\n", "workload", "modules", "step",
      "lld s", "engine s", "ratio", "lld MiB", "eng MiB", "ratio"
    n = split("rust zstd", ws, " ")
    for (i = 1; i <= n; i++) {
      k = ws[i]
      l = k "-index-lld"; e = k "-index-engine"
      printf "%-8s %7d | %-28s %8.3f %8.3f %6.2f | %8.1f %8.1f %6.2f\n", k, mods[k], "thin link, index files",
        w[l], w[e], w[e] / w[l], m[l] / 1024, m[e] / 1024, m[e] / m[l]
      split("clang engine", ss, " ")
      for (j = 1; j <= 2; j++) {
        s = k "-dtlto-" ss[j]; lk = s "-link"; d = k "-dtlto-lld"
        ew = w[s] + w[lk]
        printf "%-8s %7d | %-28s %8.3f %8.3f %6.2f | %8.1f %8.1f %6.2f\n", k, mods[k],
          "distributed, " ss[j] " backends", w[d], ew, ew / w[d], m[d] / 1024, m[s] / 1024, m[s] / m[d]
      }
    }
  }' "$results"
echo "(lld = clang-22 -fuse-ld=lld with --thinlto-index-only / --thinlto-distributor and clang-22 backends;"
echo " engine = lto-engine index [--distributor] + the final lld link; per-step figures: $results)"
