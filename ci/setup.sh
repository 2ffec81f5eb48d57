#!/usr/bin/env bash
# Installs the LLVM 22 toolchain this crate builds and tests against (Debian's
# llvm-22-dev, clang-22, lld-22) when it is missing, plus any Debian packages
# named as arguments (the benchmarks' workloads), and the Dask distributor's
# virtual environment (.venv-dask: the pinned packages of
# dask-distributor/requirements.lock, then lto-engine-dask itself).
# Idempotent; needs root or sudo for the Debian packages.
#
#   ci/setup.sh                   # the toolchain
#   ci/setup.sh googletest time   # and these
set -euo pipefail

packages=(llvm-22-dev clang-22 lld-22 libzstd-dev zlib1g-dev libxml2-dev libffi-dev libpolly-22-dev "$@")

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    echo "ci/setup.sh: installing ${missing[*]}" >&2
    sudo_cmd=()
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust components the checks use.
if command -v rustup >/dev/null 2>&1; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

/usr/lib/llvm-22/bin/llvm-config --version | grep -q '^22\.' || {
    echo "ci/setup.sh: /usr/lib/llvm-22/bin/llvm-config is not LLVM 22" >&2
    exit 1
}

# The Dask distributor (dask-distributor/): a virtual environment beside the
# crate, remade when its pinned packages or the package's sources change.
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv-dask
stamp=$(cat "$root/dask-distributor/requirements.lock" "$root/dask-distributor/pyproject.toml" \
    "$root"/dask-distributor/src/lto_engine_dask/*.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "ci/setup.sh: making $venv (dask-distributor)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/dask-distributor/requirements.lock"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation "$root/dask-distributor"
    rm -rf "$root/dask-distributor/build" "$root"/dask-distributor/src/*.egg-info
    echo "$stamp" > "$venv/.stamp"
fi
