#!/usr/bin/env bash
# A corpus of public cargo projects, each built and tested with
# `cargo test --release` through the engine as its ld.lld, in every LTO mode,
# against ld.lld-22 doing the same LTO. Not a timing benchmark: it checks that
# real projects link and that their own test suites pass.
#
# The projects (crates.io packages at exact versions, sources fetched with
# cargo itself, built with the package's own Cargo.lock and --locked; a
# package without one gets a generated lock, said so in the table):
#   fd-find 10.3.0   binary; its release profile has lto = true and
#                    codegen-units = 1; its default use-jemalloc feature
#                    builds jemalloc's C code (tikv-jemalloc-sys, configure and
#                    make); tests/tests.rs runs the fd binary, unit tests in src
#   onig 6.5.3       library; onig_sys builds Oniguruma's C code with the cc
#                    crate (gcc: native objects beside the bitcode); unit tests,
#                    doctests (edition 2021: one link per doctest) and 10
#                    examples (linked, not run). (zstd's package cannot be used:
#                    its unit tests include files the package leaves out.)
#   tuc 1.2.0        library and binary; its release profile has
#                    panic = "abort" (and lto = true, codegen-units = 1):
#                    tests/cli.rs runs the tuc binary, which cargo builds with
#                    -C panic=abort (cargo ignores `panic` only for the test
#                    harnesses and the libraries they link); unit tests (tuc
#                    1.3.0 fails 11 of its own tests even without any of this)
#   ripgrep 15.2.0   binary; release profile as cargo's default (no LTO, 16
#                    codegen units) plus debug = 1 (line tables through LTO);
#                    tests/tests.rs runs the rg binary, unit tests in src
#
# The modes (the engine options reach the engine as ld options):
#   lld       ld.lld-22 itself does the LTO (-C linker-plugin-lto as the rustc
#             book shows it, ld.lld-22 as clang's --ld-path)
#   thin      the engine, --lto-engine-kind=thin
#   fat-auto  the engine, --lto-engine-kind=fat (default partitions: auto)
#   fat-1     the engine, --lto-engine-kind=fat --lto-partitions=1
#
# How: RUSTFLAGS (and RUSTDOCFLAGS, for the doctests) are the same in every
# mode: -C linker-plugin-lto -C linker=clang-22 -C link-arg=-fuse-ld=lld
# -C link-arg=--ld-path=$BENCH_DIR/bin/ld.lld -C link-arg=-Wl,--thinlto-jobs=N.
# That ld.lld is a bash wrapper that reads the mode from $CORPUS_MODE and runs
# ld.lld-22 or `lto-engine ld` with the mode's options, appending one line per
# link (mode, exit status, seconds, output, first error line) to the mode's
# link log. As the flags do not change, neither do cargo's fingerprints: each
# project is compiled once, in its own target directory (CARGO_TARGET_DIR
# under $BENCH_DIR, CARGO_INCREMENTAL=0, no --target: build scripts and proc
# macros go through the wrapper too), by a first `cargo test --release
# --no-run` in mode lld ("prep"), whose JSON messages name the project's own
# executables (bins, unit and integration test harnesses, examples). Before
# each mode those are deleted (every hard link of them under target/release):
# cargo sees their outputs missing and runs rustc again for exactly those
# units, which compiles and links them anew; dependencies, build scripts and
# proc macros stay as prep left them (cargo -v: the mode's log shows each
# rustc it ran, "Fresh" for the rest). rustdoc compiles and links the
# doctests on every run anyway. A cell fails unless every executable of the
# project was linked again in its mode (from the link log) and, in the engine
# modes, every successful link left an engine report (--lto-engine-report,
# under the mode's directory) of the mode's kind (thin or fat).
#
# The table: per project and mode, the build (ok, or FAILED with the first
# error line of the first failed link and that link's output), the tests
# passed and failed (the sum over cargo test's "test result:" lines: unit,
# integration and doc tests), the links of the run (failed / all), their
# seconds and the run's wall seconds; a total at the end. cargo runs with
# --no-fail-fast (which runs every test binary but does not keep building
# after a failed link: such a cell has no test results, "-") and with
# RUST_BACKTRACE unset (tests compare stderr). Exits 1 if any cell failed: a
# failed link or compile, a failed test, no test result at all, an executable
# not relinked, or a missing or wrong engine report.
#
#   bench/corpus.sh                                   # everything, cargo -j 2
#   BENCH_JOBS=4 bench/corpus.sh                      # cargo -j 4, --thinlto-jobs=4
#   BENCH_DIR=/tmp/c bench/corpus.sh                  # work directory (default target/bench-corpus)
#   ENGINE=/path/to/lto-engine bench/corpus.sh        # that engine, no cargo build of this crate
#   CORPUS_PROJECTS="tuc onig" CORPUS_MODES="lld fat-auto" bench/corpus.sh   # a subset
#
# Logs, per project P under $BENCH_DIR/P: prep.log (cargo's output), prep.json
# (its JSON messages), exes (the executables relinked per mode), and per mode
# M: M.log (cargo test's output), M.links (the link log), M/ (engine reports),
# M.result (the row). The project's sources are in P/src, its target dir in
# P/target. Network: crates.io through cargo (fetch) at the start, offline
# afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-corpus}
jobs=${BENCH_JOBS:-2}
fail() { echo "corpus: $*" >&2; exit 1; }
[[ $jobs =~ ^[1-9][0-9]*$ ]] || fail "BENCH_JOBS must be a positive integer, not '$jobs'"

