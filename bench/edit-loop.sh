#!/usr/bin/env bash
# The edit loop, differentially, at length: tests/edit_loop.rs's seeded
# generator of edits to a multi-module C program (a function's body, a
# function added or removed, a constant's initializer, a linkage, an
# attribute), EDITS edits (default 200) after a cold link. After every edit
# the engine links warm (`lto-engine ld` with its cache directory) and
# `ld.lld-22` links with its own cache; each program must print what clang's
# native build of the same sources prints. It prints each edit, then the
# modules each linker compiled over the run (the engine's cache misses, and
# the new entries in lld's cache) and how many thin runs the engine recalled
# whole. Fails on the first mismatch, naming the seed and the edit.
#
#   bench/edit-loop.sh                 # 200 edits, the default seed
#   EDITS=500 SEED=42 bench/edit-loop.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
edits=${EDITS:-200}
[[ $edits =~ ^[1-9][0-9]*$ ]] || { echo "bench: EDITS must be a positive integer, not '$edits'" >&2; exit 1; }
"$root/ci/setup.sh"
export EDIT_LOOP_EDITS=$edits
[ -z "${SEED:-}" ] || export EDIT_LOOP_SEED=$SEED
cargo test --release --quiet --manifest-path "$root/Cargo.toml" --test edit_loop -- --nocapture
