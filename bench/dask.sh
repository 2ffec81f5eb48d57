#!/usr/bin/env bash
# Distributed ThinLTO on a real Dask cluster, one run of each: a scheduler
# and $BENCH_WORKERS worker processes (default 2, one thread each) on
# 127.0.0.1, each in a working directory and with an action cache of its
# own, the jobs run by dask-distributor's lto-engine-dask with the engine's
# backend. Workloads: Lua 5.4 (the lua-src crate's sources, clang-22 -O2
# -flto=thin) and the Rust crate graph of bench/thin-rust (-C
# linker-plugin-lto; see bench/thin-workloads.sh).
#
# Per workload:
#   local   lto-engine thin (in-process backends on every core)
#   cold    lto-engine index --distributor lto-engine-dask, empty caches
#   warm    the same again: every job from the action cache
# The programs linked from the local and the distributed objects must print
# the same. Then: wall times and ratios, bytes shipped from this machine,
# per-job times, and the model of N machines (4 to 64) from the cold run's
# job times and input sizes (python -m lto_engine_dask.model).
#
#   bench/dask.sh
#   BENCH_WORKERS=3 bench/dask.sh
#   BENCH_DIR=/tmp/b bench/dask.sh   # work directory (default target/bench-dask)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-dask}
workers=${BENCH_WORKERS:-2}
jobs=$(nproc)
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
# shellcheck source=bench/thin-workloads.sh
. "$root/bench/thin-workloads.sh"
bench_setup
venv=$root/.venv-dask
dist=$venv/bin/lto-engine-dask
[ -x "$dist" ] || fail "$dist is missing (ci/setup.sh makes it)"

# ---- the cluster ----
pids=()
# SIGKILL: a worker whose scheduler went first would keep trying to reach it.
stop_cluster() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_cluster EXIT
"$venv/bin/dask" scheduler --host 127.0.0.1 --port 0 --no-dashboard \
    --scheduler-file "$work/scheduler.json" > "$work/scheduler.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -s "$work/scheduler.json" ] && break; sleep 0.1; done
