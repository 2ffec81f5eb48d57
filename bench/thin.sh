#!/usr/bin/env bash
# ThinLTO benchmark: lto-engine thin (+ the final lld link of its objects)
# against ld.lld-22's own ThinLTO, on the same inputs, with the same job count
# and the same LTO level (-O2), one run of each. Prints, per workload, the
# number of bitcode modules and the ratios engine/lld of wall time, CPU time
# (user+sys) and peak RSS; the programs both sides link must print the same.
#
#   bench/thin.sh                     # 2 jobs on each side
#   BENCH_JOBS=4 bench/thin.sh        # lld --thinlto-jobs=4, lto-engine --jobs 4
#   BENCH_DIR=/tmp/b bench/thin.sh    # work directory (default target/bench-thin)
#
# Workloads (sources from crates.io through `cargo fetch`; offline afterwards):
#   rust  bench/thin-rust: a program over clap, regex, serde/serde_json,
#         indexmap and sha2 (a few dozen crates, Cargo.lock pinned), built by
#         cargo --release with -C linker-plugin-lto and a linker wrapper that
#         records rustc's final link. Its inputs (the crate's bitcode objects,
#         the dependencies' bitcode rlibs, std's native rlibs, rustc's
#         symbols.o) and flags are replayed: lld gets all of it as rustc passed
#         it (minus rustc's own -plugin-opt, -B and -fuse-ld); the engine gets
#         the input files plus --export main, then the final link is the same
#         command with @link.rsp in place of the inputs.
#   zstd  the zstd library bundled in the zstd-sys crate (common, compress,
#         decompress, dictBuilder, legacy; multithreaded), compiled with
#         clang-22 -O2 -flto=thin -c, its x86-64 assembly file natively, plus
#         bench/thin_zstd_main.c.
#
# Per-step times and peaks are in $BENCH_DIR/results.txt, logs beside it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_DIR:-$root/target/bench-thin}
jobs=${BENCH_JOBS:-2}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_JOBS must be a positive integer, not '$jobs'" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
"$root/ci/setup.sh"
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
engine=$root/target/release/lto-engine
"$engine" thin --help > /dev/null 2>&1 || { echo "bench: $engine has no working 'thin' command" >&2; exit 1; }

fail() { echo "bench: $*" >&2; exit 1; }

