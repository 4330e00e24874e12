"""A sweep split over machines, the DVC way, on tiny params: machine A runs an experiment and pushes it (a bare git
repo as the git remote, a local directory as the DVC remote); machine B clones, pulls it, sees it with its metrics
in `dvc exp show`, checks it out as a branch, and `dvc pull` + `dvc repro` there runs nothing."""
import json

import pytest

from pipeline import DVC, repo_copy, sh, stages_run

pytestmark = pytest.mark.slow


def test_experiment_runs_with_overrides_and_travels_to_a_second_clone(tmp_path):
    machine_a = repo_copy(tmp_path / "machine_a")
    # The ablation's settings: method none copies the SFT model, so both evaluations agree.
    # `++` adds a key to the task's overrides (a plain -S only changes keys that are already written there).
    sh(DVC, "exp", "run", "-n", "tiny-sweep", "-S", "++tasks.story_qa.train_sft.max_steps=2",
       "-S", "++tasks.story_qa.train_rl.method=none", "report@story_qa", cwd=machine_a)
    table = sh(DVC, "exp", "show", "--csv", cwd=machine_a)
    assert "tasks.story_qa.train_sft.max_steps" in table and "score" in table
    sft, rl = (json.loads((machine_a / f"metrics/story_qa/eval/{m}.json").read_text()) for m in ("sft", "rl"))
    assert sft["test"] == rl["test"]
    headline = json.loads((machine_a / "metrics/story_qa/headline.json").read_text())
    assert headline["rl-sft"] == 0.0

    git_remote, storage = tmp_path / "remote.git", tmp_path / "storage"
    sh("git", "init", "-q", "--bare", str(git_remote), cwd=tmp_path)
    sh("git", "remote", "add", "origin", str(git_remote), cwd=machine_a)
    sh("git", "push", "-q", "origin", "HEAD:main", cwd=machine_a)
    sh(DVC, "remote", "add", "--local", "-d", "storage", str(storage), cwd=machine_a)
    sh(DVC, "exp", "push", "origin", "tiny-sweep", cwd=machine_a)  # the experiment's commit, its outputs to storage

    machine_b = tmp_path / "machine_b"
    sh("git", "clone", "-q", "-b", "main", str(git_remote), str(machine_b), cwd=tmp_path)
    sh(DVC, "remote", "add", "--local", "-d", "storage", str(storage), cwd=machine_b)
    sh(DVC, "exp", "pull", "origin", "tiny-sweep", cwd=machine_b)
    shown = json.loads(sh(DVC, "exp", "show", "--json", cwd=machine_b))
    pulled = [exp["revs"][0]["data"] for rev in shown for exp in rev.get("experiments") or []
              if exp["name"] == "tiny-sweep"]
    assert len(pulled) == 1
    assert pulled[0]["metrics"]["metrics/story_qa/headline.json"]["data"] == headline
    # Keep it as a branch and work on it (`dvc exp apply` would also try to check out the stages A never ran).
    sh(DVC, "exp", "branch", "tiny-sweep", "sweep", cwd=machine_b)
    sh("git", "checkout", "-q", "sweep", cwd=machine_b)
    sh(DVC, "pull", "--with-deps", "report@story_qa", cwd=machine_b)
    assert (machine_b / "models/story_qa/rl/model.safetensors").is_file()
    assert stages_run(sh(DVC, "repro", "report@story_qa", cwd=machine_b)) == set()
    assert json.loads((machine_b / "metrics/story_qa/headline.json").read_text()) == headline
