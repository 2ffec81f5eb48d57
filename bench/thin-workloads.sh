# The ThinLTO workloads and helpers shared by bench/thin.sh and
# bench/thin-cache.sh; sourced, not run. The caller sets `root` (the
# repository), `work` (an empty work directory) and `jobs`, then calls
# `bench_setup`, and `rust_workload` / `zstd_workload` for the inputs.
#
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

fail() { echo "bench: $*" >&2; exit 1; }

# Toolchain, the release engine, and the crates.io sources (through cargo's
# own cache; offline afterwards). Sets `engine` and `zstd` (its lib dir).
bench_setup() {
    [[ $jobs =~ ^[1-9][0-9]*$ ]] || fail "BENCH_JOBS must be a positive integer, not '$jobs'"
    "$root/ci/setup.sh"
    cargo build --release --quiet --manifest-path "$root/Cargo.toml"
    engine=$root/target/release/lto-engine
    "$engine" thin --help > /dev/null 2>&1 || fail "$engine has no working 'thin' command"

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
    local registry=${CARGO_HOME:-$HOME/.cargo}/registry/src
    zstd=$(ls -d "$registry"/*/zstd-sys-2.1.2+zstd.1.5.7/zstd/lib | head -1)
    [ -d "$zstd" ] || fail "zstd-sys sources not found under $registry"
    results=$work/results.txt
    : > "$results"
}

# measure NAME CMD...: runs once, appends "NAME wall_s user_s sys_s peak_kib"
# to $results; the command's output goes to $work/NAME.log. Wall time comes
# from the shell's microsecond clock (time's %e has 10 ms steps, too coarse
# for cached runs); CPU time and peak RSS from /usr/bin/time.
measure() {
    local name=$1; shift
    echo "bench: $name" >&2
    local start=$EPOCHREALTIME
    /usr/bin/time -f "%U %S %M" -o "$work/time.txt" "$@" > "$work/$name.log" 2>&1 || {
        echo "bench: $name failed: $*" >&2; tail -n 50 "$work/$name.log" >&2; exit 1; }
    local end=$EPOCHREALTIME
    echo "$name $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }') $(tail -n 1 "$work/time.txt")" >> "$results"
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

# compare DIR PROG_ARGS...: DIR/lld-prog and DIR/engine-prog must print the same.
compare() {
    local dir=$1; shift
    local name; name=$(basename "$dir")
    # the same argv[0] for both: programs may print it (clap's --help does)
    (exec -a "$name" "$dir/lld-prog" "$@") > "$dir/lld.out" || fail "$name: lld-prog $* failed"
    (exec -a "$name" "$dir/engine-prog" "$@") > "$dir/engine.out" || fail "$name: engine-prog $* failed"
    cmp -s "$dir/lld.out" "$dir/engine.out" ||
        { diff "$dir/lld.out" "$dir/engine.out" | head -n 20 >&2; fail "$name: outputs differ ($*)"; }
}

# rust_workload SRC: builds the crate in SRC (a copy of bench/thin-rust, or
# the original) into $work/rust/target, recording rustc's link in
# $work/rust/capture (replaced if present). Sets rust_inputs (the files, in
# order), rust_lld_args (rustc's link with the inputs in place) and
# rust_final_args (the same with @$work/rust/engine/link.rsp instead), and
# rust_modules.
rust_workload() {
    local src=$1 rw=$work/rust
    mkdir -p "$rw/engine"
    # rustc deletes its objects and symbols.o after linking: the wrapper
    # keeps copies. Where it records comes from the environment, so a rebuild
    # does not change RUSTFLAGS (which would rebuild every crate).
    cat > "$rw/link-wrapper.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
capture=${LTO_BENCH_CAPTURE:?}
[ ! -e "$capture/args.txt" ] || { echo "link-wrapper: a second link" >&2; exit 1; }
mkdir -p "$capture/objs"
for a in "$@"; do
    if [[ $a == *.o && -f $a ]]; then
        dest="$capture/objs/$(basename "$a")"
        [ ! -e "$dest" ] || { echo "link-wrapper: two inputs named $dest" >&2; exit 1; }
        cp "$a" "$dest"; a=$dest
    fi
    printf '%s\n' "$a" >> "$capture/args.txt.tmp"
done
mv "$capture/args.txt.tmp" "$capture/args.txt"
exec clang-22 "$@"
EOF
    chmod +x "$rw/link-wrapper.sh"
    rm -rf "$rw/capture" && mkdir -p "$rw/capture"
    local host; host=$(rustc -vV | sed -n 's/^host: //p')
    echo "bench: rust workload build (cargo --release, -C linker-plugin-lto)" >&2
    (
        unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
        export LTO_BENCH_CAPTURE=$rw/capture
        # --target keeps RUSTFLAGS off build scripts and proc macros.
        RUSTFLAGS="-C linker-plugin-lto -C linker=$rw/link-wrapper.sh" \
            cargo build --release --locked --quiet --target "$host" --target-dir "$rw/target" \
            --manifest-path "$src/Cargo.toml"
    ) || fail "rust workload build failed"
    [ -f "$rw/capture/args.txt" ] || fail "rust: the link wrapper recorded nothing"

    # Split rustc's link: inputs (files, in order) and the rest of the command.
    local captured a i inputs_at=-1
    mapfile -t captured < "$rw/capture/args.txt"
    local rust_args=()
    rust_inputs=()
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
}

# rust_link_around_inputs: rustc's recorded link (rust_lld_args, after
# rust_workload) split around its inputs: sets link_before (the flags before
# the first input) and link_after (those after the last).
rust_link_around_inputs() {
    local a seen=0 after_last=0
    link_before=() link_after=()
    for a in "${rust_lld_args[@]}"; do
        if [ "$a" = "${rust_inputs[0]}" ]; then seen=1; fi
        if ((seen == 0)); then link_before+=("$a"); fi
    done
    for a in "${rust_lld_args[@]}"; do
        if ((after_last)); then link_after+=("$a"); fi
        if [ "$a" = "${rust_inputs[-1]}" ]; then after_last=1; fi
    done
}

# zstd_workload SRC: compiles the zstd library in SRC (its lib directory) and
# bench/thin_zstd_main.c into $work/zstd/obj. Sets zstd_objs, zstd_modules
# and zstd_cflags.
zstd_workload() {
    local src=$1 zw=$work/zstd
    mkdir -p "$zw/obj" "$zw/engine"
    echo "bench: zstd workload build (clang-22 -O2 -flto=thin -c)" >&2
    zstd_cflags=(-O2 -DZSTD_MULTITHREAD -DZSTD_LEGACY_SUPPORT=1 -pthread -I"$src" -I"$src/common" -I"$src/legacy")
    printf '%s\n' "$src"/{common,compress,decompress,dictBuilder,legacy}/*.c "$root/bench/thin_zstd_main.c" |
        xargs -P "$jobs" -I{} sh -c 'f=$1; shift; exec clang-22 "$@" -flto=thin -c "$f" -o "'"$zw"'/obj/$(basename "$f" .c).o"' \
            sh {} "${zstd_cflags[@]}" || fail "zstd: compile failed"
    clang-22 "${zstd_cflags[@]}" -c "$src/decompress/huf_decompress_amd64.S" -o "$zw/obj/huf_decompress_amd64.o"
    zstd_objs=("$zw"/obj/*.o)
    # one object per source, no name collisions
    ((${#zstd_objs[@]} == $(ls "$src"/{common,compress,decompress,dictBuilder,legacy}/*.c | wc -l) + 2)) ||
        fail "zstd: expected one object per source"
    zstd_modules=$(count_modules "${zstd_objs[@]}")
}
