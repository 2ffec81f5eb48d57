#!/usr/bin/env bash
# Mutation fuzzing (examples/fuzz.rs): bad inputs must never take the process
# down. Three probes, on seeds built from tests/data (clang-22 -flto=thin,
# -flto, native, -fembed-bitcode and -ffat-lto-objects objects of
# tests/data/c, an llvm-ar-22 archive mixing bitcode and native members, a
# rustc rlib with embedded bitcode):
#
#   classify  FUZZ_ITERATIONS mutated inputs added to fat sessions (in process) through the
#             public API: classification alone (no session work starts in
#             the background). Must never panic; LLVM crashes in process
#             (the library's default, uncontained by design) are counted.
#   load      FUZZ_LOAD_ITERATIONS mutated inputs added to thin sessions with
#             worker processes (Isolation::Workers, the CLI's `worker`), each
#             load waited for: a thin session starts loading (LLVM reads the
#             bitcode, and computes a summary when there is none) as soon as
#             a module is added. Crashes there must come back as errors.
#   cli       FUZZ_RUNS runs of the release CLI on tests/data/c's program (thin
#             and full LTO objects), one file mutated per run, alternating
#             `thin -o DIR` and `fat -o OUT.o`: accepted, clean error (one
#             `lto-engine: error:` line), contained crash (the same, naming a
#             crashed or timed-out worker) or uncontained (anything else).
#
#   bench/fuzz.sh                          # 1,000,000 / 10,000 / 2500
#   FUZZ_RUNS=200 FUZZ_ITERATIONS=100000 bench/fuzz.sh
#   FUZZ_SEED=7 bench/fuzz.sh              # another stream of mutations (default 1)
#   BENCH_DIR=/tmp/b bench/fuzz.sh         # work directory (default target/bench-fuzz)
#
# Every process runs under `ulimit -v` of FUZZ_MEM_MB (default 4096): some
# mutated bitcode makes LLVM allocate without bound. An in-process probe that
# dies saves the input under $BENCH_DIR/<probe>/crashes/ and resumes after it
# (at most FUZZ_MAX_CRASHES times per probe, default 500); uncontained CLI runs
# are saved under $BENCH_DIR/cli/uncontained/ with a cmd.sh that reruns them.
# Each crash is rerun under gdb (when installed) for its backtrace
# (backtrace.txt) and a one-line signature (signature.txt). Prints the counts,
# the signatures and the worker pool directories runs left in their TMPDIR;
# exits 1 if any probe panicked, a session with workers crashed, or a CLI run
# was uncontained.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-fuzz}
seed=${FUZZ_SEED:-1}
iterations=${FUZZ_ITERATIONS:-1000000}
load_iterations=${FUZZ_LOAD_ITERATIONS:-10000}
runs=${FUZZ_RUNS:-2500}
mem_mb=${FUZZ_MEM_MB:-4096}
max_crashes=${FUZZ_MAX_CRASHES:-500}
fail() { echo "bench: $*" >&2; exit 2; }
for knob in seed iterations load_iterations runs mem_mb max_crashes; do
    [[ ${!knob} =~ ^[0-9]+$ ]] || fail "$knob must be a non-negative integer, not '${!knob}'"
done
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
"$root/ci/setup.sh" gdb

# The in-process probes rewrite their input once per iteration: in memory
# when the system has /dev/shm (a disk file system makes that journal I/O).
scratch=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo "$work")/lto-engine-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# limited CMD...: runs CMD with the memory cap and no core files.
limited() { (ulimit -v $((mem_mb * 1024)) && ulimit -c 0 && exec "$@"); }

