#!/usr/bin/env bash
# Streaming session benchmark: a compiler's codegen replayed over the zstd
# library's modules (examples/replay.rs). Two codegen threads "generate"
# their share of the modules (a sleep per KiB of bitcode stands in for code
# generation) and add each to the session at once (it loads them in the
# background), or all at the end from one thread; thin LTO runs either way,
# on 2 backend threads.
# Prints, per input kind, the wall time and the time from the last module
# to the objects, stream against batch (one run each).
#
#   bench/stream.sh                   # 200 us of "codegen" per KiB of bitcode
#   BENCH_CODEGEN_US=0 bench/stream.sh
#   BENCH_DIR=/tmp/b bench/stream.sh  # work directory (default target/bench-stream)
#
# Input kinds: `thin` = clang-22 -O2 -flto=thin -c (bitcode with a summary:
# loading is a header read), `plain` = clang-22 -O2 -emit-llvm -c (no
# summary: loading computes one, which the stream does during codegen).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-stream}
jobs=2
codegen_us=${BENCH_CODEGEN_US:-200}
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
# shellcheck source=bench/thin-workloads.sh
. "$root/bench/thin-workloads.sh"
bench_setup
cargo build --release --quiet --example replay --manifest-path "$root/Cargo.toml"
replay=$root/target/release/examples/replay

zstd_workload "$zstd"
mkdir -p "$work/plain"
printf '%s\n' "$zstd"/{common,compress,decompress,dictBuilder,legacy}/*.c "$root/bench/thin_zstd_main.c" |
    xargs -P "$jobs" -I{} sh -c 'f=$1; shift; exec clang-22 "$@" -emit-llvm -c "$f" -o "'"$work/plain"'/$(basename "$f" .c).bc"' \
        sh {} "${zstd_cflags[@]}" || fail "zstd: plain bitcode compile failed"
# The assembly object is native: the replay takes bitcode only.
thin_inputs=()
for object in "$work"/zstd/obj/*.o; do
    [[ $object == *huf_decompress_amd64.o ]] || thin_inputs+=("$object")
done
plain_inputs=("$work"/plain/*.bc)

printf '%-6s %-6s %7s | %9s %9s\n' inputs mode modules wall_s after_last
for kind in thin plain; do
    declare -n inputs=${kind}_inputs
    for mode in batch stream; do
        line=$("$replay" --mode "$mode" --threads "$jobs" --codegen-us-per-kib "$codegen_us" \
            --out "$work/out-$kind-$mode" "${inputs[@]}")
        read -r modules wall after <<<"$(sed -E 's/.*modules=([0-9]+) wall_s=([0-9.]+) after_last_submit_s=([0-9.]+)/\1 \2 \3/' <<<"$line")"
        printf '%-6s %-6s %7s | %9s %9s\n' "$kind" "$mode" "$modules" "$wall" "$after"
        echo "$kind $mode $modules $wall $after" >> "$work/results.txt"
    done
    # The objects do not depend on the mode.
    for object in "$work/out-$kind-batch"/*.o; do
        cmp -s "$object" "$work/out-$kind-stream/$(basename "$object")" ||
            fail "$kind: $(basename "$object") differs between batch and stream"
    done
done
awk '{ key=$1; if ($2=="batch") { w[key]=$4; a[key]=$5 } else {
        printf "%s: stream/batch wall %.2f, after last module %.2f\n", key, $4/w[key], $5/a[key] } }' \
    "$work/results.txt"
