"""Results say which code made them: the core pipeline's dvc.lock matches the code and params of the tree (a change
to a stage's code or params without `make all` fails here), and the line `make readme` writes under each pipeline's
table is what `dvc status` says now (in sync, or stale and what changed)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from storylab.reporting import provenance

RERUN = {"dvc.yaml": "make all", "variants/dvc.yaml": "make variants", "pretrained/dvc.yaml": "make pretrained"}
DOCS = ("README.md", "docs/results.md")


def lock_changed(pipeline: str) -> bool:
    """The workspace's dvc.lock differs from the committed one (a run not yet committed, as in a fresh clone after
    `make all` of new code): the README line is about the committed results."""
    lock = str((REPO / pipeline).with_name("dvc.lock").relative_to(REPO))
    return subprocess.run(["git", "diff", "--quiet", "HEAD", "--", lock], cwd=REPO).returncode != 0


def test_the_core_pipeline_is_in_sync_with_the_code(monkeypatch):
    monkeypatch.chdir(REPO)
    stages, inputs = provenance.changed_inputs("dvc.yaml")
    assert not inputs, f"dvc.lock is older than the code or params of {sorted(stages)[:5]} ({inputs[:8]}): run make all"


@pytest.mark.parametrize("pipeline", list(RERUN))
def test_the_line_under_each_table_says_which_code_made_it(pipeline, monkeypatch):
    if lock_changed(pipeline):
        pytest.skip(f"{pipeline}'s dvc.lock is modified in the workspace: commit it, then make readme")
    monkeypatch.chdir(REPO)
    expected = provenance.line(pipeline, RERUN[pipeline])
    found = [line for doc in DOCS for line in (REPO / doc).read_text(encoding="utf-8").splitlines()
             if line.startswith(f"_Results of `{pipeline}`")]
    assert found, f"no results line of {pipeline} in {DOCS}: make readme"
    assert set(found) == {expected}, "make readme"


def test_a_stale_pipeline_is_named_with_what_changed(tmp_path, monkeypatch):
    """In a repo whose stage code changed after its dvc.lock was committed, the line says stale and names the file."""
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)
    (tmp_path / "step.py").write_text("print(1)\n")
    (tmp_path / "dvc.yaml").write_text("stages:\n  step:\n    cmd: python step.py > out.txt\n    deps: [step.py]\n"
                                       "    outs: [out.txt]\n")
    git("init", "-q")
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([dvc, "repro", "-q"], cwd=tmp_path, check=True, capture_output=True)
    git("add", "-A")
    git("commit", "-qm", "ran")
    monkeypatch.chdir(tmp_path)
    assert "in sync" in provenance.line("dvc.yaml", "make all")
    (tmp_path / "step.py").write_text("print(2)\n")
    stale = provenance.line("dvc.yaml", "make all")
    assert re.search(r"\*\*stale\*\*, 1 of its stages read code or params changed since \(`step.py`\)", stale), stale
