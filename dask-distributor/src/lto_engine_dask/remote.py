"""What runs on the Dask workers: one backend job in a sandbox, and the
worker's share of the action cache.

These functions are shipped to the workers by value (cloudpickle), so a
worker needs only ``distributed`` and the compiler, not this package. They
import nothing from the rest of the package for that reason.

The action cache lives on each worker's disk, in ``$LTO_ENGINE_DASK_CACHE``
(default ``~/.cache/lto-engine-dask``) as seen by the worker. An entry is
one file named by the job's key on that worker (the submitting machine's
key plus the identity of the worker's compiler), written to a temporary
name and renamed into place, and holding a checksum of its contents: an
entry that is damaged or cut short is deleted and the job runs again.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import signal
import subprocess
import tempfile
import time

_ENTRY_MAGIC = b"lto-engine-dask entry 1\n"


def cache_root() -> str:
    """The worker's action-cache directory."""
    root = os.environ.get("LTO_ENGINE_DASK_CACHE")
    if not root:
        root = os.path.join(os.path.expanduser("~"), ".cache", "lto-engine-dask")
    return root


def resolve_compiler(named: str):
    """The compiler a job names, as found on this worker: the path itself
    when it exists here, else its file name on this worker's PATH."""
    if os.path.isabs(named) and os.access(named, os.X_OK):
        return named
    return shutil.which(os.path.basename(named))


