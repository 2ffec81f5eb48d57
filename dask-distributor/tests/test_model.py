"""The N-machine model on made-up stats whose answers are known."""

import unittest

from lto_engine_dask import model


def stats(seconds, run, workers=2, needs=None):
    per_job = [
        {"cache": "miss", "seconds": s, "needs": needs(i) if needs else []}
        for i, s in enumerate(seconds)
    ]
    return {"per_job": per_job, "workers": workers, "phases": {"run": run}}


class ModelTest(unittest.TestCase):
    def test_equal_jobs_without_overhead_reach_the_ideal(self):
        result = model.model(stats([1.0] * 64, run=32.0), [4, 16, 64], float("inf"))
        self.assertAlmostEqual(result["overhead_per_job"], 0.0)
        for row in result["rows"]:
            self.assertAlmostEqual(row["fraction_of_ideal"], 1.0)

    def test_the_largest_job_bounds_the_speed_up(self):
        # 10 s in one job and 10 s spread: 16 workers cannot beat 10 s.
        result = model.model(stats([10.0] + [0.1] * 100, run=10.0), [16], float("inf"))
        (row,) = result["rows"]
        self.assertAlmostEqual(row["seconds"], 10.0)
        self.assertLess(row["fraction_of_ideal"], 0.15)

    def test_overhead_and_transfers_are_charged(self):
        # Measured: 4 jobs of 1 s on 2 workers took 3 s: 0.5 s per job lost.
        result = model.model(stats([1.0] * 4, run=3.0), [2], float("inf"))
        self.assertAlmostEqual(result["overhead_per_job"], 0.5)
        self.assertAlmostEqual(result["rows"][0]["seconds"], 3.0)
        # One shared 100 MB file crosses to each worker once.
        shared = stats([1.0] * 4, run=2.0, needs=lambda i: [["std", 100e6]])
        result = model.model(shared, [2], 100e6)
        self.assertAlmostEqual(result["rows"][0]["seconds"], 3.0)
        self.assertEqual(result["rows"][0]["max_bytes_per_worker"], 100e6)

    def test_a_warm_run_is_refused(self):
        with self.assertRaises(ValueError):
            model.model({"per_job": [{"cache": "hit"}], "workers": 2}, [4], 1e9)


if __name__ == "__main__":
    unittest.main()
