#!/usr/bin/env bash
# C++ correctness-and-cost benchmark: GoogleTest/GoogleMock's own unit tests,
# built into one test program and linked five ways, each program run, and the
# test counts compared against the native build.
#
#   bench/cxx-suite.sh                 # work directory /tmp/cxx-suite
#   bench/cxx-suite.sh /tmp/elsewhere  # or CXX_SUITE_DIR=/tmp/elsewhere
#   LTO_ENGINE=/path/to/lto-engine bench/cxx-suite.sh   # default: cargo build --release
#
# Why this workload: a real C++ code base (templates, inline functions and
# vtables in COMDATs, static initializers registering tests, exceptions, RTTI,
# weak symbols, fork/exec death tests) with a test suite of a few thousand
# tests that checks the program it was linked into. Sources: Debian's
# `googletest` package (/usr/src/googletest), installed when missing.
#
# The program: gtest-all.cc, gmock-all.cc, gmock_main.cc, and the googlemock
# and googletest unit tests that run without a python driver and can share
# one binary (the same set upstream's gmock_all_test.cc and gtest_all_test.cc
# combine, plus a few more). Each translation unit is compiled three times
# with clang++-22: -O2 (native), -O2 -flto=thin (ThinLTO bitcode with
# summaries), -O2 -flto (full LTO bitcode). Objects are kept in the work
# directory, so a rerun only links and runs.
#
# The five ways (all clang++-22 -fuse-ld=lld -pthread):
#   native       the -O2 objects
#   lld-thin     the thin bitcode, lld's ThinLTO (--thinlto-jobs=$jobs)
#   lld-full     the full bitcode, lld's full LTO (--lto-partitions=1)
#   engine-thin  lto-engine thin on the thin bitcode, then link @link.rsp
#   engine-fat   lto-engine fat on the thin bitcode, then link @link.rsp
# For each: wall time and peak RSS of the LTO step (for lld that is the whole
# link; for the engine the engine alone, its final link is shown apart), and
# the test counts. Exits non-zero when a link fails, a program crashes or
# times out, or a way's passed/failed counts differ from native's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-${CXX_SUITE_DIR:-/tmp/cxx-suite}}
engine=${LTO_ENGINE:-$root/target/release/lto-engine}
# 2 cores on the reference machine: compile jobs, lld's and the engine's threads.
jobs=${CXX_SUITE_JOBS:-2}
# Each program run gets this many seconds; a hang counts as a crash.
run_timeout=${CXX_SUITE_TIMEOUT:-300}

fail() { echo "cxx-suite: $*" >&2; exit 1; }

[[ $jobs =~ ^[1-9][0-9]*$ ]] || fail "CXX_SUITE_JOBS must be a positive integer, not '$jobs'"

# ---- packages and the engine ----
# `time` is GNU time (/usr/bin/time -f): the shell keyword cannot report RSS.
"$root/ci/setup.sh" googletest time
if [ -z "${LTO_ENGINE:-}" ]; then
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
fi
[ -x "$engine" ] || fail "no lto-engine at $engine"

src=/usr/src/googletest
gt=$src/googletest
gm=$src/googlemock
[ -f "$gt/src/gtest-all.cc" ] && [ -f "$gm/src/gmock-all.cc" ] || fail "googletest sources not found under $src"

# ---- the translation units ----
# The libraries: gtest-all.cc / gmock-all.cc (each #includes its src/*.cc),
# and gmock_main.cc, which provides main() and calls InitGoogleMock (which
# also initializes GoogleTest), so the googletest tests run under it too.
sources=(
    "$gt/src/gtest-all.cc"
    "$gm/src/gmock-all.cc"
    "$gm/src/gmock_main.cc"
)
# googlemock's unit tests (googlemock/CMakeLists.txt, cxx_test ... gmock_main),
# minus gmock_ex_test (only meaningful with -fno-exceptions variants) and the
# ones driven by python (gmock_leak_test_, gmock_output_test_) or with their
# own main and thread stress (gmock_stress_test). gmock_link_test and
# gmock_link2_test are meant to be linked together (they check that the same
# mock code instantiated in two TUs links). All of these compile and link
# natively with clang++-22; none had to be dropped.
for t in gmock-actions_test gmock-cardinalities_test gmock-function-mocker_test \
    gmock-internal-utils_test gmock-matchers-arithmetic_test gmock-matchers-comparisons_test \
    gmock-matchers-containers_test gmock-matchers-misc_test gmock-more-actions_test \
    gmock-nice-strict_test gmock-port_test gmock-pp-string_test gmock-pp_test \
    gmock-spec-builders_test gmock_link_test gmock_link2_test gmock_test; do
    sources+=("$gm/test/$t.cc")