# name version [arguments after cargo test's --, for the test harnesses]
corpus=(
    "fd-find 10.3.0"
    "onig 6.5.3"
    "tuc 1.2.0"
    "ripgrep 15.2.0"
)
all_modes=(lld thin fat-auto fat-1)

projects=()
for entry in "${corpus[@]}"; do
    read -r name _ <<< "$entry"
    if [ -z "${CORPUS_PROJECTS:-}" ] || [[ " $CORPUS_PROJECTS " == *" $name "* ]]; then projects+=("$entry"); fi
done
for p in ${CORPUS_PROJECTS:-}; do
    printf '%s\n' "${corpus[@]}" | grep -q "^$p " || fail "CORPUS_PROJECTS: no project '$p' in the corpus"
done
read -r -a modes <<< "${CORPUS_MODES:-${all_modes[*]}}"
for m in "${modes[@]}"; do
    [[ " ${all_modes[*]} " == *" $m "* ]] || fail "CORPUS_MODES: unknown mode '$m' (one of: ${all_modes[*]})"
done
((${#projects[@]})) || fail "no project selected"

rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)

# make and a C compiler (cc) for jemalloc's and Oniguruma's C code
"$root/ci/setup.sh" make gcc
if [ -n "${ENGINE:-}" ]; then
    engine=$ENGINE
else
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
    engine=$root/target/release/lto-engine
fi
[ -x "$engine" ] || fail "$engine is not an executable"
engine=$(cd "$(dirname "$engine")" && pwd)/$(basename "$engine")
ld_real=$(command -v ld.lld-22) || fail "ld.lld-22 not found"
clang=$(command -v clang-22) || fail "clang-22 not found"

# The ld.lld clang-22 runs (--ld-path): the linker of $CORPUS_MODE, one line
# per link in $CORPUS_LINKS: mode, exit status, seconds, output, first error
# line (tab-separated); the engine's report of the link in $CORPUS_REPORTS.
mkdir -p "$work/bin"
cat > "$work/bin/ld.lld" <<EOF
#!/usr/bin/env bash
set -u
mode=\${CORPUS_MODE:?} links=\${CORPUS_LINKS:?}
out=a.out prev=
for a in "\$@"; do [ "\$prev" != -o ] || out=\$a; prev=\$a; done
report=\${CORPUS_REPORTS:?}/\${EPOCHREALTIME/./}-\$\$.json
case \$mode in
    lld|prep) cmd=("$ld_real" "\$@") ;;
    thin) cmd=("$engine" ld "\$@" --lto-engine-kind=thin --lto-engine-report="\$report") ;;
    fat-auto) cmd=("$engine" ld "\$@" --lto-engine-kind=fat --lto-engine-report="\$report") ;;
    fat-1) cmd=("$engine" ld "\$@" --lto-engine-kind=fat --lto-partitions=1 --lto-engine-report="\$report") ;;
    *) echo "ld.lld (corpus wrapper): unknown CORPUS_MODE '\$mode'" >&2; exit 2 ;;
