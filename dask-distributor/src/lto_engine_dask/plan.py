"""Turns lld 22's distributor JSON into jobs a worker can run without the
submitting machine's filesystem.

Everything here runs on the submitting machine and touches no cluster: it
reads the job file and the input files, hashes them, decides where each file
goes in a job's sandbox on the worker, rewrites the command line for those
places, and computes each job's action-cache key.

Where files go. A job runs in a fresh directory on the worker (the sandbox),
from a working directory inside it. A relative path keeps its spelling: the
file is placed at that path from the job's working directory, which sits
deep enough in the sandbox that a leading ``..`` stays inside it. Keeping
the spelling matters: the index file lld wrote records the module and the
modules it imports from by the paths it was given, and the compiler opens
them by those paths. An absolute path that only the command line names (the
index file, the object, a profile) is placed under the sandbox's ``abs/``
and the command line is rewritten to it. An absolute path that the index
file records (the module itself, a module it imports from) cannot be
rewritten without rewriting the index, so it is refused with an error that
says how to avoid it.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from dataclasses import dataclass, field

#: Bumped whenever the meaning of a cache key changes.
KEY_FORMAT = "lto-engine-dask/action/1"


class PlanError(Exception):
    """A job file the distributor cannot run as written."""


@dataclass
class InputFile:
    """One distinct input file: where it is here and what it holds (its
    bytes are kept from the one read that hashed them, so what is shipped
    is what the key names)."""

    local_path: str
    sha256: str
    size: int
    data: bytes = field(default=b"", repr=False)


@dataclass
class JobPlan:
    """One backend job, ready for a worker.

    ``files`` pairs each input's content hash with its place, relative to
    the sandbox; ``cwd`` is the working directory relative to the sandbox;
    ``argv`` is the command (the compiler as named in the job file first),
    with absolute paths rewritten to their places; ``outputs`` pairs each
    output's place in the sandbox with its path here.
    """

    index: int
    module: str
    argv: list
    cwd: str
    files: list
    outputs: list
    client_key: str
    input_bytes: int = 0
    needs: list = field(default_factory=list)


def load_job_file(path: str) -> dict:
    """Reads and checks the job file's shape (lld 22's schema)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise PlanError(f"{path}: cannot read the job file: {e.strerror}") from e
    except ValueError as e:
        raise PlanError(f"{path}: not a JSON job file: {e}") from e

    def strings(value, what):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PlanError(f"{path}: {what} must be a list of strings")
        return value

    if not isinstance(doc, dict) or not isinstance(doc.get("common"), dict):
        raise PlanError(f"{path}: no \"common\" object")
    common = doc["common"]
    if not strings(common.get("args"), "common.args"):
        raise PlanError(f"{path}: common.args is empty (its first entry is the compiler)")
    strings(common.get("inputs", []), "common.inputs")
    jobs = doc.get("jobs")
    if not isinstance(jobs, list):
        raise PlanError(f"{path}: no \"jobs\" list")
    for n, job in enumerate(jobs):
        if not isinstance(job, dict):
            raise PlanError(f"{path}: jobs[{n}] is not an object")
        strings(job.get("args"), f"jobs[{n}].args")
        if len(strings(job.get("inputs"), f"jobs[{n}].inputs")) < 2:
            raise PlanError(f"{path}: jobs[{n}].inputs needs the module and its index file")
        if not strings(job.get("outputs"), f"jobs[{n}].outputs"):
            raise PlanError(f"{path}: jobs[{n}].outputs is empty")
    return doc


def _up_levels(rel: str) -> int:
    """How many leading ``..`` a normalized relative path has."""
    n = 0
    for part in rel.split("/"):
        if part != "..":
            break
        n += 1
    return n


def _hash_file(path: str) -> InputFile:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PlanError(f"{path}: cannot read an input: {e.strerror}") from e
    return InputFile(
        local_path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data), data=data
    )