done
# googletest's unit tests that are self-contained (no python driver, no main
# of their own, no special flags): the set gtest_all_test.cc combines
# (filepath, message, options, port, test-part, typed-test, pred_impl, prod +
# production.cc, skip, gtest_unittest) plus death-test, printers, sole_header
# and main_unittest. Test suite names must be unique across the program (gtest
# fails every test of a suite defined with two fixture classes), so the
# per-file flags below rename the three that collide with gtest_unittest.cc.
# Left out: googletest-param-test-test (its own main checks
# the exact registered set), googletest-listener-test and the other *_test.cc
# with their own main(), and the *_.cc programs run by python scripts.
for t in googletest-filepath-test googletest-message-test googletest-options-test \
    googletest-port-test googletest-test-part-test gtest-typed-test_test \
    gtest-typed-test2_test gtest_pred_impl_unittest gtest_prod_test production \
    gtest_skip_test gtest_unittest googletest-death-test-test googletest-printers-test \
    gtest_sole_header_test gtest_main_unittest; do
    sources+=("$gt/test/$t.cc")
done

modes=(native thin full)
for m in "${modes[@]}"; do mkdir -p "$work/obj/$m"; done
work=$(cd "$work" && pwd)

# compile_one MODE SOURCE: one object, skipped when it exists and was built by
# the same command (kept in NAME.cmd, so changing flags here recompiles). The
# object is written under a temporary name and renamed, so an interrupted
# compile leaves no half object. Compiler warnings, if any, stay in NAME.log.
compile_one() {
    local mode=$1 source=$2 name out flags extra=() cmd
    name=$(basename "${source%.cc}")
    out=$CXX_SUITE_WORK/obj/$mode/$name.o
    case $mode in
        native) flags=(-O2) ;;
        thin) flags=(-O2 -flto=thin) ;;
        full) flags=(-O2 -flto) ;;
    esac
    case $name in
        # It has its own main() (setting two gmock flags to their defaults);
        # upstream's GMOCK_RENAME_MAIN turns it into an unused gmock_main(),
        # so gmock_main.cc's main() is the only one.
        gmock-spec-builders_test) extra=(-DGMOCK_RENAME_MAIN=1) ;;
        # Its FloatTest/DoubleTest fixtures (typedefs of its own
        # FloatingPointTest<T>) share their suite names with gtest_unittest's.
        gmock-matchers-arithmetic_test) extra=(-DFloatTest=GMockFloatTest -DDoubleTest=GMockDoubleTest) ;;
        # Its two TEST(NoFatalFailureTest, ...) share the suite name with
        # gtest_unittest's TEST_F(NoFatalFailureTest, ...).
        gtest_sole_header_test) extra=(-DNoFatalFailureTest=SoleHeaderNoFatalFailureTest) ;;
    esac
    cmd=(clang++-22 "${flags[@]}" "${extra[@]}" -pthread
        -I"$CXX_SUITE_GT/include" -I"$CXX_SUITE_GT" -I"$CXX_SUITE_GM/include" -I"$CXX_SUITE_GM"
        -c "$source")
    if [ -s "$out" ] && [ "$(cat "$out.cmd" 2>/dev/null)" = "${cmd[*]}" ]; then return 0; fi
    rm -f "$out" "$out.cmd"
    if ! "${cmd[@]}" -o "$out.tmp" 2> "$out.log"; then
        echo "cxx-suite: compiling $source ($mode) failed:" >&2
        cat "$out.log" >&2
        rm -f "$out.tmp"
        return 1
    fi
    [ -s "$out.log" ] || rm -f "$out.log"
    mv "$out.tmp" "$out"
    echo "${cmd[*]}" > "$out.cmd"
}
export -f compile_one
export CXX_SUITE_WORK=$work CXX_SUITE_GT=$gt CXX_SUITE_GM=$gm

