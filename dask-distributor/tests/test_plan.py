"""The submitting side's planning, without a cluster: where files go in a
job's sandbox, how the command line is rewritten, what the cache key sees,
and what is refused. (The cluster itself is tested by cargo's
tests/dask_distributor.rs.)"""

import json
import os
import tempfile
import unittest

from lto_engine_dask import plan
from lto_engine_dask import remote


def job_file(directory, doc):
    path = os.path.join(directory, "jobs.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return path


def write(directory, rel, data):
    path = os.path.join(directory, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def lld_jobs(pid, module="src/a.o", out="out"):
    """A job file as lld 22 writes it (its temporary names carry its PID)."""
    index = f"{out}/a.1.{pid}.native.o.thinlto.bc"
    obj = f"{out}/a.1.{pid}.native.o"
    return {
        "common": {"linker_output": "prog", "args": ["/usr/bin/clang-22", "-c", "-O2"], "inputs": []},
        "jobs": [
            {
                "args": [module, f"-fthinlto-index={index}", "-o", obj],
                "inputs": [module, index, "../lib/b.o"],
                "outputs": [obj],
            }
        ],
    }


class PlanTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.cwd = os.path.join(self.tmp.name, "build")
        write(self.cwd, "src/a.o", b"module a")
        write(self.tmp.name, "lib/b.o", b"module b")

    def tearDown(self):
        self.tmp.cleanup()

    def plan(self, doc):
        for job in doc["jobs"]:
            for p in job["inputs"][1:2]:
                write(self.cwd, p, b"the index slice")
        checked = plan.load_job_file(job_file(self.cwd, doc))
        return plan.plan_jobs(checked, self.cwd)

    def test_relative_paths_keep_their_spelling_inside_the_sandbox(self):
        jobs, files = self.plan(lld_jobs(111))
        (job,) = jobs
        # `../lib/b.o` needs one level above the working directory.
        self.assertEqual(job.cwd, "w/d")
        placed = dict(job.files)
        self.assertIn("w/d/src/a.o", placed)
        self.assertIn("w/lib/b.o", placed)
        self.assertEqual(job.argv[1:4], ["-c", "-O2", "src/a.o"])
        self.assertEqual(len(files), 3)
        for rel, _ in job.files:
            self.assertFalse(rel.startswith("/") or rel.startswith(".."), rel)

    def test_the_key_ignores_lld_s_temporary_names_but_not_contents(self):
        (first,), _ = self.plan(lld_jobs(111))
        (second,), _ = self.plan(lld_jobs(222))
        self.assertEqual(first.client_key, second.client_key)
        write(self.tmp.name, "lib/b.o", b"module b, edited")
        (third,), _ = self.plan(lld_jobs(333))
        self.assertNotEqual(first.client_key, third.client_key)
        # The module's own spelling is its identifier in the index.
        write(self.cwd, "src2/a.o", b"module a")
        (fourth,), _ = self.plan(lld_jobs(111, module="src2/a.o"))
        self.assertNotEqual(first.client_key, fourth.client_key)

    def test_absolute_command_line_paths_are_rewritten(self):
        doc = lld_jobs(111, out=os.path.join(self.cwd, "out"))
        (job,), _ = self.plan(doc)
        index_arg = [a for a in job.argv if a.startswith("-fthinlto-index=")][0]
        self.assertFalse(index_arg.split("=", 1)[1].startswith("/"), index_arg)
        self.assertTrue(index_arg.split("=", 1)[1].startswith("../../abs/"), index_arg)
        out = job.argv[job.argv.index("-o") + 1]
        self.assertTrue(out.startswith("../../abs/"), out)
        self.assertEqual(job.outputs[0][1], doc["jobs"][0]["outputs"][0])

    def test_modules_named_by_absolute_paths_are_refused(self):
        doc = lld_jobs(111, module=os.path.join(self.cwd, "src/a.o"))
        with self.assertRaisesRegex(plan.PlanError, "absolute path, which its index file records"):
            self.plan(doc)

    def test_bad_job_files_are_refused_by_name(self):
        path = write(self.cwd, "bad.json", b"{\"common\": {\"args\": []}, \"jobs\": []}")
        with self.assertRaisesRegex(plan.PlanError, "common.args is empty"):
            plan.load_job_file(path)
        path = write(self.cwd, "bad2.json", b"not json")
        with self.assertRaisesRegex(plan.PlanError, "not a JSON job file"):
            plan.load_job_file(path)


class EntryTest(unittest.TestCase):
    def test_damaged_entries_are_misses_and_removed(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["LTO_ENGINE_DASK_CACHE"] = tmp
            try:
                remote._write_entry("ab" * 32, [b"object bytes"])
                self.assertEqual(remote._read_entry("ab" * 32), [b"object bytes"])
                path = remote._entry_path("ab" * 32)
                with open(path, "rb") as f:
                    data = f.read()
                with open(path, "wb") as f:
                    f.write(data[:-3])
                self.assertIsNone(remote._read_entry("ab" * 32))
                self.assertFalse(os.path.exists(path))
            finally:
                del os.environ["LTO_ENGINE_DASK_CACHE"]


if __name__ == "__main__":
    unittest.main()
