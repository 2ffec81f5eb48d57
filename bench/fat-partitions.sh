#!/usr/bin/env bash
# Fat LTO code generation partitions: lto-engine fat with one partition, with
# its default (auto, the late passes on the partitions) and with auto and the
# late passes on the whole module (--lto-late-passes serial), side by side with ld.lld-22's full LTO (one and two
# partitions) and rustc's own -C lto=fat, at -O2, one run of each. The
# programs each side links must print the same.
#
#   bench/fat-partitions.sh                   # 2 jobs
#   BENCH_JOBS=4 bench/fat-partitions.sh      # lto-engine --jobs 4
#   BENCH_DIR=/tmp/b bench/fat-partitions.sh  # work directory
#
# Workloads:
#   lua   the Lua 5.4 interpreter (33 C files of the lua-src crate) plus
#         bench/lua_main.c, compiled with clang-22 -O2 -flto (full);
#         lld: clang-22 -flto -fuse-ld=lld, default and -Wl,--lto-partitions=2
#   rust  the crate graph of bench/thin-rust (see bench/thin-workloads.sh),
#         every crate's bitcode; the engine's fat LTO over it against rustc's
#         own fat LTO of the same graph: cargo --release with
#         CARGO_PROFILE_RELEASE_LTO=fat, timed as the rebuild of the binary
#         crate after an edit, minus the same rebuild without LTO (rustc's
#         LTO step, std included)
# Also the .text size of each linked program (the late passes on partitions
# see less of the program than on the whole module), the split's serial
# time, and Lua with the partition cache: cold, warm, and one edit (reused
# partitions, the edit relink against cold, objects checked against a cold
# run of the edit).
# Per-step figures: $BENCH_DIR/results.txt; logs beside it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-fat-partitions}
jobs=${BENCH_JOBS:-2}
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
# shellcheck source=bench/thin-workloads.sh
. "$root/bench/thin-workloads.sh"
bench_setup

