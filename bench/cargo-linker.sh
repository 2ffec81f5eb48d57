#!/usr/bin/env bash
# Whole-build benchmark of the engine as a cargo linker: `cargo build
# --release` of bench/thin-rust (a copy; clap, regex, serde/serde_json,
# indexmap, sha2 and their dependencies, Cargo.lock pinned), timed as a whole
# (every rustc, the link and its LTO), in four ways, each in its own fresh
# target directory:
#   rustc-thin  rustc's own ThinLTO: CARGO_PROFILE_RELEASE_LTO=thin (std's
#               bitcode included, as rustc does it)
#   lld         -C linker-plugin-lto, ld.lld-22 does the ThinLTO (no cache, as
#               the rustc book shows it)
#   lld-cache   the same with ld.lld's own --thinlto-cache-dir
#   engine      -C linker-plugin-lto with `lto-engine ld` as the ld.lld (a
#               symlink named ld.lld to target/release/lto-engine, which runs
#               ld.lld-22 after its LTO), with --thinlto-cache-dir
# All four link with clang-22 -fuse-ld=lld and ld.lld-22 (rustc-thin too, in
# place of rustc's default cc + rust-lld: the final link of native objects is
# then the same everywhere); opt-level = 2 from Cargo.toml, which rustc hands
# the linker as -plugin-opt=O2 (LTO -O2 on every side); default codegen units;
# cargo -j N and --thinlto-jobs=N (N = BENCH_JOBS, default 2). The flags go
# in as RUSTFLAGS would (CARGO_ENCODED_RUSTFLAGS), by default with no
# --target: they reach build scripts and proc macros too, as they do for a
# user, so in the three linker-plugin ways those are LTO links as well
# (BENCH_TARGET=host builds with --target <host>, keeping the flags and their
# LTO to the program's crates).
# Runs:
#   cold  an empty target directory (and an empty cache), once per way; the
#         crates.io sources are fetched beforehand (offline afterwards)
#   edit  a one-line edit of the program (a string literal it prints,
#         different in every round), then `cargo build --release` again;
#         BENCH_ROUNDS rounds (default 3), the ways interleaved and their order
#         rotated each round; medians reported
#   hit   after each edit round, the edit reverted and `cargo build --release`
#         again: rustc writes the cold build's bitcode again, so every module
#         is in the ThinLTO caches (the relink after a touch or a revert)
# Every way's program must print the same, with the edit visible, after every
# run. For each edit relink it also prints how many modules the engine
# compiled and how many LLVM's rule (lld's cache key) would have compiled on
# the same runs (from the engine's report: misses, llvm_rule_misses). Wall time is the shell's clock around cargo; peak RSS is getrusage's
# children maxrss of cargo (/usr/bin/time %M, or a python3 reader when
# /usr/bin/time is missing): the largest resident set of any one process of
# the build (rustc, the linker, an engine worker), not the sum of processes
# running at once.
#
# BENCH_PROJECT=ripgrep builds ripgrep 15.1.0 from crates.io instead (its
# own Cargo.lock; release profile with debug = 1, 16 codegen units): the edit
# is one help string of crates/core/flags/defs.rs, and the checks run
# `rg --version`, `rg -h` and a search of ripgrep's own sources.
#
#   bench/cargo-linker.sh                     # 2 jobs, 3 edit (and hit) rounds
#   BENCH_PROJECT=ripgrep bench/cargo-linker.sh
#   BENCH_JOBS=4 BENCH_ROUNDS=5 bench/cargo-linker.sh
#   BENCH_TARGET=host bench/cargo-linker.sh   # cargo --target <host>
#   BENCH_DIR=/tmp/b bench/cargo-linker.sh    # work directory (default target/bench-cargo-linker)
#
# Also timed: rustc's link of the program (clang-22 through a timing wrapper),
# which for the three linker-plugin ways holds the LTO. Per-run figures (wall,
# user, sys, peak KiB, link s) are in $BENCH_DIR/results.txt, cargo's output
# and each build's links (*.links) beside it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-cargo-linker}
jobs=${BENCH_JOBS:-2}
rounds=${BENCH_ROUNDS:-3}
fail() { echo "bench: $*" >&2; exit 1; }
[[ $jobs =~ ^[1-9][0-9]*$ ]] || fail "BENCH_JOBS must be a positive integer, not '$jobs'"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || fail "BENCH_ROUNDS must be a positive integer, not '$rounds'"
target=()
case ${BENCH_TARGET:-} in
    "") ;;
    host) target=(--target "$(rustc -vV | sed -n 's/^host: //p')") ;;
    *) fail "BENCH_TARGET is host or unset, not '$BENCH_TARGET'" ;;
