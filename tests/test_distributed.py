"""More than one process: SFT through `accelerate launch` with 2 CPU processes (DDP over gloo) trains like one
process at the same global batch, and only the main process writes curves, the model and its files."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, generate_data, tiny_params

ACCELERATE = str(Path(sys.executable).with_name("accelerate"))

pytestmark = pytest.mark.slow


def launch(config: str, *args: str) -> subprocess.CompletedProcess:
    """A training script started the way dvc.yaml starts it."""
    env = {**os.environ, "STORYLAB_THREADS": "1"}  # two processes on two cores
    result = subprocess.run([ACCELERATE, "launch", "--quiet", "--config_file", f"configs/accelerate/{config}.yaml",
                             *args], cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def curve(live_dir: Path, name: str) -> dict[int, float]:
    with open(live_dir / f"plots/metrics/{name}.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {int(row["step"]): float(row[name]) for row in rows}


def test_two_cpu_processes_give_the_losses_of_one_at_the_same_global_batch(tmp_path):
    """story_qa mixes long stories with short QA pairs, so the two processes see different token counts each step: the
    loss is equal only if tokens are counted across processes (transformers' average_tokens_across_devices)."""
    params = tiny_params(only=("story_qa",), train_sft={"max_steps": 4, "logging_steps": 1,
                                                        "per_device_train_batch_size": 8,
                                                        "gradient_accumulation_steps": 2})
    single, double = tmp_path / "single.yaml", tmp_path / "ddp.yaml"
    single.write_text(yaml.safe_dump(params))
    params["train_sft"]["per_device_train_batch_size"] = 4  # 4 x 2 accumulation x 2 processes = 8 x 2 x 1
    double.write_text(yaml.safe_dump(params))
    generate_data(single, tmp_path)

    runs = {}
    for name, config, params_file in (("one", "single", single), ("two", "ddp_cpu", double)):
        result = launch(config, "scripts/train_sft.py", "--params", str(params_file), "--data_dir",
                        str(tmp_path / "qa"), "--out_dir", str(tmp_path / name), "--live_dir", str(tmp_path / f"live_{name}"))
        runs[name] = curve(tmp_path / f"live_{name}", "loss")
        assert result.stderr.count("[train_sft] story_qa: SFT") == (2 if config == "ddp_cpu" else 1)  # both ran
    assert sorted(runs["one"]) == sorted(runs["two"]) == [0, 1, 2, 3]  # 4 logged steps, one writer: none twice
    for step, loss in runs["one"].items():
        assert abs(loss - runs["two"][step]) < 1e-4, (step, loss, runs["two"][step])
    for name in ("one", "two"):  # the saved model, its files and the checkpoint the control continues from
        files = {path.name for path in (tmp_path / name).iterdir()}
        assert {"model.safetensors", "README.md", "storylab_recipe.json", "trainer_checkpoint"} <= files
    assert not (REPO / ".checkpoints" / tmp_path.relative_to("/") / "two").exists()  # cleaned up once, by rank 0
