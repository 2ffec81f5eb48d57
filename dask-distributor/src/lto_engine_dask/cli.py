"""``lto-engine-dask``: lld 22's ``--thinlto-distributor`` contract on a Dask
cluster.

    lto-engine-dask [OPTIONS] JOBS.json

lld (and ``lto-engine``) call it with the ``--thinlto-distributor-arg``s
first and the job file last. It connects to the scheduler (``--scheduler``,
else Dask's own configuration: ``DASK_SCHEDULER_ADDRESS``), looks every job
up in the workers' action cache, ships the inputs of the others by content
(each distinct file once from this machine; Dask moves it on to each worker
that needs it once), runs them, writes each object atomically, and exits 0;
on any failure it prints one line and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import plan as planning
from . import remote

PROG = "lto-engine-dask"


class Failure(Exception):
    """Ends the run with one line and exit status 1."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Run lld 22's distributed ThinLTO jobs on a Dask cluster.",
    )
    p.add_argument("jobs", metavar="JOBS.json", help="the job file (lld passes it last)")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="the Dask scheduler (default: Dask's configuration, DASK_SCHEDULER_ADDRESS)",
    )
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to wait for the scheduler and a first worker (default 5)",
    )
    p.add_argument(
        "--job-timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="a job still running after this long fails (default 1800)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="run a job again this many times when its worker is lost (default 2)",
    )
    p.add_argument("--no-cache", action="store_true", help="neither look up nor store results")
    p.add_argument("--stats", metavar="FILE", help="write per-job times and bytes shipped as JSON")
    p.add_argument("--verbose", "-v", action="store_true", help="print a summary line")
    return p


def _write_atomically(path: str, data: bytes) -> None:
    remote.write_by_rename(path, data, prefix=".lto-engine-dask-")


def _connect(address, timeout):
    # Imported here so that `--help` and job-file errors stay fast.
    import dask
    from distributed import Client

    import cloudpickle

    # The worker-side functions travel with the tasks: a worker needs
    # `distributed` and the compiler, not this package.
    cloudpickle.register_pickle_by_value(remote)
    address = address or dask.config.get("scheduler-address", None)
    if not address:
        raise Failure(
            "no scheduler: give --scheduler ADDRESS (a --thinlto-distributor-arg) "
            "or set DASK_SCHEDULER_ADDRESS"
        )
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as e:
        raise Failure(f"cannot reach the scheduler at {address} within {timeout:g} s: {e}") from e
    except MemoryError as e:
        # Dask read a frame length from whatever answered: not its protocol.
        raise Failure(f"what answers at {address} is not a Dask scheduler") from e
    except Exception as e:  # noqa: BLE001 - any other way of not connecting
        raise Failure(f"cannot connect to the scheduler at {address}: {type(e).__name__}: {e}") from e
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as e:
        client.close()
        raise Failure(f"the scheduler at {address} has no workers (waited {timeout:g} s)") from e
    return client, address