# ---- seeds ----
seeds=$work/seeds
mkdir -p "$seeds"/{thin,full,native,embed,fatlto,rlib}
for c in "$root"/tests/data/c/*.c; do
    name=$(basename "$c" .c)
    clang-22 -O2 -flto=thin -c "$c" -o "$seeds/thin/$name.o"
    clang-22 -O2 -flto -c "$c" -o "$seeds/full/$name.o"
    clang-22 -O2 -c "$c" -o "$seeds/native/$name.o"
done
clang-22 -O2 -fembed-bitcode -c "$root/tests/data/c/scale.c" -o "$seeds/embed/scale.o"
clang-22 -O2 -flto -ffat-lto-objects -c "$root/tests/data/c/checksum.c" -o "$seeds/fatlto/checksum.o"
(cd "$seeds" && cp thin/checksum.o checksum.o && cp native/scale.o scale.o &&
    llvm-ar-22 rcs libmixed.a checksum.o scale.o && rm checksum.o scale.o)
rustc --edition=2021 -C opt-level=2 --crate-type=rlib -C embed-bitcode=yes -C codegen-units=2 \
    "$root/tests/data/rust/graphlib.rs" --out-dir "$seeds/rlib"
classify_seeds=("$seeds"/thin/main.o "$seeds"/full/main.o "$seeds"/native/main.o "$seeds"/libmixed.a
    "$seeds"/rlib/libgraphlib.rlib "$seeds"/embed/scale.o "$seeds"/fatlto/checksum.o)

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
cargo build --release --quiet --example fuzz --manifest-path "$root/Cargo.toml"
engine=$root/target/release/lto-engine
fuzz=$root/target/release/examples/fuzz

# signature < backtrace.txt: "SIGNAL[, LLVM ERROR: ..]: f1 < f2 < f3 ... < lto_engine frame",
# the innermost named frames of the crashing thread (not libc's or Rust's own).
signature() {
    awk '
    /received signal/ { for (i = 1; i <= NF; i++) if ($i == "signal") { sig = $(i + 1); sub(/,$/, "", sig) } }
    /^LLVM ERROR/ && !llvm { llvm = $0 }
    /^#[0-9]+ / {
        line = $0
        sub(/^#[0-9]+ +/, "", line); sub(/^0x[0-9a-f]+ in /, "", line)
        fn = line; sub(/ \(.*$/, "", fn); sub(/\(.*$/, "", fn); sub(/::h[0-9a-f]+$/, "", fn)
        if (fn == "??" || fn ~ /^(__|_IO_|raise|abort|std::|core::|rayon_core::|start_thread|clone)/ || fn ~ /^</) next
        if (fn ~ /^lto_engine::/) { if (engines < 2 && fn != engine_frames[engines]) engine_frames[++engines] = fn; next }
        if (named < 3) frames[++named] = fn
    }
    END {
        if (!sig) { print "did not crash again under gdb (memory or timing dependent; see backtrace.txt)"; exit }
        out = sig (llvm ? ", " llvm : "") ":"
        for (i = 1; i <= named; i++) out = out (i > 1 ? " <" : "") " " frames[i]
        for (i = 1; i <= engines; i++) out = out (i > 1 ? " <" : " ...") " " engine_frames[i]
        print out
    }'
}

# triage DIR CMD...: reruns a crashing command under gdb in DIR (also its
# TMPDIR, for what workers save).
triage() {
    local dir=$1; shift
    if command -v gdb > /dev/null; then
        (cd "$dir" && export TMPDIR="$dir" && limited timeout 300 gdb -q -batch -ex "set print thread-events off" -ex run -ex bt \
            --args "$@") > "$dir/backtrace.txt" 2>&1 || true
        signature < "$dir/backtrace.txt" > "$dir/signature.txt"
    else
        echo "no gdb: see reason.txt" > "$dir/signature.txt"
    fi
}

# probe NAME KIND COUNT [ARG...]: the in-process fuzzer over COUNT iterations.
# A crash cannot be caught in process: the input and its iteration are left
# in the work directory, saved, triaged, and the run resumes after it.
probe() {
    local name=$1 kind=$2 total=$3 start=0 crashes=0 rc i crash
    shift 3
    local dir=$work/$name scratch_dir=$scratch/$name
    # Temporary files of the session's workers stay in the bench directory.
    mkdir -p "$dir/crashes" "$dir/tmp"
    : > "$dir/summary.txt"
    echo "bench: $name: $total iterations" >&2
    while ((start < total)); do
        rc=0
        limited env TMPDIR="$dir/tmp" "$fuzz" classify --kind "$kind" "$@" --seed "$seed" --start "$start" \
            --iterations $((total - start)) --work "$scratch_dir" --out "$dir/out" "${classify_seeds[@]}" \
            >> "$dir/summary.txt" 2>> "$dir/log.txt" || rc=$?
        ((rc <= 1)) && break # 1: panics, counted in the summary
        ((rc > 128)) || fail "$name: the fuzzer failed (exit $rc): $(tail -n 3 "$dir/log.txt")"
        # The counts up to the crash, then the crashing iteration.
        sed -n 2p "$scratch_dir/current" >> "$dir/summary.txt"
        i=$(sed -nE '1s/^iteration=([0-9]+) .*/\1/p' "$scratch_dir/current")
        crash=$dir/crashes/iter-$i
        mkdir -p "$crash"
        cp "$scratch_dir/input" "$scratch_dir/current" "$crash/"
        echo "signal $((rc - 128))" > "$crash/reason.txt"
        triage "$crash" "$fuzz" classify --kind "$kind" "$@" --seed "$seed" --only "$i" \
            --work "$crash/replay" --out "$crash/replay" "${classify_seeds[@]}"
        echo "bench: $name: iteration $i: signal $((rc - 128)): $(cat "$crash/signature.txt")" >&2
        crashes=$((crashes + 1))
        start=$((i + 1))
        if ((crashes >= max_crashes)); then
            echo "bench: $name: stopped at $crashes crashes (FUZZ_MAX_CRASHES)" >&2
            break
        fi
    done
    echo "$crashes" > "$dir/crash-count.txt"
}