address=$("$venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["address"])' "$work/scheduler.json")
for k in $(seq "$workers"); do
    mkdir -p "$work/worker-$k"
    LTO_ENGINE_DASK_CACHE=$work/worker-$k-cache "$venv/bin/dask" worker --nthreads 1 --no-nanny --death-timeout 60 \
        --no-dashboard --local-directory "$work/worker-$k" "$address" > "$work/worker-$k.log" 2>&1 &
    pids+=($!)
done
for k in $(seq "$workers"); do
    for _ in $(seq 600); do grep -q "Registered to" "$work/worker-$k.log" && break; sleep 0.1; done
    grep -q "Registered to" "$work/worker-$k.log" || fail "worker $k did not register"
done
echo "bench: cluster at $address with $workers workers" >&2

# run_workload NAME DIR LIBS...: local, cold and warm on the inputs in
# $inputs (paths relative to DIR, where everything runs); the final links
# add LIBS (after the objects) and $link_before (before them).
run_workload() {
    local name=$1 dir=$2; shift 2
    local libs=("$@")
    cd "$dir"
    measure "$name-local" "$engine" thin "${inputs[@]}" -O2 --export main -o local
    rm -rf "$work"/worker-*-cache
    local k
    clang-22 -fuse-ld=lld "${link_before[@]}" @local/link.rsp "${libs[@]}" -o local-prog
    # The same index directory both times, as a build would use: the index
    # files name the modules the thin link wrote there (an rlib's members).
    for k in cold warm; do
        measure "$name-$k" "$engine" index "${inputs[@]}" --index-dir dask -O2 --export main \
            --distributor "$dist" --distributor-arg="--scheduler=$address" \
            --distributor-arg="--stats=$work/$name-$k.json"
        clang-22 -fuse-ld=lld "${link_before[@]}" @dask/link.rsp "${libs[@]}" -o "$k-prog"
    done
    cd "$root"
}

# same DIR ARGS...: the distributed programs print what the local one does.
same() {
    local dir=$1; shift
    (cd "$dir" && ./local-prog "$@") > "$dir/local.out" || fail "$dir/local-prog $* failed"
    local k
    for k in cold warm; do
        (cd "$dir" && "./$k-prog" "$@") > "$dir/$k.out" || fail "$dir/$k-prog $* failed"
        cmp -s "$dir/local.out" "$dir/$k.out" || fail "$dir/$k-prog prints another output ($*)"
    done
}

# ---- lua ----
mkdir -p "$work/fetch-lua/src"
cat > "$work/fetch-lua/Cargo.toml" <<'TOML'
[package]
name = "bench-fetch-lua"
version = "0.0.0"
edition = "2021"
[dependencies]
lua-src = "=547.1.0"
[workspace]
TOML
echo 'fn main() {}' > "$work/fetch-lua/src/main.rs"
cargo fetch --quiet --manifest-path "$work/fetch-lua/Cargo.toml"
lua=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/lua-src-547.1.0/lua-5.4.7 | head -1)
lw=$work/lua
mkdir -p "$lw/obj"
printf '%s\n' "$lua"/*.c "$root/bench/lua_main.c" | grep -v -E '/(lua|luac|onelua)\.c$' |
    xargs -P "$jobs" -I{} sh -c 'exec clang-22 -O2 -flto=thin -DLUA_USE_LINUX -I"$1" -c "$2" -o "$3/obj/$(basename "$2" .c).o"' \
        sh "$lua" {} "$lw" || fail "lua: compile failed"
inputs=()
for f in "$lw"/obj/*.o; do inputs+=("obj/$(basename "$f")"); done
lua_modules=${#inputs[@]}
link_before=()
run_workload lua "$lw" -lm -ldl
same "$lw"

# ---- rust ----
rw=$work/rust
rust_workload "$root/bench/thin-rust"
# Paths relative to the workload's directory, as a build system names them
# (the distributor ships relative paths; see dask-distributor's README).
inputs=()
for f in "${rust_inputs[@]}"; do inputs+=("$(realpath --relative-to="$rw" "$f")"); done
rust_link_around_inputs
run_workload rust "$rw" "${link_after[@]}"
same "$rw"
same "$rw" --records 3000 --seed 7

echo
echo "Distributed ThinLTO on a local Dask cluster ($workers workers x 1 thread, 127.0.0.1); LTO -O2, one run"
awk -v lm="$lua_modules" -v rm="$rust_modules" '
  { w[$1] = $2; m[$1] = $5 }
  END {
    mods["lua"] = lm; mods["rust"] = rm
    printf "%-6s %7s | %9s %9s %6s | %9s %6s\n", "", "modules", "local s", "cold s", "ratio", "warm s", "ratio"
    n = split("lua rust", ws, " ")
    for (i = 1; i <= n; i++) {
      k = ws[i]
      printf "%-6s %7d | %9.3f %9.3f %6.2f | %9.3f %6.2f\n", k, mods[k], w[k "-local"], w[k "-cold"],
        w[k "-cold"] / w[k "-local"], w[k "-warm"], w[k "-warm"] / w[k "-local"]
    }
  }' "$results"
echo "(local = lto-engine thin; cold/warm = lto-engine index --distributor lto-engine-dask, the thin"
echo " link included; per-step figures: $results)"
for name in lua rust; do
    echo
    "$venv/bin/python" - "$work/$name-cold.json" "$work/$name-warm.json" "$name" <<'EOF'
import json, sys
cold, warm = (json.load(open(p)) for p in sys.argv[1:3])
name = sys.argv[3]
times = sorted(j["seconds"] for j in cold["per_job"])
compile_total = sum(j["compile_seconds"] for j in cold["per_job"])
mid = times[len(times) // 2]
print(f"{name}: cold: {cold['shipped_files']} files, {cold['shipped_bytes'] / 1e6:.1f} MB shipped from this "
      f"machine ({cold['input_bytes'] / 1e6:.1f} MB distinct inputs), {cold['object_bytes'] / 1e6:.1f} MB of objects back")
print(f"{name}: cold: per job {times[0]:.3f} / {mid:.3f} / {times[-1]:.3f} s (min / median / max), "
      f"{sum(times):.2f} s in all ({compile_total:.2f} s in the compiler); distributor phases: "
      + ", ".join(f"{k} {v:.3f} s" for k, v in cold["phases"].items()))
print(f"{name}: warm: {warm['cache_hits']} of {warm['jobs']} jobs from the action cache, "
      f"{warm['shipped_bytes']} bytes shipped")
EOF
    echo "$name: the model of N machines (from the cold run):"
    PYTHONPATH=$root/dask-distributor/src "$venv/bin/python" -m lto_engine_dask.model "$work/$name-cold.json"
done
