"""A model of a distributed run on N machines from one measured run.

    python -m lto_engine_dask.model STATS.json [--bandwidth MB/S] [--workers N...]

From the ``--stats`` file of a cold run (every job compiled): each job's
time on its worker, the files it needed (by content hash and size), and the
scheduler's overhead per job, taken as what the measured run lost beyond
the same schedule without overhead on the measured number of workers. For
N workers it places the jobs longest first on the least loaded worker (the
order a scheduler with free workers gets close to); each worker also
receives, once, every distinct file its jobs need, at the given bandwidth,
before its first job (pessimistic: Dask overlaps transfers with work).
Reported per N: the predicted time of the backends, the ideal (one
worker's total over N), the fraction of the ideal speed-up, the largest job
(no run is shorter: the jobs are independent, so it is the critical path)
and the most bytes one worker receives.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys


def schedule(jobs, workers, overhead, bandwidth):
    """Predicted makespan and the most bytes one worker receives."""
    loads = [(0.0, k) for k in range(workers)]
    heapq.heapify(loads)
    received = [dict() for _ in range(workers)]
    finish = [0.0] * workers
    for job in sorted(jobs, key=lambda j: -j["seconds"]):
        load, k = heapq.heappop(loads)
        new = 0
        for sha, size in job["needs"]:
            if sha not in received[k]:
                received[k][sha] = size
                new += size
        load += job["seconds"] + overhead + new / bandwidth
        finish[k] = load
        heapq.heappush(loads, (load, k))
    most = max(sum(r.values()) for r in received)
    return max(finish), most


def model(stats, counts, bandwidth):
    jobs = [j for j in stats["per_job"] if j.get("cache") == "miss" and j.get("seconds")]
    if not jobs:
        raise ValueError("the stats hold no compiled job (model a cold run)")
    total = sum(j["seconds"] for j in jobs)
    largest = max(j["seconds"] for j in jobs)
    measured_workers = stats.get("workers") or 1
    run = stats.get("phases", {}).get("run", 0.0)
    # On the measured cluster the network is loopback: no transfer term.
    ideal_measured, _ = schedule(jobs, measured_workers, 0.0, float("inf"))
    overhead = max(0.0, run - ideal_measured) * measured_workers / len(jobs)
    rows = []
    serial = total + overhead * len(jobs)
    for n in counts:
        makespan, most = schedule(jobs, n, overhead, bandwidth)
        rows.append(
            {
                "workers": n,
                "seconds": makespan,
                "ideal": serial / n,
                "fraction_of_ideal": (serial / makespan) / n,
                "largest_job": largest,
                "max_bytes_per_worker": most,
            }
        )
    return {
        "jobs": len(jobs),
        "job_seconds_total": total,
        "largest_job": largest,
        "measured_workers": measured_workers,
        "measured_run_seconds": run,
        "overhead_per_job": overhead,
        "bandwidth_bytes_per_second": bandwidth,
        "rows": rows,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m lto_engine_dask.model", description=__doc__.split("\n\n")[0])
    p.add_argument("stats", help="a --stats file of a cold run")
    p.add_argument("--bandwidth", type=float, default=125.0, help="MB/s into each worker (default 125: 1 Gbit/s)")
    p.add_argument("--workers", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    p.add_argument("--json", action="store_true", help="print the model as JSON")
    args = p.parse_args(argv)
    with open(args.stats, encoding="utf-8") as f:
        stats = json.load(f)
    try:
        result = model(stats, args.workers, args.bandwidth * 1e6)
    except ValueError as e:
        print(f"model: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(
        f"{result['jobs']} jobs, {result['job_seconds_total']:.2f} s of backends, largest "
        f"{result['largest_job']:.2f} s; overhead {result['overhead_per_job'] * 1000:.1f} ms per "
        f"job (from the run on {result['measured_workers']} workers); {args.bandwidth:g} MB/s per worker"
    )
    print(f"{'workers':>7} {'model s':>8} {'ideal s':>8} {'of ideal':>8} {'largest s':>9} {'max MB in':>9}")
    for r in result["rows"]:
        print(
            f"{r['workers']:>7} {r['seconds']:>8.2f} {r['ideal']:>8.2f} {r['fraction_of_ideal']:>8.2f} "
            f"{r['largest_job']:>9.2f} {r['max_bytes_per_worker'] / 1e6:>9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
