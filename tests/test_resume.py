"""Resume after a crash: a training stage killed with SIGKILL and run again continues from its last checkpoint and
ends with the same weights and metrics as a run that was never interrupted; a checkpoint made under other params is
never resumed (storylab.checkpoints.resume_point: fingerprint of command, params, inputs and code)."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, digest, run_script, tiny_params, write_params

pytestmark = pytest.mark.slow
TASK = "word_math"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    params = write_params(root, tiny_params(tasks={TASK: {
        "train_sft": {"max_steps": 120, "select_every": 0, "checkpoint_every": 20},
        "train_rl": {"max_steps": 24, "checkpoint_every": 4, "logging_steps": 2}}}))
    run_script("generate_stories.py", "--params", str(params), "--task", TASK, "--out_dir", str(root / "raw"),
               "--metrics", str(root / "g.json"))
    run_script("build_qa.py", "--params", str(params), "--task", TASK, "--raw_dir", str(root / "raw"),
               "--out_dir", str(root / "qa"), "--metrics", str(root / "q.json"))
    return root, params


def stage(script: str, root: Path, params: Path, out: str, *extra: str) -> list[str]:
    args = {"train_sft.py": ["--data_dir", str(root / "qa")],
            "train_rl.py": ["--sft_dir", str(root / "sft"), "--data_dir", str(root / "qa"),
                            "--metrics", str(root / f"{out}.json")]}[script]
    return [sys.executable, str(REPO / "scripts" / script), "--params", str(params), "--task", TASK, *args,
            "--out_dir", str(root / out), "--live_dir", str(root / f"live_{out}"), *extra]


def kill_after_checkpoint(cmd: list[str], root: Path, out: str, step: int) -> None:
    """Start the stage, SIGKILL it as soon as checkpoint-<step> is complete on disk."""
    wanted = root / ".checkpoints" / Path(*Path(root / out).parts[1:]) / f"checkpoint-{step}" / "trainer_state.json"
    process = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not wanted.is_file():
        assert process.poll() is None, "the stage ended before it was killed"
        assert time.time() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (root / out / "model.safetensors").exists()


def finish(cmd: list[str], root: Path) -> str:
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


def test_sft_killed_then_rerun_resumes_and_ends_as_an_uninterrupted_run(data):
    root, params = data
    summary = finish(stage("train_sft.py", root, params, "sft"), root)
    assert "resumed" not in summary
    killed = stage("train_sft.py", root, params, "sft_killed")
    kill_after_checkpoint(killed, root, "sft_killed", 60)
    summary = finish(killed, root)
    assert "resumed at step" in summary, summary
    assert digest(root / "sft_killed/model.safetensors") == digest(root / "sft/model.safetensors")
    assert not (root / ".checkpoints" / Path(*Path(root / "sft_killed").parts[1:])).exists()  # deleted on success


def test_grpo_killed_then_rerun_ends_with_the_same_weights_and_metrics(data):
    root, params = data
    if not (root / "sft/model.safetensors").is_file():
        finish(stage("train_sft.py", root, params, "sft"), root)
    finish(stage("train_rl.py", root, params, "rl"), root)
    killed = stage("train_rl.py", root, params, "rl_killed")
    kill_after_checkpoint(killed, root, "rl_killed", 8)
    finish(killed, root)
    assert digest(root / "rl_killed/model.safetensors") == digest(root / "rl/model.safetensors")
    assert (root / "rl_killed.json").read_text() == (root / "rl.json").read_text()


def test_a_checkpoint_of_other_params_is_never_resumed(data):
    root, params = data
    killed = stage("train_sft.py", root, params, "sft_changed")
    kill_after_checkpoint(killed, root, "sft_changed", 60)
    changed = stage("train_sft.py", root, params, "sft_changed", "--set", "train_sft.learning_rate=0.002")
    summary = finish(changed, root)
    assert "resumed" not in summary and "120 steps" in summary
