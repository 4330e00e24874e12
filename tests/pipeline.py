"""Helpers of the end-to-end tests: a temporary copy of the repo as its own git + DVC repo on tiny params, and
dvc / git commands run in it the way a user runs them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO, set_dotted, tiny_params

DVC = str(Path(sys.executable).with_name("dvc"))
GIT_USER = ("-c", "user.name=t", "-c", "user.email=t@t")


def run(*cmd, cwd) -> subprocess.CompletedProcess:
    # The venv's python runs the stages; the copy's own storylab package shadows the installed one.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": str(cwd),
           "DVC_NO_ANALYTICS": "1"}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)


def sh(*cmd, cwd) -> str:
    result = run(*cmd, cwd=cwd)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def stages_run(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def set_param(repo: Path, dotted: str, value) -> None:
    """One edit of repo's params.yaml. An edit to the value already there is refused: the test that follows it (which
    stages rerun) would pass without testing anything."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    node = params
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    assert node != value, f"{dotted} is {value!r} already: the edit changes nothing"
    params = set_dotted(params, dotted, value)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def commit_all(repo: Path, message: str) -> None:
    sh("git", "add", "-A", cwd=repo)
    sh("git", *GIT_USER, "commit", "-qm", message, "--allow-empty", cwd=repo)


def repo_copy(root: Path) -> Path:
    """The committed tree plus working changes (no results: metrics, curves, dvc.lock), with tiny params, as its
    own git + DVC repo with one commit."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        results = name.startswith(("metrics/", "dvclive/")) and not name.endswith("/seeds.csv")
        if (REPO / name).is_file() and not results and not name.endswith("dvc.lock"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    sh("git", "init", "-q", cwd=root)
    commit_all(root, "tiny copy")
    return root
