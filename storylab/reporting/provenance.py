"""Which code made a pipeline's results: the commit that last wrote its dvc.lock, and whether `dvc status` finds code
or params it read changed since (only code and params count: not the pipelines' own outputs, which a fresh clone
lacks).
`make readme` writes this line under each generated table, so a table from older code says so."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SHOWN = 6  # changed inputs named in the line; the rest are counted
OUTPUTS = ("data/", "models/", "metrics/", "dvclive/")  # what the pipelines write: an upstream stage's output, not code


def _run(*cmd: str) -> str:
    """Its output; empty where it fails (not a git or DVC repository: the demo's scratch copy)."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def ran_at(dvc_yaml: str) -> str:
    """`<short hash> (<date>)` of the last commit of the pipeline's dvc.lock, or 'no commit yet'."""
    lock = str(Path(dvc_yaml).with_name("dvc.lock"))
    return _run("git", "log", "-1", "--format=%h (%cs)", "--", lock) or "no commit yet"


def changed_inputs(dvc_yaml: str) -> tuple[set[str], list[str]]:
    """(stages, inputs): the stages whose code or params differ from their dvc.lock entry, and those inputs (a path
    git tracks, or `file: key` for a param)."""
    dvc = str(Path(sys.executable).with_name("dvc"))
    status = json.loads(_run(dvc, "status", "--json", dvc_yaml) or "{}")
    tracked: dict[str, bool] = {}
    stages, inputs = set(), set()
    for stage, changes in status.items():
        for change in changes:
            for path, state in (change.get("changed deps", {}) if isinstance(change, dict) else {}).items():
                if isinstance(state, dict):  # a params file: {key: modified | new | deleted}
                    found = {f"{path}: {key}" for key in state}
                else:
                    if path not in tracked:
                        tracked[path] = not path.startswith(OUTPUTS) and bool(_run("git", "ls-files", "--", path))
                    found = {path} if tracked[path] else set()
                if found:
                    stages.add(stage)
                    inputs |= found
    return stages, sorted(inputs)


def line(dvc_yaml: str, rerun: str) -> str:
    """The line under a table of this pipeline's results."""
    stages, inputs = changed_inputs(dvc_yaml)
    where = f"Results of `{dvc_yaml}` as its `dvc.lock` was committed at {ran_at(dvc_yaml)}"
    if not inputs:
        return f"_{where}: in sync with the code and params they were made by._"
    named = ", ".join(f"`{name}`" for name in inputs[:SHOWN]) + (f" and {len(inputs) - SHOWN} more"
                                                                   if len(inputs) > SHOWN else "")
    return (f"_{where}: **stale**, {len(stages)} of its stages read code or params changed since ({named}); "
            f"`{rerun}` reruns them._")