esac
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)

"$root/ci/setup.sh"
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
engine=$root/target/release/lto-engine
[ -x "$engine" ] || fail "$engine was not built"
ld_real=$(command -v ld.lld-22) || fail "ld.lld-22 not found"
command -v clang-22 > /dev/null || fail "clang-22 not found"
mkdir -p "$work/bin" "$work/bin/timed"
ln -s "$engine" "$work/bin/ld.lld"
# rustc's linker: clang-22, timed, appending "OUTPUT SECONDS" to
# $LTO_BENCH_LINKS for every link of the build (the program's is rustc's
# link step: for the linker-plugin ways the LTO too).
cat > "$work/bin/timed/clang-22" <<EOF
#!/usr/bin/env bash
out=? prev=
for a in "\$@"; do [ "\$prev" != -o ] || out=\${a##*/}; prev=\$a; done
start=\$EPOCHREALTIME rc=0
"$(command -v clang-22)" "\$@" || rc=\$?
echo "\$out \$(awk -v s="\$start" -v e="\$EPOCHREALTIME" 'BEGIN { printf "%.3f", e - s }')" >> "\${LTO_BENCH_LINKS:?}"
exit \$rc
EOF
chmod +x "$work/bin/timed/clang-22"

# The program, copied (the edits go to the copy), and its dependencies' sources.
# Per project: what the edit changes (EDITED, a file of the copy), the
# program's executable and link name, and the text the edit makes it print.
src=$work/src
mkdir -p "$src"
case ${BENCH_PROJECT:-thin-rust} in
thin-rust)
    cp -r "$root/bench/thin-rust/Cargo.toml" "$root/bench/thin-rust/Cargo.lock" "$root/bench/thin-rust/src" "$src/"
    edited=src/main.rs program=thin-bench link_name=thin_bench-
    edit_from='"records": records.len(),' edit_to='"records (edit N)": records.len(),'
    shown_cold='"records": 20000' shown_edit='"records (edit N)": 20000'
    ;;
