"""Bit for bit: SFT and GRPO trained twice, in two separate processes and directories, the second while another
CPU-heavy process runs, give the same weights and the same metrics files (storylab/__init__.py pins the CPU math
libraries' kernels and thread count; the seeds cover init, data order and GRPO's sampling)."""
import subprocess
import sys

import pytest

from conftest import digest, run_script, tiny_params, write_params

pytestmark = pytest.mark.slow


def train_twice(tmp_path, task: str) -> list[dict]:
    params = write_params(tmp_path, tiny_params(tasks={task: {"train_sft": {"max_steps": 12}, "train_rl": {"max_steps": 3}}}))
    common = ("--params", str(params), "--task", task)
    run_script("generate_stories.py", *common, "--out_dir", str(tmp_path / "raw"), "--metrics", str(tmp_path / "g.json"))
    run_script("build_qa.py", *common, "--raw_dir", str(tmp_path / "raw"), "--out_dir", str(tmp_path / "qa"),
               "--metrics", str(tmp_path / "q.json"))
    runs = []
    for index in (1, 2):
        out = tmp_path / f"run{index}"
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if index == 2 else None
        try:
            run_script("train_sft.py", *common, "--data_dir", str(tmp_path / "qa"), "--out_dir", str(out / "sft"),
                       "--live_dir", str(out / "live_sft"), cwd=out.parent)
            run_script("train_rl.py", *common, "--sft_dir", str(out / "sft"), "--data_dir", str(tmp_path / "qa"),
                       "--out_dir", str(out / "rl"), "--live_dir", str(out / "live_rl"), "--metrics",
                       str(out / "train_rl.json"), cwd=out.parent)
        finally:
            if burner:
                burner.kill()
        runs.append({"sft": digest(out / "sft/model.safetensors"), "rl": digest(out / "rl/model.safetensors"),
                     "metrics": (out / "train_rl.json").read_text()})
    return runs


@pytest.mark.parametrize("task", ["story_qa", "word_math"])
def test_two_processes_train_the_same_bits(tmp_path, task):
    first, second = train_twice(tmp_path, task)
    assert first == second