mkdir -p "$work/lua-fetch/src"
cat > "$work/lua-fetch/Cargo.toml" <<'TOML'
[package]
name = "bench-lua-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
lua-src = "=547.1.0"
[workspace]
TOML
echo 'fn main() {}' > "$work/lua-fetch/src/main.rs"
cargo fetch --quiet --manifest-path "$work/lua-fetch/Cargo.toml"
registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
lua=$(ls -d "$registry"/*/lua-src-547.1.0/lua-5.4.7 | head -1)
[ -d "$lua" ] || fail "lua-src sources not found under $registry"

# variant_flags V: the engine's flags for variant V: one partition, the
# default (auto, late passes on the partitions), and auto with the late
# passes on the whole module before the split (as lld).
variant_flags() {
    case $1 in
        p1) echo --lto-partitions 1 ;;
        pauto) echo --lto-partitions auto ;;
        pauto-serial) echo --lto-partitions auto --lto-late-passes serial ;;
    esac
}

# text_size NAME PROG: appends "NAME <.text bytes of PROG>" to $sizes.
sizes=$work/sizes.txt
: > "$sizes"
text_size() {
    echo "$1 $(size -A "$2" | awk '$1 == ".text" { print $2 }')" >> "$sizes"
}

# partitions NAME: the partition count in the engine's report of run NAME.
partitions() {
    python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["fat"]["partitions"]))' "$1"
}

# phase JSON NAME: seconds of phase NAME in the engine's report JSON (0
# when the run had no such phase).
phase() {
    python3 -c 'import json,sys
print(sum(p["seconds"] for p in json.load(open(sys.argv[1]))["phases"] if p["phase"] == sys.argv[2]))' "$1" "$2"
}

# ---- lua ----
lw=$work/lua
mkdir -p "$lw/obj"
for src in "$lua"/*.c "$root/bench/lua_main.c"; do
    clang-22 -O2 -flto -DLUA_USE_LINUX -I"$lua" -c "$src" -o "$lw/obj/$(basename "${src%.c}").o"
done
lua_objs=("$lw"/obj/*.o)
measure lua-lld-p1 clang-22 -fuse-ld=lld -flto -O2 -Wl,--lto-O2 "${lua_objs[@]}" -lm -ldl -o "$lw/lld-prog"
measure lua-lld-p2 clang-22 -fuse-ld=lld -flto -O2 -Wl,--lto-O2 -Wl,--lto-partitions=2 \
    "${lua_objs[@]}" -lm -ldl -o "$lw/lld-p2-prog"
for v in p1 pauto pauto-serial; do
    # shellcheck disable=SC2046 # the flags are words
    measure "lua-engine-$v" "$engine" fat "${lua_objs[@]}" -O2 --export main --jobs "$jobs" \
        $(variant_flags "$v") -o "$lw/engine-$v/lto.o" --report "$lw/engine-$v.json"
    measure "lua-engine-$v-link" clang-22 -fuse-ld=lld @"$lw/engine-$v/link.rsp" -lm -ldl \
        -o "$lw/engine-prog"
    text_size "lua-engine-$v" "$lw/engine-prog"
    compare "$lw"
done
text_size lua-lld-p1 "$lw/lld-prog"
cp "$lw/engine-prog" "$lw/lld-prog"
cp "$lw/lld-p2-prog" "$lw/engine-prog"
compare "$lw"
lua_parts=$(partitions "$lw/engine-pauto.json")

# ---- lua: the partition cache (--cache-dir), 8 partitions ----
# Cold (an empty cache), warm (nothing changed), then one edit of a live
# function's body (main's script: fib(27) becomes fib(26)), relinked with
# the cache and, for the reference, cold with a cache of its own: the two
# objects must be the same bytes and their programs print the same.
cache_parts=8
lc=$work/lua-cache
mkdir -p "$lc/obj"
cp "${lua_objs[@]}" "$lc/obj/"
lua_cache_run() { # NAME CACHE-DIR
    measure "$1" "$engine" fat "$lc"/obj/*.o -O2 --export main --jobs "$jobs" \
        --lto-partitions "$cache_parts" --cache-dir "$2" -o "$lc/$1/lto.o" --report "$lc/$1.json"
}
reused() { # JSON: how many partitions came from the cache
    python3 -c 'import json,sys
print(sum(p["cache"]["status"] == "hit" for p in json.load(open(sys.argv[1]))["fat"]["partitions"]))' "$1"
}
lua_cache_run lua-cache-cold "$lc/cache"
lua_cache_run lua-cache-warm "$lc/cache"
sed 's/fib(27)/fib(26)/' "$root/bench/lua_main.c" > "$lc/lua_main.c"
grep -q 'fib(26)' "$lc/lua_main.c" || fail "lua: the edit did not apply"
clang-22 -O2 -flto -DLUA_USE_LINUX -I"$lua" -c "$lc/lua_main.c" -o "$lc/obj/lua_main.o"
lua_cache_run lua-cache-edit "$lc/cache"
lua_cache_run lua-cache-edit-cold "$lc/cache-fresh"
cmp -s "$lc/lua-cache-edit/lto.o" "$lc/lua-cache-edit-cold/lto.o" ||
    fail "lua: the warm run's object after the edit differs from a cold run's"
mkdir -p "$lc/check"
clang-22 -fuse-ld=lld "$lc/lua-cache-edit/lto.o" -lm -ldl -o "$lc/check/engine-prog"
clang-22 -fuse-ld=lld "$lc/lua-cache-edit-cold/lto.o" -lm -ldl -o "$lc/check/lld-prog"
compare "$lc/check"
warm_reused=$(reused "$lc/lua-cache-warm.json")
edit_reused=$(reused "$lc/lua-cache-edit.json")

# ---- rust: the engine ----
rw=$work/rust
rust_workload "$root/bench/thin-rust"
for v in p1 pauto pauto-serial; do
    rm -rf "$rw/engine"
    # shellcheck disable=SC2046 # the flags are words
    measure "rust-engine-$v" "$engine" fat "${rust_inputs[@]}" -O2 --export main --jobs "$jobs" \
        $(variant_flags "$v") -o "$rw/engine/lto.o" --report "$rw/engine-$v.json"
    measure "rust-engine-$v-link" clang-22 -fuse-ld=lld "${rust_final_args[@]}" -o "$rw/engine-$v-prog"
    text_size "rust-engine-$v" "$rw/engine-$v-prog"
done
rust_parts=$(partitions "$rw/engine-pauto.json")
cp "$rw/engine-p1-prog" "$rw/lld-prog"
for v in pauto pauto-serial; do
    cp "$rw/engine-$v-prog" "$rw/engine-prog"
    compare "$rw"
    compare "$rw" --records 3000 --seed 7
done

# ---- rust: rustc's own fat LTO of the same graph ----
# Two target directories, dependencies built once in each; then one edit of
# the binary crate, rebuilt with and without LTO.
src=$work/rustc-src
cp -r "$root/bench/thin-rust" "$src"
for lto in off fat; do
    CARGO_PROFILE_RELEASE_LTO=$lto CARGO_TARGET_DIR=$work/rustc-$lto \
        cargo build --release --locked --offline --quiet --manifest-path "$src/Cargo.toml"
done
sed -i 's/ThinLTO benchmark workload/ThinLTO benchmark workload (edited)/' "$src/src/main.rs"
grep -q '(edited)' "$src/src/main.rs" || fail "rust: the edit did not apply"
for lto in off fat; do
    CARGO_PROFILE_RELEASE_LTO=$lto CARGO_TARGET_DIR=$work/rustc-$lto \
        measure "rustc-edit-lto-$lto" cargo build --release --locked --offline --manifest-path "$src/Cargo.toml"
done
# The rustc-built program behaves as the engine-built one.
cp "$work/rustc-fat/release/thin-bench" "$rw/lld-prog"
compare "$rw" --records 3000 --seed 7

echo
echo "Fat LTO, -O2, engine --jobs $jobs; engine = lto-engine fat + final lld link"
awk -v lp="$lua_parts" -v rp="$rust_parts" '
  { w[$1] = $2; c[$1] = $3 + $4; m[$1] = $5 }
  function row(label, name, link) {
    ww = w[name] + (link ? w[name "-link"] : 0)
    mm = (link && m[name "-link"] > m[name]) ? m[name "-link"] : m[name]
    printf "%-44s %9.2f %9.2f %9.1f\n", label, ww, c[name] + (link ? c[name "-link"] : 0), mm / 1024
    return ww
  }
  END {
    printf "%-44s %9s %9s %9s\n", "", "wall s", "cpu s", "peak MiB"
    l1 = row("lua: ld.lld full LTO, 1 partition", "lua-lld-p1", 0)
    l2 = row("lua: ld.lld full LTO, --lto-partitions=2", "lua-lld-p2", 0)
    e1 = row("lua: engine, 1 partition", "lua-engine-p1", 1)
    ea = row("lua: engine, auto (" lp " partitions)", "lua-engine-pauto", 1)
    es = row("lua: engine, auto, late passes serial", "lua-engine-pauto-serial", 1)
    r1 = row("rust: engine, 1 partition", "rust-engine-p1", 1)
    ra = row("rust: engine, auto (" rp " partitions)", "rust-engine-pauto", 1)
    rs = row("rust: engine, auto, late passes serial", "rust-engine-pauto-serial", 1)
    off = row("rust: rustc edit rebuild, no LTO", "rustc-edit-lto-off", 0)
    fat = row("rust: rustc edit rebuild, -C lto=fat", "rustc-edit-lto-fat", 0)
    printf "\nratios (wall):\n"
    printf "  lua  engine auto / engine 1 partition   %6.2f\n", ea / e1
    printf "  lua  engine auto / ld.lld 2 partitions  %6.2f\n", ea / l2
    printf "  lua  engine 1 / ld.lld 1 partition      %6.2f\n", e1 / l1
    printf "  lua  engine auto serial late / 1 part.  %6.2f\n", es / e1
    printf "  rust engine auto / engine 1 partition   %6.2f\n", ra / r1
    printf "  rust engine auto serial late / 1 part.  %6.2f\n", rs / r1
    printf "  rust engine auto / rustc LTO step       %6.2f  (rustc LTO step = %.2f s)\n", ra / (fat - off), fat - off
  }' "$results"
echo
echo "lua, the partition cache ($cache_parts partitions, --cache-dir), wall s, reused partitions:"
awk -v parts="$cache_parts" -v warm="$warm_reused" -v edit="$edit_reused" '
  { w[$1] = $2 }
  END {
    printf "  cold %7.2f\n", w["lua-cache-cold"]
    printf "  warm %7.2f  %d/%d reused  %5.2fx cold\n", w["lua-cache-warm"], warm, parts, w["lua-cache-warm"] / w["lua-cache-cold"]
    printf "  edit %7.2f  %d/%d reused  %5.2fx cold (objects identical to a cold run of the edit)\n", w["lua-cache-edit"], edit, parts, w["lua-cache-edit"] / w["lua-cache-cold"]
  }' "$results"
echo
echo "the split (serial: the plan and the one write of the optimized module), auto partitions:"
printf "  lua   %6.2f s of %6.2f s\n" "$(phase "$lw/engine-pauto.json" split)" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total_seconds"])' "$lw/engine-pauto.json")"
printf "  rust  %6.2f s of %6.2f s\n" "$(phase "$rw/engine-pauto.json" split)" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total_seconds"])' "$rw/engine-pauto.json")"
echo
echo ".text of the linked programs (bytes; ratio to the engine's one partition):"
awk '{ t[$1] = $2; order[NR] = $1 } END {
  for (i = 1; i <= NR; i++) {
    n = order[i]; base = (n ~ /^lua/) ? t["lua-engine-p1"] : t["rust-engine-p1"]
    printf "  %-28s %10d %8.4f\n", n, t[n], t[n] / base
  } }' "$sizes"
echo "(programs checked to print the same; per-step figures: $results)"