echo "cxx-suite: ${#sources[@]} translation units x ${#modes[@]} modes ($jobs jobs; existing objects reused), work dir $work"
compile_start=$(date +%s)
# Largest first would balance better, but the gmock tests dominate anyway;
# xargs exits non-zero (123) if any compile fails, and set -e stops here.
for m in "${modes[@]}"; do
    for s in "${sources[@]}"; do printf '%s\n%s\n' "$m" "$s"; done
done | xargs -d '\n' -n 2 -P "$jobs" bash -c 'compile_one "$1" "$2"' _ \
    || fail "compilation failed (see the messages above)"
compile_secs=$(($(date +%s) - compile_start))
echo "cxx-suite: compilation took ${compile_secs}s"

objs() { local m=$1 s; for s in "${sources[@]}"; do echo "$work/obj/$m/$(basename "${s%.cc}").o"; done; }
mapfile -t native_objs < <(objs native)
mapfile -t thin_objs < <(objs thin)
mapfile -t full_objs < <(objs full)

# measure NAME CMD...: runs CMD once under GNU time; sets `secs` and `mib`
# (its wall time and peak RSS) and returns CMD's status. Output in NAME.log.
measure() {
    local name=$1; shift
    local status=0
    /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" > "$work/$name.log" 2>&1 || status=$?
    # On failure GNU time writes "Command exited with non-zero status N" first.
    read -r secs kib < <(tail -n 1 "$work/$name.time")
    mib=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
    if [ "$status" -ne 0 ]; then
        echo "cxx-suite: $name failed (status $status):" >&2
        tail -n 40 "$work/$name.log" >&2
    fi
    return "$status"
}

ways=(native lld-thin lld-full engine-thin engine-fat)
declare -A lto_s lto_mib link_s ok
link_cmd=(clang++-22 -fuse-ld=lld -pthread)
# googletest-options-test checks the executable's own name against the names
# upstream builds it under; gtest_all_test is one of them.
prog=gtest_all_test

for way in "${ways[@]}"; do
    dir=$work/$way
    rm -rf "$dir" && mkdir -p "$dir"
    lto_s[$way]=-; lto_mib[$way]=-; link_s[$way]=-; ok[$way]=1
    case $way in
        native)
            if measure "$way/link" "${link_cmd[@]}" -O2 "${native_objs[@]}" -o "$dir/$prog"; then
                link_s[$way]=$secs; else ok[$way]=0; fi ;;
        lld-thin)
            if measure "$way/lto" "${link_cmd[@]}" -O2 -flto=thin -Wl,--thinlto-jobs="$jobs" \
                "${thin_objs[@]}" -o "$dir/$prog"; then
                lto_s[$way]=$secs; lto_mib[$way]=$mib; link_s[$way]=incl; else ok[$way]=0; fi ;;
        lld-full)
            if measure "$way/lto" "${link_cmd[@]}" -O2 -flto -Wl,--lto-partitions=1 \
                "${full_objs[@]}" -o "$dir/$prog"; then
                lto_s[$way]=$secs; lto_mib[$way]=$mib; link_s[$way]=incl; else ok[$way]=0; fi ;;
        engine-thin)
            # The engine keeps only --export symbols visible; main is all a
            # program needs (its other references are to shared libraries).
            if measure "$way/lto" "$engine" thin "${thin_objs[@]}" --export main --jobs "$jobs" -O2 \
                -o "$dir/lto"; then
                lto_s[$way]=$secs; lto_mib[$way]=$mib
                if measure "$way/link" "${link_cmd[@]}" @"$dir/lto/link.rsp" -o "$dir/$prog"; then
                    link_s[$way]=$secs; else ok[$way]=0; fi
            else ok[$way]=0; fi ;;
        engine-fat)
            # Fat LTO of the ThinLTO bitcode (it is ordinary bitcode plus a
            # summary); link.rsp is written beside fat.o.
            if measure "$way/lto" "$engine" fat "${thin_objs[@]}" --export main -O2 -o "$dir/fat.o"; then
                lto_s[$way]=$secs; lto_mib[$way]=$mib
                if measure "$way/link" "${link_cmd[@]}" @"$dir/link.rsp" -o "$dir/$prog"; then
                    link_s[$way]=$secs; else ok[$way]=0; fi
            else ok[$way]=0; fi ;;
    esac