def plan_jobs(doc: dict, cwd: str) -> tuple:
    """Plans every job of a checked job file.

    Returns ``(jobs, files)``: the job plans in file order and the distinct
    input files by content hash.
    """
    common = doc["common"]
    compiler = common["args"][0]
    by_path: dict = {}
    files: dict = {}

    def input_file(spelled: str) -> InputFile:
        local = spelled if os.path.isabs(spelled) else os.path.join(cwd, spelled)
        local = os.path.normpath(local)
        found = by_path.get(local)
        if found is None:
            found = _hash_file(local)
            by_path[local] = found
            files.setdefault(found.sha256, found)
        return found

    # Every relative path lands below the job's working directory, which
    # sits this many levels below the sandbox's `w/`.
    spelled_paths = list(common.get("inputs", []))
    for job in doc["jobs"]:
        spelled_paths += job["inputs"] + job["outputs"]
    depth = max(
        [_up_levels(posixpath.normpath(p)) for p in spelled_paths if not os.path.isabs(p)] + [0]
    )
    cwd_in_sandbox = posixpath.join("w", *(["d"] * depth)) if depth else "w"

    def place(spelled: str) -> str:
        """The sandbox-relative place of a path as the job file spells it."""
        if os.path.isabs(spelled):
            return posixpath.join("abs", posixpath.normpath(spelled).lstrip("/"))
        return posixpath.normpath(posixpath.join(cwd_in_sandbox, spelled))

    def rewritten(spelled: str) -> str:
        """How the command line names that place from the job's cwd."""
        if not os.path.isabs(spelled):
            return spelled
        return posixpath.relpath(place(spelled), cwd_in_sandbox)

    common_inputs = [(p, input_file(p)) for p in common.get("inputs", [])]
    plans = []
    for n, job in enumerate(doc["jobs"]):
        module = job["inputs"][0]
        recorded = [module] + job["inputs"][2:]
        absolute = [p for p in recorded if os.path.isabs(p)]
        if absolute:
            raise PlanError(
                f"job for {module}: {absolute[0]} is named by an absolute path, which its "
                "index file records and the compiler opens as is; a worker without this "
                "machine's filesystem cannot open it: give the linker relative paths (run it "
                "where the inputs are), or link with `lto-engine ld`, whose index files name "
                "modules relative to its working directory"
            )
        job_inputs = [(p, input_file(p)) for p in job["inputs"]]
        renames = {}
        key_names = {}
        for k, (p, _) in enumerate(common_inputs):
            renames[p] = rewritten(p)
            key_names[p] = f"<common-input:{k}>"
        for k, (p, _) in enumerate(job_inputs):
            renames[p] = rewritten(p)
            # The module's own spelling is its identifier, which names its
            # summaries in the index: it stays in the key as spelled.
            key_names[p] = p if k == 0 else f"<input:{k}>"
        for k, p in enumerate(job["outputs"]):
            renames[p] = rewritten(p)
            key_names[p] = f"<output:{k}>"

        def rewrite(args, names):
            out = []
            for a in args:
                if a in names:
                    out.append(names[a])
                    continue
                head, eq, tail = a.partition("=")
                if eq and tail in names:
                    out.append(head + "=" + names[tail])
                else:
                    out.append(a)
            return out

        args = common["args"][1:] + job["args"]
        argv = [compiler] + rewrite(args, renames)
        key_material = {
            "format": KEY_FORMAT,
            "compiler": posixpath.basename(compiler),
            "args": rewrite(args, key_names),
            "common_inputs": [f.sha256 for _, f in common_inputs],
            "inputs": [f.sha256 for _, f in job_inputs],
            "outputs": len(job["outputs"]),
        }
        client_key = hashlib.sha256(
            json.dumps(key_material, sort_keys=True).encode()
        ).hexdigest()
        placed = {}
        for p, f in common_inputs + job_inputs:
            placed[place(p)] = f.sha256
        plans.append(
            JobPlan(
                index=n,
                module=module,
                argv=argv,
                cwd=cwd_in_sandbox,
                files=sorted(placed.items()),
                outputs=[
                    (place(p), p if os.path.isabs(p) else os.path.join(cwd, p))
                    for p in job["outputs"]
                ],
                client_key=client_key,
                input_bytes=sum(files[s].size for s in set(placed.values())),
                needs=sorted(set(placed.values())),
            )
        )
    return plans, files
