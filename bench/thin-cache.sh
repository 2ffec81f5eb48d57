#!/usr/bin/env bash
# Incremental ThinLTO benchmark: lto-engine thin --cache-dir (+ the final lld
# link of its objects) against ld.lld-22 --thinlto-cache-dir, on the same
# inputs, the same job count and LTO level (-O2), one run of each of:
#   cold  an empty cache
#   warm  the same inputs again
#   edit  one function edited and its source recompiled (not timed):
#         rust  generate() in bench/thin-rust/src/main.rs (`% 3` -> `% 4`),
#               rebuilt by cargo (only that crate; rustc's link is recorded again)
#         zstd  ZSTD_createCCtx() in compress/zstd_compress.c gains a volatile
#               counter increment (a small function main imports)
# Prints each run's wall time per side, engine/lld ratios, and the engine's
# warm and edit times as a share of its cold run; both sides' programs must
# print the same after every run.
#
#   bench/thin-cache.sh                    # 2 jobs on each side
#   BENCH_JOBS=4 bench/thin-cache.sh
#   BENCH_DIR=/tmp/b bench/thin-cache.sh   # work directory (default target/bench-thin-cache)
#
# Workloads: see bench/thin-workloads.sh (copies of the sources are edited).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-thin-cache}
jobs=${BENCH_JOBS:-2}
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
# shellcheck source=bench/thin-workloads.sh
. "$root/bench/thin-workloads.sh"
bench_setup

# edit FILE PERL_SUBST: applies a perl substitution to FILE, which must change it.
edit() {
    local file=$1 subst=$2
    cp "$file" "$file.orig"
    perl -0pi -e "$subst" "$file"
    ! cmp -s "$file" "$file.orig" || fail "edit of $file changed nothing"
}

# ---- rust ----
rw=$work/rust
mkdir -p "$rw/crate"
cp -r "$root/bench/thin-rust/Cargo.toml" "$root/bench/thin-rust/Cargo.lock" "$root/bench/thin-rust/src" "$rw/crate/"
rust_workload "$rw/crate"
rust_run() {
    local phase=$1
    measure "rust-lld-$phase" clang-22 -fuse-ld=lld -flto=thin -Wl,--thinlto-jobs="$jobs" -Wl,--lto-O2 \
        -Wl,--thinlto-cache-dir="$rw/lld-cache" "${rust_lld_args[@]}" -o "$rw/lld-prog"
    measure "rust-engine-$phase" "$engine" thin "${rust_inputs[@]}" -o "$rw/engine" --jobs "$jobs" -O2 \
        --export main --cache-dir "$rw/engine-cache" --report "$rw/engine-$phase.json"
    measure "rust-engine-link-$phase" clang-22 -fuse-ld=lld "${rust_final_args[@]}" -o "$rw/engine-prog"
    compare "$rw"
    compare "$rw" --records 3000 --seed 7
}
rust_run cold
rust_run warm
edit "$rw/crate/src/main.rs" 's/let len = 2 \+ rng\.next\(\) % 3;/let len = 2 + rng.next() % 4;/'
rust_workload "$rw/crate"
rust_run edit

# ---- zstd ----
zw=$work/zstd
mkdir -p "$zw"
cp -r "$zstd" "$zw/src"
zstd_workload "$zw/src"
zstd_run() {
    local phase=$1
    measure "zstd-lld-$phase" clang-22 -fuse-ld=lld -flto=thin -Wl,--thinlto-jobs="$jobs" -Wl,--lto-O2 \
        -Wl,--thinlto-cache-dir="$zw/lld-cache" "${zstd_objs[@]}" -pthread -o "$zw/lld-prog"
    measure "zstd-engine-$phase" "$engine" thin "${zstd_objs[@]}" -o "$zw/engine" --jobs "$jobs" -O2 \
        --export main --cache-dir "$zw/engine-cache" --report "$zw/engine-$phase.json"
    measure "zstd-engine-link-$phase" clang-22 -fuse-ld=lld @"$zw/engine/link.rsp" -pthread -o "$zw/engine-prog"
    compare "$zw"
}
zstd_run cold
zstd_run warm
edit "$zw/src/compress/zstd_compress.c" \
    's/ZSTD_CCtx\* ZSTD_createCCtx\(void\)\n\{\n/static volatile unsigned bench_edit_count;\nZSTD_CCtx* ZSTD_createCCtx(void)\n{\n    bench_edit_count++;\n/'
clang-22 "${zstd_cflags[@]}" -flto=thin -c "$zw/src/compress/zstd_compress.c" -o "$zw/obj/zstd_compress.o"
zstd_run edit

# hits/misses of the engine's runs, from its reports
cache_counts() {
    python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["thin"]["cache"]; print("%d/%d" % (c["hits"], c["hits"] + c["misses"]))' "$1"
}

echo
echo "Incremental ThinLTO, $jobs jobs each side, LTO -O2; engine = lto-engine thin --cache-dir + final lld link"
echo "(lld: ld.lld-22 --thinlto-cache-dir); ratio = engine/lld; share = engine run / engine cold run"
printf "%-8s %-5s %7s | %8s %8s %6s | %6s | %s\n" workload run modules "lld s" "engine s" ratio share "engine hits"
for w in rust zstd; do
    mods=$([ $w = rust ] && echo "$rust_modules" || echo "$zstd_modules")
    for phase in cold warm edit; do
        awk -v w="$w" -v p="$phase" -v mods="$mods" -v hits="$(cache_counts "$work/$w/engine-$phase.json")" '
          { t[$1] = $2 }
          END {
            e = t[w "-engine-" p] + t[w "-engine-link-" p]
            cold = t[w "-engine-cold"] + t[w "-engine-link-cold"]
            l = t[w "-lld-" p]
            printf "%-8s %-5s %7d | %8.3f %8.3f %6.2f | %5.1f%% | %s\n", w, p, mods, l, e, e / l, 100 * e / cold, hits
          }' "$results"
    done
done
echo "(both builds print the same after every run; per-step figures: $results)"