done

# ---- run ----
# No test needed excluding: with the renames above, the whole set passed
# natively on repeated runs (CXX_SUITE_FILTER=... narrows it if one ever flakes).
# Tests run in the way's own directory (filepath tests create temp files),
# output plain (not --gtest_brief: gtest_unittest exercises the flags itself).
filter=${CXX_SUITE_FILTER:-*}
declare -A ran passed failed skipped status
for way in "${ways[@]}"; do
    dir=$work/$way
    ran[$way]=-; passed[$way]=-; failed[$way]=-; skipped[$way]=-; status[$way]=-
    [ "${ok[$way]}" = 1 ] || { status[$way]=link-failed; continue; }
    rc=0
    (cd "$dir" && timeout "$run_timeout" "./$prog" --gtest_filter="$filter" > run.log 2>&1) || rc=$?
    status[$way]=$rc
    log=$dir/run.log
    ran[$way]=$(sed -n 's/^\[==========\] \([0-9]*\) tests\? from .* ran\..*/\1/p' "$log" | tail -n 1)
    passed[$way]=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\.$/\1/p' "$log" | tail -n 1)
    failed[$way]=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\?, listed below:$/\1/p' "$log" | tail -n 1)
    skipped[$way]=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) tests\?, listed below:$/\1/p' "$log" | tail -n 1)
    [ -n "${ran[$way]}" ] || ran[$way]=-
    [ -n "${passed[$way]}" ] || passed[$way]=-
    [ -n "${failed[$way]}" ] || failed[$way]=0
    [ -n "${skipped[$way]}" ] || skipped[$way]=0
    # 0 = all passed, 1 = some test failed; anything else (a signal, 124 =
    # timeout) or no summary line at all is a crash.
    if { [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; } || [ "${passed[$way]}" = - ]; then
        status[$way]="crash($rc)"
        echo "cxx-suite: $way: $prog exited with status $rc; the end of $log:" >&2
        tail -n 20 "$log" >&2
    fi
done

# ---- report ----
echo
echo "GoogleTest+GoogleMock suite: ${#sources[@]} TUs, LTO -O2, $jobs jobs; compile ${compile_secs}s this run"
printf '%-12s %7s %7s %7s %7s %-10s %9s %11s %8s\n' way ran passed failed skipped exit "LTO s" "LTO MiB" "link s"
for way in "${ways[@]}"; do
    printf '%-12s %7s %7s %7s %7s %-10s %9s %11s %8s\n' "$way" "${ran[$way]}" "${passed[$way]}" \
        "${failed[$way]}" "${skipped[$way]}" "${status[$way]}" "${lto_s[$way]}" "${lto_mib[$way]}" "${link_s[$way]}"
done

bad=0
for way in "${ways[@]}"; do
    if [[ ${status[$way]} != 0 && ${status[$way]} != 1 ]]; then
        echo "cxx-suite: $way: ${status[$way]}" >&2; bad=1; continue
    fi
    [ "$way" = native ] && continue
    if [ "${passed[$way]}" != "${passed[native]}" ] || [ "${failed[$way]}" != "${failed[native]}" ]; then
        echo "cxx-suite: $way: ${passed[$way]} passed / ${failed[$way]} failed, native: ${passed[native]} / ${failed[native]}" >&2
        bad=1
    fi
done
# Name the failing tests (native's, then each way's differences from them),
# so a difference can be chased without reading the logs.
failing() {
    [ -f "$work/$1/run.log" ] || return 0
    sed -n 's/^\[  FAILED  \] \([^ ,]*\)\( (.*)\|, where.*\)\?$/\1/p' "$work/$1/run.log" | sort -u
}
if [ -n "$(failing native)" ]; then
    echo "cxx-suite: warning: tests failing natively (the other ways are compared against this):" >&2
    failing native | sed 's/^/  /' >&2
fi
for way in "${ways[@]}"; do
    [ "$way" = native ] && continue
    d=$(diff <(failing native) <(failing "$way") | sed -n 's/^</  passes only here:/p; s/^>/  fails only here:/p' || true)
    [ -z "$d" ] || { echo "cxx-suite: $way failing tests, against native:" >&2; echo "$d" >&2; }
done
exit "$bad"