# totals SUMMARY CRASHES: the segments' `classify:` lines summed into one.
totals() {
    awk -v crashes="$2" '
    {
        n = split($0, parts, / \| /)
        for (p = 1; p <= n; p++) {
            prefix = (parts[p] ~ /^ *load:/) ? "load_" : ""
            if (p == n) { split(parts[p], t, " "); secs += t[1]; continue }
            m = split(parts[p], tok, /[ ()]+/)
            for (k = 1; k <= m; k++) if (split(tok[k], kv, "=") == 2) {
                key = prefix kv[1]
                if (!(key in sum)) order[++keys] = key
                sum[key] += kv[2]
            }
        }
    }
    END {
        out = ""
        for (k = 1; k <= keys; k++) out = out order[k] "=" sum[order[k]] " "
        printf "%scrashes=%d | %.1f s, %.0f iterations/s\n", out, crashes, secs, secs ? sum["iterations"] / secs : 0
    }' "$1"
}

# Classification in process (a session per iteration: workers would start a
# process for each), the library's default mode, which does not contain
# LLVM: its crashes (in the no_builtins check of embedded bitcode) are
# counted and shown, not a failure. Loading runs in workers, as the CLI
# does, where every crash must come back as an error.
probe classify fat "$iterations"
probe load thin "$load_iterations" --engine "$engine"

# ---- cli ----
echo "bench: cli: $runs runs" >&2
mkdir -p "$work/cli"
cli_rc=0
limited "$fuzz" cli --runs "$runs" --seed "$seed" --engine "$engine" --out "$work/cli" \
    "$seeds"/thin/*.o -- "$seeds"/full/*.o > "$work/cli/summary.txt" 2> "$work/cli-log.txt" || cli_rc=$?
((cli_rc <= 1)) || fail "cli: the fuzzer failed (exit $cli_rc): $(tail -n 3 "$work/cli-log.txt")"
for run in "$work"/cli/uncontained/*/; do
    [ -d "$run" ] || continue
    case $(cat "$run/reason.txt") in
        signal*)
            mapfile -t args < "$run/args.txt"
            triage "$run" "${args[@]}"
            ;;
        *) { cat "$run/reason.txt"; grep -v '^lto-engine: warning: ' "$run/stderr.txt" | head -n 1; } |
            paste -sd ':' > "$run/signature.txt" ;;
    esac
done

echo
echo "fuzz, seed $seed, memory cap $mem_mb MiB"
classify_crashes=$(cat "$work/classify/crash-count.txt")
load_crashes=$(cat "$work/load/crash-count.txt")
echo "classify (fat sessions):  $(totals "$work/classify/summary.txt" "$classify_crashes")"
echo "load (thin sessions):     $(totals "$work/load/summary.txt" "$load_crashes")"
cat "$work/cli/summary.txt"
leaked=$(find "$work"/cli/reproducers "$work"/load/tmp -maxdepth 1 -type d -regex '.*/lto-engine-[0-9]+-[0-9]+' | wc -l)
echo "worker pool directories left behind in TMPDIR: $leaked"
signatures=$(cat "$work"/{classify,load}/crashes/*/signature.txt "$work"/cli/uncontained/*/signature.txt 2> /dev/null || true)
if [ -n "$signatures" ]; then
    echo "crash signatures (count, signature; reproducers under $work/{classify,load}/crashes, $work/cli/uncontained):"
    sort <<< "$signatures" | uniq -c | sort -rn
fi
panics=$(cat "$work"/{classify,load}/summary.txt | sed -nE 's/.* panics=([0-9]+).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
uncontained=$(sed -nE 's/.* uncontained=([0-9]+).*/\1/p' "$work/cli/summary.txt")
echo "classification crashes in process (library default, not contained): $classify_crashes"
if ((panics + load_crashes + ${uncontained:-0} > 0)); then
    echo "FAIL: $panics panics, $load_crashes crashes of a session with workers, ${uncontained:-0} uncontained CLI runs"
    exit 1
fi
echo "OK: no panic, no crash with workers, every CLI run contained"