ripgrep)
    # ripgrep's package through a throwaway manifest and cargo fetch, copied
    # out of cargo's registry (as bench/corpus.sh does)
    registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
    mkdir -p "$work/fetch/src"
    printf '[package]\nname = "bench-fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nripgrep = "=15.1.0"\n[workspace]\n' > "$work/fetch/Cargo.toml"
    : > "$work/fetch/src/lib.rs"
    cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml" || fail "cargo fetch of ripgrep 15.1.0 failed"
    pkg=$(ls -d "$registry"/*/ripgrep-15.1.0 2> /dev/null | head -n 1)
    [ -n "$pkg" ] || fail "ripgrep 15.1.0: sources not found under $registry"
    cp -r "$pkg"/. "$src/"
    grep -q '^\[workspace\]' "$src/Cargo.toml" || printf '\n[workspace]\n' >> "$src/Cargo.toml"
    edited=crates/core/flags/defs.rs program=rg link_name=rg-
    edit_from='"Show column numbers."' edit_to='"Show column numbers (edit N)."'
    shown_cold='Show column numbers.' shown_edit='Show column numbers (edit N).'
    ;;
*) fail "BENCH_PROJECT is thin-rust or ripgrep, not '$BENCH_PROJECT'" ;;
esac
[ -f "$src/$edited" ] && grep -qF "$edit_from" "$src/$edited" || fail "$edited has no $edit_from"
cp "$src/$edited" "$work/edited.orig"
cargo fetch --quiet --locked --manifest-path "$src/Cargo.toml"

results=$work/results.txt
: > "$results"
if [ -x /usr/bin/time ]; then
    timer=(/usr/bin/time -f "%U %S %M" -o "$work/time.txt")
else
    command -v python3 > /dev/null || fail "neither /usr/bin/time nor python3 to read peak RSS"
    # getrusage(RUSAGE_CHILDREN) after the wait: ru_maxrss (KiB on Linux) is
    # the largest of every waited-for descendant, as time's %M.
    timer=(python3 -c 'import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write("%.2f %.2f %d\n" % (ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
sys.exit(rc)' "$work/time.txt")
fi

# build WAY RUN: `cargo build --release` in WAY's target directory, with
# WAY's settings; appends "WAY-RUN wall_s user_s sys_s peak_kib link_s" to
# $results (link_s: rustc's link of the program; nan if not found).
build() {
    local way=$1 run=$2 lto=false
    local flags=(-Clinker="$work/bin/timed/clang-22" -Clink-arg=-fuse-ld=lld)
    local plugin=(-Clinker-plugin-lto "-Clink-arg=-Wl,--thinlto-jobs=$jobs")
    local cache="-Clink-arg=-Wl,--thinlto-cache-dir=$work/$way/cache"
    local ld=$ld_real
    case $way in
        rustc-thin) lto=thin ;;
        lld) flags+=("${plugin[@]}") ;;
        lld-cache) flags+=("${plugin[@]}" "$cache") ;;
        engine) ld=$work/bin/ld.lld
            flags+=("${plugin[@]}" "$cache" "-Clink-arg=-Wl,--lto-engine-report=$work/$way/report.json") ;;
        *) fail "unknown way $way" ;;
    esac
    flags+=(-Clink-arg=--ld-path="$ld")
    mkdir -p "$work/$way"
    echo "bench: $way $run" >&2
    local log=$work/$way-$run.log start end
    start=$EPOCHREALTIME
    env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u RUSTC_WRAPPER -u CARGO_BUILD_RUSTC_WRAPPER \
        -u LTO_ENGINE_REAL_LD \
        LTO_BENCH_LINKS="$work/$way-$run.links" CARGO_TARGET_DIR="$work/$way/target" CARGO_PROFILE_RELEASE_LTO=$lto CARGO_INCREMENTAL=0 \
        CARGO_ENCODED_RUSTFLAGS="$(IFS=$'\x1f'; echo "${flags[*]}")" \
        "${timer[@]}" cargo build --release --offline --locked -j "$jobs" "${target[@]}" --manifest-path "$src/Cargo.toml" \
        > "$log" 2>&1 || { tail -n 50 "$log" >&2; fail "$way $run failed (log: $log)"; }
    end=$EPOCHREALTIME
    # the engine's report of this run, kept for the module counts
    if [ "$way" = engine ] && [ -f "$work/engine/report.json" ]; then
        cp "$work/engine/report.json" "$work/engine/report-$run.json"
    fi
    # the program's link: rustc's last
    local link; link=$({ grep "^$link_name" "$work/$way-$run.links" || true; } | tail -n 1 | cut -d' ' -f2)
    echo "$way-$run $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }') $(tail -n 1 "$work/time.txt") ${link:-nan}" >> "$results"
}

# check WAY RUN [TEXT]: WAY's program prints what rustc-thin's does (for
# thin-rust: the default run, a smaller seeded one and --help; for ripgrep:
# --version, -h and a search of its own sources), and TEXT in the first
# output that has it, if given.
check() {
    local way=$1 run=$2 text=${3-} i
    local prog=$work/$way/target/${target[1]:+${target[1]}/}release/$program
    local -a runs
    if [ "$program" = rg ]; then
        runs=("--version" "-h" "-n --sort path fn\\s+main $src/crates")
    else
        runs=("" "--records 3000 --seed 7" "--help")
    fi
    for i in "${!runs[@]}"; do
        # shellcheck disable=SC2086 # the arguments are words
        (exec -a "$program" "$prog" ${runs[i]}) > "$work/$way-$run.out$i" ||
            fail "$way $run: $program ${runs[i]} failed"
        cmp -s "$work/rustc-thin-$run.out$i" "$work/$way-$run.out$i" || {
            diff "$work/rustc-thin-$run.out$i" "$work/$way-$run.out$i" | head -n 20 >&2
            fail "$way $run: $program ${runs[i]} prints differently from rustc-thin's"
        }
    done
    [ -z "$text" ] || cat "$work/$way-$run".out* | grep -qF "$text" || fail "$way $run: the edit ($text) is not in the output"
}

ways=(rustc-thin lld lld-cache engine)
for way in "${ways[@]}"; do
    build "$way" cold
done
for way in "${ways[@]}"; do
    check "$way" cold "$shown_cold"
done
crates=$(grep -c '^ *Compiling ' "$work/rustc-thin-cold.log" || true)

for ((r = 1; r <= rounds; r++)); do
    # one line: a string the program prints, new in every round
    python3 -c 'import sys; t = open(sys.argv[1]).read(); open(sys.argv[2], "w").write(t.replace(sys.argv[3], sys.argv[4], 1))' \
        "$work/edited.orig" "$src/$edited" "$edit_from" "${edit_to/N/$r}"
    ! cmp -s "$src/$edited" "$work/edited.orig" || fail "the edit changed nothing"
    [ "$(diff "$work/edited.orig" "$src/$edited" | grep -c '^[<>]')" = 2 ] || fail "the edit is not one line"
    # interleaved, the order rotated each round
    order=()
    for ((i = 0; i < ${#ways[@]}; i++)); do order+=("${ways[(i + r - 1) % ${#ways[@]}]}"); done
    for way in "${order[@]}"; do
        build "$way" "edit$r"
    done
    for way in "${ways[@]}"; do
        check "$way" "edit$r" "${shown_edit/N/$r}"
    done
    # the edit reverted: rustc writes the cold build's bitcode again, so every
    # module is in the ThinLTO caches (an all-hit relink)
    cp "$work/edited.orig" "$src/$edited"
    for way in "${order[@]}"; do
        build "$way" "hit$r"
    done
    for way in "${ways[@]}"; do
        check "$way" "hit$r" "$shown_cold"
    done
done

hits=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["thin"]["cache"]; print("%d/%d" % (c["hits"], c["hits"] + c["misses"]))' \
    "$work/engine/report.json" 2> /dev/null || echo "?")

echo
echo "cargo build --release ${target[*]} of ${BENCH_PROJECT:-thin-rust} ($crates packages compiled), cargo -j $jobs, --thinlto-jobs=$jobs"
echo "cold: empty target dir and cache, one run; edit: one-line edit of $edited; hit: the edit reverted (every module"
echo "cached); edit and hit: $rounds rounds each, the ways interleaved, medians"
echo "wall = the whole cargo build; link = rustc's link of the program (with the LTO, except for rustc-thin, whose LTO is"
echo "inside rustc); peak = largest RSS of one process of the build (median); engine / way below 1: the engine is"
echo "faster or smaller"
awk -v ways="${ways[*]}" '
  function sort(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
  }
  function median(a, n) { sort(a, n); return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  # "WAY-RUN wall user sys peak link", RUN = cold, editN or hitN
  { run = $1; sub(/.*-/, "", run); way = substr($1, 1, length($1) - length(run) - 1)
    kind = run; sub(/[0-9]+$/, "", kind)
    k = way SUBSEP kind; n[k]++
    wall[k, n[k]] = $2; peak[k, n[k]] = $5 / 1024; link[k, n[k]] = $6 }
  END {
    nw = split(ways, w, " ")
    nk = split("cold edit hit", kinds, " ")
    for (i = 1; i <= nw; i++) for (j = 1; j <= nk; j++) {
      k = w[i] SUBSEP kinds[j]
      for (r = 1; r <= n[k]; r++) { a[r] = wall[k, r]; b[r] = link[k, r]; c[r] = peak[k, r] }
      mw[k] = median(a, n[k]); ml[k] = median(b, n[k]); mp[k] = median(c, n[k])
    }
    f = "%-10s | %7s %7s %8s | %7s %7s %8s | %7s %7s %8s\n"
    printf f, "", "cold", "", "", "edit", "", "", "hit", "", ""
    printf f, "way", "wall s", "link s", "peak MiB", "wall s", "link s", "peak MiB", "wall s", "link s", "peak MiB"
    for (i = 1; i <= nw; i++) {
      x = w[i]; line = sprintf("%-10s", x)
      for (j = 1; j <= nk; j++) { k = x SUBSEP kinds[j]; line = line sprintf(" | %7.2f %7.2f %8.0f", mw[k], ml[k], mp[k]) }
      print line
    }
    print "engine / way:"
    for (i = 1; i <= nw; i++) {
      x = w[i]
      if (x == "engine") continue
      line = sprintf("%-10s", x)
      for (j = 1; j <= nk; j++) {
        e = "engine" SUBSEP kinds[j]; k = x SUBSEP kinds[j]
        # rustc-thin links native objects: its link step is no LTO to compare with
        lr = (x == "rustc-thin") ? "-" : sprintf("%.2f", ml[e] / ml[k])
        line = line sprintf(" | %7.2f %7s %8.2f", mw[e] / mw[k], lr, mp[e] / mp[k])
      }
      print line
    }
  }' "$results"
# modules each edit relink compiled: the engine's (its finer key) and what
# LLVM's rule (lld's cache key) would have compiled on the same runs
compiled=$(python3 - "$work/engine" "$rounds" <<'PY' 2> /dev/null || echo "?"
import json, sys
out = []
for r in range(1, int(sys.argv[2]) + 1):
    c = json.load(open("%s/report-edit%d.json" % (sys.argv[1], r)))["thin"]["cache"]
    out.append("edit%d %d (LLVM's rule %d)" % (r, c["misses"], c["llvm_rule_misses"]))
print(", ".join(out))
PY
)
echo "engine modules compiled per edit relink: $compiled"
echo "(every way's program prints the same, with the edit, after every run; engine cache hits in the last run: $hits;"
echo " per-run figures: $results)"