def compiler_identity(path: str, memo: dict) -> str:
    """A hash of the compiler's file and of what `--version` prints, kept
    per (path, size, mtime) for the life of the worker process."""
    st = os.stat(path)
    stamp = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    found = memo.get(stamp)
    if found is None:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        try:
            version = subprocess.run(
                [path, "--version"], capture_output=True, timeout=60, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            version = b""
        digest.update(b"\0--version\0" + version)
        found = digest.hexdigest()
        memo[stamp] = found
    return found


def _worker_memo(dask_worker) -> dict:
    memo = getattr(dask_worker, "_lto_engine_dask_compilers", None)
    if memo is None:
        memo = {}
        dask_worker._lto_engine_dask_compilers = memo
    return memo


def worker_key(client_key: str, compiler: str, dask_worker):
    """The job's key on this worker, or None when the compiler is missing."""
    found = resolve_compiler(compiler)
    if found is None:
        return None
    identity = compiler_identity(found, _worker_memo(dask_worker))
    return hashlib.sha256(f"{client_key}\0{identity}".encode()).hexdigest()


def _entry_path(key: str) -> str:
    return os.path.join(cache_root(), "actions", key[:2], key)


def _read_entry(key: str):
    """The outputs an entry holds; None (and the entry removed) when it is
    missing, damaged or cut short."""
    path = _entry_path(key)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    ok = False
    if data.startswith(_ENTRY_MAGIC):
        body = data[len(_ENTRY_MAGIC) :]
        checksum, sep, payload = body.partition(b"\n")
        if sep and hashlib.sha256(payload).hexdigest().encode() == checksum:
            try:
                outputs = pickle.loads(payload)
                ok = isinstance(outputs, list) and all(isinstance(o, bytes) for o in outputs)
            except Exception:  # noqa: BLE001 - any unpickling failure means damage
                ok = False
    if not ok:
        try:
            os.remove(path)
        except OSError:
            pass
        return None
    os.utime(path)
    return outputs


def write_by_rename(path: str, data: bytes, prefix: str = ".tmp-", mode=None) -> None:
    """Writes ``data`` to a temporary file beside ``path`` (made with
    ``mode`` when given), then renames it over ``path``: nobody ever reads
    a half-written file there. Makes the directory when missing."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise


def _write_entry(key: str, outputs: list) -> None:
    payload = pickle.dumps(outputs, protocol=4)
    data = _ENTRY_MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    write_by_rename(_entry_path(key), data)


def lookup(wanted: list, dask_worker=None) -> list:
    """Run on every worker (``Client.run``): which of ``wanted`` (pairs of
    a client key and the compiler) this worker's cache holds."""
    found = []
    for client_key, compiler in wanted:
        key = worker_key(client_key, compiler, dask_worker)
        if key is not None and os.path.exists(_entry_path(key)):
            found.append(client_key)
    return found


def fetch(client_key: str, compiler: str):
    """A task pinned to a worker that holds the entry: its outputs, or None
    when the entry turned out damaged (then the job runs)."""
    from distributed import get_worker

    key = worker_key(client_key, compiler, get_worker())
    return None if key is None else _read_entry(key)


def _inside(root: str, rel: str) -> str:
    path = os.path.normpath(os.path.join(root, rel))
    if not path.startswith(root + os.sep):
        raise ValueError(f"{rel} leaves the job's directory")
    return path


def _last_lines(text: bytes, count: int = 3) -> str:
    lines = [line.strip() for line in text.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if "error" in line.lower()]
    chosen = errors[:count] if errors else lines[-count:]
    return " | ".join(chosen) if chosen else "(it printed nothing)"


def _place_input(store: str, sha: str, blob: bytes, path: str) -> None:
    """Puts an input at ``path``: a link to the worker's copy of it,
    written (checked against its hash, read-only, by rename) the first
    time a job on this worker needs it. Jobs that import from the same
    module (std's, in a Rust link) share one file on the worker's disk."""
    kept = os.path.join(store, sha)
    try:
        whole = os.path.getsize(kept) == len(blob)
    except OSError:
        whole = False
    if not whole:
        if hashlib.sha256(blob).hexdigest() != sha:
            raise OSError(f"input {sha} arrived damaged")
        write_by_rename(kept, blob, mode=0o444)
    try:
        os.link(kept, path)
    except OSError:
        shutil.copyfile(kept, path)


def run_job(spec: dict, blobs: list) -> dict:
    """Runs one backend job on this worker.

    Writes the job's inputs (``blobs``, in ``spec["files"]`` order) into a
    fresh sandbox, runs the compiler there with a time limit, and returns
    the outputs as bytes. A compiler that fails or runs out of time is a
    result, not an exception, so that Dask does not run it again elsewhere;
    exceptions are kept for what another worker may not hit (this worker's
    disk, a lost input).
    """
    from distributed import get_worker

    worker = get_worker()
    started = time.monotonic()
    result = {"worker": worker.address, "ok": False}
    compiler = resolve_compiler(spec["argv"][0])
    if compiler is None:
        result["message"] = f"no compiler {spec['argv'][0]} on this worker"
        return result
    jobs_dir = os.path.join(worker.local_directory, "lto-engine-jobs")
    store = os.path.join(worker.local_directory, "lto-engine-inputs")
    os.makedirs(jobs_dir, exist_ok=True)
    os.makedirs(store, exist_ok=True)
    sandbox = os.path.realpath(tempfile.mkdtemp(prefix="job-", dir=jobs_dir))
    try:
        for (rel, sha), blob in zip(spec["files"], blobs):
            path = _inside(sandbox, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _place_input(store, sha, blob, path)
        cwd = _inside(sandbox, spec["cwd"])
        os.makedirs(cwd, exist_ok=True)
        outputs = [_inside(sandbox, rel) for rel, _ in spec["outputs"]]
        for path in outputs:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        argv = [compiler] + spec["argv"][1:]
        compile_started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            printed, _ = proc.communicate(timeout=spec["timeout"])
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            result["message"] = f"timed out after {spec['timeout']:g} s"
            return result
        result["seconds"] = time.monotonic() - started
        result["compile_seconds"] = time.monotonic() - compile_started
        if proc.returncode != 0:
            how = (
                f"exit status {proc.returncode}"
                if proc.returncode > 0
                else f"signal {-proc.returncode}"
            )
            result["message"] = f"{os.path.basename(compiler)} failed ({how}): {_last_lines(printed)}"
            return result
        data = []
        for (rel, _), path in zip(spec["outputs"], outputs):
            try:
                with open(path, "rb") as f:
                    data.append(f.read())
            except OSError:
                result["message"] = f"the compiler succeeded but wrote no {rel}"
                return result
        if not data[0]:
            result["message"] = "the compiler succeeded but its object is empty"
            return result
        if spec["cache"]:
            key = worker_key(spec["client_key"], spec["argv"][0], worker)
            if key is not None:
                _write_entry(key, data)
        result.update(ok=True, outputs=data)
        return result
    finally:
        if not os.environ.get("LTO_ENGINE_DASK_KEEP_JOBS"):
            shutil.rmtree(sandbox, ignore_errors=True)
