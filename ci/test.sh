#!/usr/bin/env bash
# The README's test command: toolchain, formatting, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./ci/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
# The Dask distributor's own unit tests (its cluster tests are cargo's).
PYTHONPATH=dask-distributor/src .venv-dask/bin/python -m unittest discover -s dask-distributor/tests
cargo test -- --test-threads=2