# ---- sources from crates.io, through cargo's own cache ----
mkdir -p "$work/fetch/src"
cat > "$work/fetch/Cargo.toml" <<'TOML'
[package]
name = "bench-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
zstd-sys = "=2.1.2"
[workspace]
TOML
echo 'fn main() {}' > "$work/fetch/src/main.rs"
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
cargo fetch --quiet --locked --manifest-path "$root/bench/thin-rust/Cargo.toml"
registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
zstd=$(ls -d "$registry"/*/zstd-sys-2.1.2+zstd.1.5.7/zstd/lib | head -1)
[ -d "$zstd" ] || fail "zstd-sys sources not found under $registry"

# measure NAME CMD...: runs once, appends "NAME wall_s user_s sys_s peak_kib" to results.
results=$work/results.txt
: > "$results"
measure() {
    local name=$1; shift
    echo "bench: $name" >&2
    /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" > "$work/$name.log" 2>&1 || {
        echo "bench: $name failed: $*" >&2; tail -n 50 "$work/$name.log" >&2; exit 1; }
    echo "$name $(tail -n 1 "$work/time.txt")" >> "$results"
}

# count_modules FILE...: how many bitcode modules the files hold (bitcode
# files, and bitcode members of archives), as a linker would see them.
magic() { head -c 4 "$1" | od -An -tx1 | tr -d ' \n'; }
count_modules() {
    local n=0 f m tmp=$work/count
    for f in "$@"; do
        case $(magic "$f") in
            4243c0de | dec0170b) n=$((n + 1)) ;;
            213c6172) # !<arch>
                rm -rf "$tmp" && mkdir -p "$tmp"
                (cd "$tmp" && llvm-ar-22 x "$f")
                for m in "$tmp"/*; do
                    case $(magic "$m") in 4243c0de | dec0170b) n=$((n + 1)) ;; esac
                done ;;
        esac
    done
    rm -rf "$tmp"
    echo "$n"
}

# compare NAME PROG_ARGS...: both programs of NAME must print the same.
compare() {
    local name=$1; shift
    # the same argv[0] for both: programs may print it (clap's --help does)
    (exec -a "$name" "$work/$name/lld-prog" "$@") > "$work/$name/lld.out" || fail "$name: lld-prog $* failed"
    (exec -a "$name" "$work/$name/engine-prog" "$@") > "$work/$name/engine.out" || fail "$name: engine-prog $* failed"
    cmp -s "$work/$name/lld.out" "$work/$name/engine.out" ||
        { diff "$work/$name/lld.out" "$work/$name/engine.out" | head -n 20 >&2; fail "$name: outputs differ ($*)"; }
}

# ---- rust ----
rw=$work/rust
mkdir -p "$rw/capture/objs" "$rw/engine"
# rustc deletes its objects and symbols.o after linking: the wrapper keeps copies.
cat > "$rw/link-wrapper.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
[ ! -e "$rw/capture/args.txt" ] || { echo "link-wrapper: a second link" >&2; exit 1; }
for a in "\$@"; do
    if [[ \$a == *.o && -f \$a ]]; then
        dest="$rw/capture/objs/\$(basename "\$a")"
        [ ! -e "\$dest" ] || { echo "link-wrapper: two inputs named \$dest" >&2; exit 1; }
        cp "\$a" "\$dest"; a=\$dest
    fi
    printf '%s\n' "\$a" >> "$rw/capture/args.txt.tmp"
done
mv "$rw/capture/args.txt.tmp" "$rw/capture/args.txt"
exec clang-22 "\$@"
EOF
chmod +x "$rw/link-wrapper.sh"
host=$(rustc -vV | sed -n 's/^host: //p')
echo "bench: rust workload build (cargo --release, -C linker-plugin-lto)" >&2
(
    unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
    # --target keeps RUSTFLAGS off build scripts and proc macros.
    RUSTFLAGS="-C linker-plugin-lto -C linker=$rw/link-wrapper.sh" \
        cargo build --release --locked --quiet --target "$host" --target-dir "$rw/target" \
        --manifest-path "$root/bench/thin-rust/Cargo.toml"
) || fail "rust workload build failed"
[ -f "$rw/capture/args.txt" ] || fail "rust: the link wrapper recorded nothing"

# Split rustc's link: inputs (files, in order) and the rest of the command.
mapfile -t captured < "$rw/capture/args.txt"
rust_inputs=() rust_args=() inputs_at=-1
for ((i = 0; i < ${#captured[@]}; i++)); do
    a=${captured[i]}
    case $a in
        -o) i=$((i + 1)) ;;                                   # our own -o below
        -L) i=$((i + 1)); [ -d "${captured[i]}" ] && rust_args+=(-L "${captured[i]}") ;;  # drop rustc's deleted temp dirs
        -B*gcc-ld | -fuse-ld=* | -Wl,-plugin-opt=*) ;;        # rustc's bundled lld and its LTO options
        *)
            if [[ $a != -* && -f $a ]]; then
                ((inputs_at >= 0)) || { inputs_at=${#rust_args[@]}; rust_args+=(@INPUTS@); }
                rust_inputs+=("$a")
            else
                rust_args+=("$a")
            fi ;;
    esac
done
((${#rust_inputs[@]})) || fail "rust: no inputs in the recorded link"
# lld: the inputs where rustc had them; engine: @link.rsp at the first input's place.
rust_lld_args=() rust_final_args=()
for a in "${rust_args[@]}"; do
    if [ "$a" = @INPUTS@ ]; then
        rust_lld_args+=("${rust_inputs[@]}")
        rust_final_args+=(@"$rw/engine/link.rsp")
    else
        rust_lld_args+=("$a"); rust_final_args+=("$a")
    fi
done
rust_modules=$(count_modules "${rust_inputs[@]}")
((rust_modules > 0)) || fail "rust: no bitcode among the inputs"

measure rust-lld clang-22 -fuse-ld=lld -flto=thin -Wl,--thinlto-jobs="$jobs" -Wl,--lto-O2 \
    "${rust_lld_args[@]}" -o "$rw/lld-prog"
measure rust-engine "$engine" thin "${rust_inputs[@]}" -o "$rw/engine" --jobs "$jobs" -O2 --export main \
    --report "$rw/engine-report.json"
measure rust-engine-link clang-22 -fuse-ld=lld "${rust_final_args[@]}" -o "$rw/engine-prog"
compare rust
compare rust --records 3000 --seed 7
compare rust --help

# ---- zstd ----
zw=$work/zstd
mkdir -p "$zw/obj" "$zw/engine"
echo "bench: zstd workload build (clang-22 -O2 -flto=thin -c)" >&2
cflags=(-O2 -DZSTD_MULTITHREAD -DZSTD_LEGACY_SUPPORT=1 -pthread -I"$zstd" -I"$zstd/common" -I"$zstd/legacy")
printf '%s\n' "$zstd"/{common,compress,decompress,dictBuilder,legacy}/*.c "$root/bench/thin_zstd_main.c" |
    xargs -P "$jobs" -I{} sh -c 'f=$1; shift; exec clang-22 "$@" -flto=thin -c "$f" -o "'"$zw"'/obj/$(basename "$f" .c).o"' \
        sh {} "${cflags[@]}" || fail "zstd: compile failed"
clang-22 "${cflags[@]}" -c "$zstd/decompress/huf_decompress_amd64.S" -o "$zw/obj/huf_decompress_amd64.o"
zstd_objs=("$zw"/obj/*.o)
# one object per source, no name collisions
((${#zstd_objs[@]} == $(ls "$zstd"/{common,compress,decompress,dictBuilder,legacy}/*.c | wc -l) + 2)) ||
    fail "zstd: expected one object per source"
zstd_modules=$(count_modules "${zstd_objs[@]}")

measure zstd-lld clang-22 -fuse-ld=lld -flto=thin -Wl,--thinlto-jobs="$jobs" -Wl,--lto-O2 \
    "${zstd_objs[@]}" -pthread -o "$zw/lld-prog"
measure zstd-engine "$engine" thin "${zstd_objs[@]}" -o "$zw/engine" --jobs "$jobs" -O2 --export main \
    --report "$zw/engine-report.json"
measure zstd-engine-link clang-22 -fuse-ld=lld @"$zw/engine/link.rsp" -pthread -o "$zw/engine-prog"
compare zstd

echo
echo "ThinLTO, $jobs jobs each side, LTO -O2; engine = lto-engine thin + final lld link; ratio = engine/lld"
awk -v jobs="$jobs" -v rm="$rust_modules" -v zm="$zstd_modules" '
  { w[$1] = $2; c[$1] = $3 + $4; m[$1] = $5 }
  END {
    mods["rust"] = rm; mods["zstd"] = zm
    printf "%-8s %7s | %8s %8s %6s | %8s %8s %6s | %8s %8s %6s\n", "workload", "modules",
      "lld s", "engine s", "ratio", "lld cpu", "eng cpu", "ratio", "lld MiB", "eng MiB", "ratio"
    n = split("rust zstd", ws, " ")
    for (i = 1; i <= n; i++) {
      k = ws[i]; e = k "-engine"; l = k "-engine-link"
      ew = w[e] + w[l]; ec = c[e] + c[l]; em = (m[e] > m[l]) ? m[e] : m[l]
      printf "%-8s %7d | %8.2f %8.2f %6.2f | %8.2f %8.2f %6.2f | %8.1f %8.1f %6.2f\n", k, mods[k],
        w[k "-lld"], ew, ew / w[k "-lld"], c[k "-lld"], ec, ec / c[k "-lld"],
        m[k "-lld"] / 1024, em / 1024, em / m[k "-lld"]
    }
  }' "$results"
echo "(both builds of each program print the same; per-step figures: $results)"