def run(args) -> dict:
    started = time.monotonic()
    phases = {}

    def phase(name, since):
        now = time.monotonic()
        phases[name] = now - since
        return now

    doc = planning.load_job_file(args.jobs)
    try:
        jobs, files = planning.plan_jobs(doc, os.getcwd())
    except planning.PlanError as e:
        raise Failure(str(e)) from e
    stats = {
        "jobs": len(jobs),
        "files": len(files),
        "input_bytes": sum(f.size for f in files.values()),
        "shipped_files": 0,
        "shipped_bytes": 0,
        "object_bytes": 0,
        "cache_hits": 0,
        "per_job": [],
        "phases": phases,
    }
    mark = phase("plan", started)
    if not jobs:
        return stats
    from distributed import as_completed

    client, address = _connect(args.scheduler, args.connect_timeout)
    mark = phase("connect", mark)
    try:
        stats["workers"] = len(client.scheduler_info(n_workers=-1)["workers"])
        results = {}
        pending = list(jobs)
        # The action cache: every worker says which keys it holds; a hit is
        # fetched from one of them (checked there: a damaged entry is a miss).
        if not args.no_cache:
            wanted = [(j.client_key, j.argv[0]) for j in jobs]
            held = client.run(remote.lookup, wanted)
            holder = {}
            for worker, keys in held.items():
                for key in keys:
                    holder.setdefault(key, worker)
            fetches = {
                j.index: client.submit(
                    remote.fetch,
                    j.client_key,
                    j.argv[0],
                    workers=[holder[j.client_key]],
                    allow_other_workers=False,
                    pure=False,
                )
                for j in jobs
                if j.client_key in holder
            }
            for index, future in fetches.items():
                try:
                    outputs = future.result()
                except Exception:  # noqa: BLE001 - the holder vanished: run the job
                    outputs = None
                if outputs is not None:
                    results[index] = {"ok": True, "outputs": outputs, "cache": "hit"}
            pending = [j for j in jobs if j.index not in results]
            stats["cache_hits"] = len(results)
            mark = phase("cache lookup", mark)

        attempts = {j.index: 0 for j in pending}
        by_index = {j.index: j for j in jobs}

        def submit(job):
            attempts[job.index] += 1
            # Each distinct file crosses from here once per attempt; Dask
            # moves it on to every worker whose jobs need it, once each.
            blobs = []
            for _, sha in job.files:
                blobs.append(shipped[sha])
            spec = {
                "argv": job.argv,
                "cwd": job.cwd,
                "files": job.files,
                "outputs": job.outputs,
                "timeout": args.job_timeout,
                "cache": not args.no_cache,
                "client_key": job.client_key,
            }
            future = client.submit(remote.run_job, spec, blobs, pure=False)
            owner[future.key] = job.index
            submitted[job.index] = time.monotonic()
            return future

        def ship(needed):
            missing = sorted(s for s in needed if s not in shipped)
            blobs = [files[sha].data for sha in missing]
            # One scatter for all: the workers get them in one exchange.
            for sha, future in zip(missing, client.scatter(blobs, hash=False) if blobs else []):
                shipped[sha] = future
            stats["shipped_files"] += len(blobs)
            stats["shipped_bytes"] += sum(len(b) for b in blobs)

        shipped = {}
        owner = {}
        submitted = {}
        ship({s for j in pending for s in j.needs})
        mark = phase("ship", mark)
        futures = as_completed([submit(j) for j in pending])
        for future in futures:
            index = owner[future.key]
            job = by_index[index]
            try:
                result = future.result()
            except Exception as e:  # noqa: BLE001 - a lost worker or input: run it again
                if attempts[index] > args.retries:
                    raise Failure(
                        f"job for {job.module} failed {attempts[index]} times; last: "
                        f"{type(e).__name__}: {e}"
                    ) from e
                # Its inputs may have been on the lost worker only.
                for sha in job.needs:
                    shipped.pop(sha, None)
                ship(job.needs)
                futures.add(submit(job))
                continue
            if not result.get("ok"):
                raise Failure(
                    f"job for {job.module} failed on worker {result.get('worker')}: "
                    f"{result.get('message')}"
                )
            result["cache"] = "miss"
            result["wall"] = time.monotonic() - submitted[index]
            results[index] = result
        mark = phase("run", mark)
        for job in jobs:
            result = results[job.index]
            for (_, here), data in zip(job.outputs, result["outputs"]):
                _write_atomically(here, data)
                stats["object_bytes"] += len(data)
            stats["per_job"].append(
                {
                    "module": job.module,
                    "cache": result["cache"],
                    "worker": result.get("worker"),
                    "seconds": result.get("seconds"),
                    "compile_seconds": result.get("compile_seconds"),
                    "wall": result.get("wall"),
                    "attempts": attempts.get(job.index, 0),
                    "input_bytes": job.input_bytes,
                    "object_bytes": sum(len(d) for d in result["outputs"]),
                    "needs": [[sha, files[sha].size] for sha in job.needs],
                }
            )
        phase("write", mark)
    finally:
        client.close()
    stats["seconds"] = time.monotonic() - started
    stats["scheduler"] = address
    return stats


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        stats = run(args)
    except (Failure, planning.PlanError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - one line, never a traceback, for the linker's user
        print(f"{PROG}: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if args.stats:
        _write_atomically(args.stats, json.dumps(stats, indent=1).encode() + b"\n")
    if args.verbose:
        print(
            f"{PROG}: {stats['jobs']} jobs, {stats['cache_hits']} from the action cache, "
            f"{stats['shipped_files']} files ({stats['shipped_bytes']} bytes) shipped, "
            f"{stats['object_bytes']} bytes of objects back",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