esac
err=\$(mktemp) start=\$EPOCHREALTIME rc=0
"\${cmd[@]}" 2> "\$err" || rc=\$?
end=\$EPOCHREALTIME
cat "\$err" >&2
first=\$(grep -m 1 'error:' "\$err" | tr '\t' ' ' | cut -c 1-400)
[ \$rc = 0 ] || [ -n "\$first" ] || first=\$(head -n 1 "\$err" | cut -c 1-400)
[ \$rc = 0 ] || [ -n "\$first" ] || first="exit status \$rc, nothing on stderr"
rm -f "\$err"
printf '%s\t%s\t%s\t%s\t%s\n' "\$mode" "\$rc" "\$(awk -v s="\$start" -v e="\$end" 'BEGIN { printf "%.2f", e - s }')" "\$out" "\$first" >> "\$links"
exit \$rc
EOF
chmod +x "$work/bin/ld.lld"

flags=(-Clinker-plugin-lto "-Clinker=$clang" -Clink-arg=-fuse-ld=lld "-Clink-arg=--ld-path=$work/bin/ld.lld"
    "-Clink-arg=-Wl,--thinlto-jobs=$jobs")
encoded=$(IFS=$'\x1f'; echo "${flags[*]}")

# in_project P MODE CMD...: CMD in project P's directory with the corpus's
# environment, the wrapper in MODE
in_project() {
    local p=$1 mode=$2; shift 2
    mkdir -p "$work/$p/$mode"
    (cd "$work/$p/src" && env -u RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS -u RUSTDOCFLAGS -u CARGO_BUILD_RUSTDOCFLAGS \
        -u RUSTC_WRAPPER -u CARGO_BUILD_RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER \
        -u LTO_ENGINE_REAL_LD -u CARGO_BUILD_TARGET -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE \
        CARGO_TARGET_DIR="$work/$p/target" CARGO_INCREMENTAL=0 \
        CARGO_ENCODED_RUSTFLAGS="$encoded" CARGO_ENCODED_RUSTDOCFLAGS="$encoded" \
        CORPUS_MODE="$mode" CORPUS_LINKS="$work/$p/$mode.links" CORPUS_REPORTS="$work/$p/$mode" \
        "$@")
}

