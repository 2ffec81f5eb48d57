#!/usr/bin/env bash
# Fat LTO benchmark: lto-engine (+ the final lld link) against ld.lld-22's own
# full LTO, on the same bitcode, at the same level (-O2), one run each.
#
#   bench/fat.sh            # prints wall time, peak RSS and the ratios
#
# Workloads:
#   lua   the Lua 5.4 interpreter library (33 C files from the lua-src crate on
#         crates.io) plus bench/lua_main.c, compiled with clang-22 -O2 -flto
#   rust  tests/data/rust/report.rs as a staticlib with std, built with
#         -C linker-plugin-lto, linked with a C main
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench}
rm -rf "$work" && mkdir -p "$work"
"$root/ci/setup.sh"
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
engine=$root/target/release/lto-engine

# Sources from crates.io, through cargo's own cache.
mkdir -p "$work/fetch/src"
cat > "$work/fetch/Cargo.toml" <<'TOML'
[package]
name = "bench-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
lua-src = "=547.1.0"
TOML
echo 'fn main() {}' > "$work/fetch/src/main.rs"
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
lua=$(ls -d "$registry"/*/lua-src-547.1.0/lua-5.4.7 | head -1)

# measure NAME CMD...: runs once, appends "NAME seconds peak_kib" to results.
results=$work/results.txt
: > "$results"
measure() {
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$work/$name.log" 2>&1 || {
        echo "bench: $name failed:" >&2; cat "$work/$name.log" >&2; exit 1; }
    echo "$name $(cat "$work/time.txt")" >> "$results"
}

# ---- lua ----
mkdir -p "$work/lua/obj" "$work/lua/engine"
for src in "$lua"/*.c "$root/bench/lua_main.c"; do
    clang-22 -O2 -flto -DLUA_USE_LINUX -I"$lua" -c "$src" -o "$work/lua/obj/$(basename "${src%.c}").o"
done
objs=("$work"/lua/obj/*.o)
measure lua-lld clang-22 -fuse-ld=lld -flto -O2 "${objs[@]}" -lm -ldl -o "$work/lua/lld-prog"
measure lua-engine "$engine" fat "${objs[@]}" -O2 --export main -o "$work/lua/engine/lto.o"
measure lua-engine-link clang-22 -fuse-ld=lld @"$work/lua/engine/link.rsp" -lm -ldl -o "$work/lua/engine-prog"
lua_lld_out=$("$work/lua/lld-prog")
lua_engine_out=$("$work/lua/engine-prog")
[ "$lua_lld_out" = "$lua_engine_out" ] || { echo "bench: lua outputs differ: $lua_lld_out vs $lua_engine_out" >&2; exit 1; }

# ---- rust ----
mkdir -p "$work/rust/engine"
rustc --edition=2021 -C opt-level=2 --crate-type=staticlib -C linker-plugin-lto \
    "$root/tests/data/rust/report.rs" --out-dir "$work/rust"
clang-22 -O2 -c "$root/tests/data/rust/report_main.c" -o "$work/rust/main.o"
measure rust-lld clang-22 -fuse-ld=lld -flto -O2 "$work/rust/main.o" "$work/rust/libreport.a" -lm -ldl -lpthread -o "$work/rust/lld-prog"
measure rust-engine "$engine" fat "$work/rust/main.o" "$work/rust/libreport.a" -O2 -o "$work/rust/engine/lto.o"
measure rust-engine-link clang-22 -fuse-ld=lld @"$work/rust/engine/link.rsp" -lm -ldl -lpthread -o "$work/rust/engine-prog"
[ "$("$work/rust/lld-prog")" = "$("$work/rust/engine-prog")" ] || { echo "bench: rust outputs differ" >&2; exit 1; }

echo "program output (lua, both builds): $lua_engine_out"
awk '
  { t[$1] = $2; m[$1] = $3 }
  END {
    printf "%-8s %12s %12s %14s %14s %10s %10s\n", "workload", "lld s", "engine+link s", "lld peak MiB", "engine peak MiB", "time ratio", "rss ratio"
    n = split("lua rust", w, " ")
    for (i = 1; i <= n; i++) {
      k = w[i]; et = t[k "-engine"] + t[k "-engine-link"]
      em = (m[k "-engine"] > m[k "-engine-link"]) ? m[k "-engine"] : m[k "-engine-link"]
      printf "%-8s %12.2f %12.2f %14.1f %14.1f %10.2f %10.2f\n", k, t[k "-lld"], et, m[k "-lld"] / 1024, em / 1024, et / t[k "-lld"], em / m[k "-lld"]
    }
  }' "$results"