# Sources: each package through a throwaway manifest of its own and cargo
# fetch, copied out of cargo's registry; then its dependencies (cargo fetch
# of the project, --locked with its own lock).
registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
for entry in "${projects[@]}"; do
    read -r name version _ <<< "$entry"
    echo "corpus: fetching $name $version" >&2
    mkdir -p "$work/fetch/$name/src"
    printf '[package]\nname = "corpus-fetch-%s"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n[workspace]\n' \
        "$name" "$name" "$version" > "$work/fetch/$name/Cargo.toml"
    : > "$work/fetch/$name/src/lib.rs"
    # a package without a library (fd-find, ripgrep) cannot be built as a
    # dependency, but cargo fetch downloads it all the same
    cargo fetch --quiet --manifest-path "$work/fetch/$name/Cargo.toml" 2> "$work/fetch/$name.log" ||
        { cat "$work/fetch/$name.log" >&2; fail "cargo fetch of $name $version failed"; }
    pkg=$(ls -d "$registry"/*/"$name-$version" 2> /dev/null | head -n 1)
    [ -n "$pkg" ] && [ -f "$pkg/Cargo.toml" ] || fail "$name $version: sources not found under $registry"
    mkdir -p "$work/$name"
    cp -r "$pkg" "$work/$name/src"
    # its own workspace root, whatever Cargo.toml is above $BENCH_DIR
    grep -q '^\[workspace\]' "$work/$name/src/Cargo.toml" || printf '\n[workspace]\n' >> "$work/$name/src/Cargo.toml"
    if [ -f "$work/$name/src/Cargo.lock" ]; then
        echo "own" > "$work/$name/lock"
    else
        cargo generate-lockfile --quiet --manifest-path "$work/$name/src/Cargo.toml"
        echo "generated" > "$work/$name/lock"
    fi
    cargo fetch --quiet --locked --manifest-path "$work/$name/src/Cargo.toml"
done

cargo_test=(cargo test --release --offline --locked -j "$jobs")

# relink_list P: from prep's JSON messages, P's own executables, one line per
# executable: every path of it under target/release (its hard links: cargo's
# deps/NAME-HASH and the uplifted copy)
relink_list() {
    local p=$1 exe
    grep '"reason":"compiler-artifact"' "$work/$p/prep.json" | grep -F "\"package_id\":\"path+file://$work/$p/src" |
        { grep -o '"executable":"[^"]*"' || true; } | sed 's/^"executable":"//; s/"$//' | sort -u |
        while read -r exe; do
            find "$work/$p/target/release" -maxdepth 2 -samefile "$exe" | sort | tr '\n' ' '
            echo
        done
}

# result P MODE RC WALL: the row of P in MODE, in $work/P/MODE.result:
# project, mode, build, passed, failed, failed links / links, link seconds,
# wall seconds, the first error (tab-separated)
result() {
    local p=$1 mode=$2 rc=$3 wall=$4 build=ok err="" line path linked
    local log=$work/$p/$mode.log links=$work/$p/$mode.links
    [ -f "$links" ] || : > "$links"
    local counts; counts=$(awk '/^test result: / {
            for (i = 1; i <= NF; i++) { if ($(i + 1) ~ /^passed;?$/) p += $i; if ($(i + 1) ~ /^failed;?$/) f += $i }; n++ }
        END { printf "%d %d %d", p, f, n }' "$log")
    local passed failed nresults
    read -r passed failed nresults <<< "$counts"
    local nlinks nfailed lsec
    read -r nlinks nfailed lsec <<< "$(awk -F '\t' '{ n++; if ($2 != 0) f++; s += $3 } END { printf "%d %d %.1f", n, f, s }' "$links")"
    if ((nfailed)); then
        build=FAILED
        err=$(awk -F '\t' '$2 != 0 { o = $4; sub(/.*\//, "", o); print $5 " (link of " o ")"; exit }' "$links")
    elif grep -q -E '^error: (could not compile|linking with)' "$log"; then
        build=FAILED
        err=$(grep -m 1 -E '^error(\[E[0-9]+\])?: ' "$log")
    else
        # every executable of the project linked again in this mode
        while read -r line; do
            linked=no
            for path in $line; do
                if awk -F '\t' -v o="$path" '$4 == o { found = 1 } END { exit !found }' "$links"; then linked=yes; fi
            done
            if [ $linked = no ]; then
                build=FAILED
                err="not relinked in this mode: ${line%% *}"
                break
            fi
        done < "$work/$p/exes"
    fi
    # the engine's reports: one per successful link, of the mode's kind
    local want="" nrep nwrong
    case $mode in thin) want=thin ;; fat-*) want=fat ;; esac
    if [ -n "$want" ] && [ $build = ok ]; then
        nrep=$(find "$work/$p/$mode" -name '*.json' | wc -l)
        nwrong=$(find "$work/$p/$mode" -name '*.json' -exec grep -L "^  \"kind\": \"$want\"" {} + | wc -l)
        if ((nrep != nlinks - nfailed)); then
            build=FAILED err="$nrep engine reports for $((nlinks - nfailed)) links"
        elif ((nwrong)); then
            build=FAILED err="$nwrong engine reports of another kind than $want"
        fi
    fi
    if [ $build = ok ] && ((rc != 0)) && [ "$failed" = 0 ]; then
        err="cargo test exited with $rc: $(grep -m 1 -i 'error' "$log" || true)"
    fi
    if ((nresults == 0)); then
        passed=- failed=-
        [ $build != ok ] || err="no test result in cargo's output"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s/%s\t%s\t%s\t%s\n' "$p" "$mode" "$build" "$passed" "$failed" "$nfailed" "$nlinks" "$lsec" "$wall" "$err" \
        > "$work/$p/$mode.result"
}

start_all=$EPOCHREALTIME
for entry in "${projects[@]}"; do
    read -r name version args <<< "$entry"
    p=$name
    echo "corpus: $p prep (cargo test --release --no-run, ld.lld-22)" >&2
    prep_rc=0
    in_project "$p" prep "${cargo_test[@]}" --no-run --message-format=json-render-diagnostics \
        > "$work/$p/prep.json" 2> "$work/$p/prep.log" || prep_rc=$?
    if ((prep_rc != 0)); then
        err=$(grep -m 1 '^error' "$work/$p/prep.log" || echo "cargo exited with $prep_rc")
        for mode in "${modes[@]}"; do
            printf '%s\t%s\tFAILED\t0\t0\t-\t-\t-\tprep (lld) failed: %s\n' "$p" "$mode" "$err" > "$work/$p/$mode.result"
        done
        continue
    fi
    relink_list "$p" > "$work/$p/exes"
    [ -s "$work/$p/exes" ] || fail "$p: no executable of the project in prep's JSON messages"
    for mode in "${modes[@]}"; do
        echo "corpus: $p $mode" >&2
        # shellcheck disable=SC2046 # the paths are words
        rm -f $(cat "$work/$p/exes")
        rm -rf "${work:?}/$p/$mode" "$work/$p/$mode.links"
        t0=$EPOCHREALTIME rc=0
        # shellcheck disable=SC2086 # the test arguments are words
        in_project "$p" "$mode" "${cargo_test[@]}" -v --no-fail-fast ${args:+-- $args} > "$work/$p/$mode.log" 2>&1 || rc=$?
        result "$p" "$mode" "$rc" "$(awk -v s="$t0" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.0f", e - s }')"
    done
done
total=$(awk -v s="$start_all" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.0f", e - s }')

echo
echo "cargo test --release of ${#projects[@]} crates.io projects through ld.lld = lto-engine ld (thin, fat-auto, fat-1) and"
echo "ld.lld-22 (lld), -C linker-plugin-lto, cargo -j $jobs; engine: $engine"
for entry in "${projects[@]}"; do
    read -r name version _ <<< "$entry"
    # what the modes compiled with -C panic=abort (cargo -v's rustc lines)
    abort=$(for mode in "${modes[@]}"; do cat "$work/$name/$mode.log" 2> /dev/null || true; done |
        { grep '^ *Running `.*rustc .*-C panic=abort' || true; } | sed -n 's/.*--crate-name \([^ ]*\) .*--crate-type \([^ ]*\) .*/\1 (\2)/p' | sort -u | tr '\n' ' ')
    echo "  $name $version: $(cat "$work/$name/lock") Cargo.lock, $(wc -l < "$work/$name/exes" 2> /dev/null || echo 0) executables relinked per mode${abort:+, built with -C panic=abort: ${abort% }}"
done
cells_failed=0
{
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' project mode build passed failed "links failed/all" "link s" "wall s" "first error (failed link)"
    for entry in "${projects[@]}"; do
        read -r name _ <<< "$entry"
        for mode in "${modes[@]}"; do cat "$work/$name/$mode.result"; done
    done
} > "$work/table.tsv"
awk -F '\t' '
    NR == 1 { printf "%-8s %-8s %-6s %7s %6s %9s %7s %6s  %s\n", $1, $2, $3, $4, $5, "links", "link s", "wall s", $9; next }
    { printf "%-8s %-8s %-6s %7s %6s %9s %7s %6s  %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9
      cells++; p += $4; f += $5; if ($3 != "ok" || $5 > 0 || $9 != "") bad++ }
    END { printf "%-8s %-8s %-6s %7d %6d   (%d of %d cells failed, %s s in all)\n", "total", "", "", p, f, bad, cells, total }
' total="$total" "$work/table.tsv"
cells_failed=$(awk -F '\t' 'NR > 1 && ($3 != "ok" || $5 > 0 || $9 != "") { n++ } END { print n + 0 }' "$work/table.tsv")
echo "(logs: $work/<project>/<mode>.log, link logs <mode>.links, table $work/table.tsv)"
((cells_failed == 0)) || exit 1
