"""`make gpu-check` and the GPU path's bad input. Without a GPU the check says so in one line and exits 0; with
--cpu it runs its checks on the CPU with the tiny model (the GPU-only ones skip, saying why), so its own code is
tested here. The whole check on a GPU runs only where CUDA is visible."""
import subprocess
import sys

import pytest
import torch
import yaml

from conftest import REPO, tiny_params, write_params
from storylab.modeling import build_tiny_model, train_tiny_tokenizer
from storylab.config.schema import ModelParams

CUDA = torch.cuda.is_available()


def gpu_check(*args, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts/gpu_check.py"), *args], cwd=cwd, capture_output=True,
                          text=True)


@pytest.mark.skipif(CUDA, reason="a CUDA GPU is visible: the check runs (test_the_gpu_check_passes_on_a_gpu)")
def test_without_a_gpu_it_says_so_in_one_line_and_exits_0():
    result = gpu_check()
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("[gpu_check] gpu-check: no CUDA GPU visible") and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_its_checks_run_on_the_cpu_and_the_gpu_only_ones_skip_saying_why(tmp_path):
    params = ModelParams.model_validate(tiny_params(model={"tiny": {"max_position_embeddings": 1024}})["model"])
    tokenizer = train_tiny_tokenizer(["12 + 7 = 19. 3 x 4 = 12."] * 8, params.tiny.vocab_size)
    build_tiny_model(params, tokenizer, seed=0).save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    result = gpu_check("--cpu", "--model", str(tmp_path / "model"), "--work_dir", str(tmp_path / "work"))
    lines = {line.split()[1]: line.split()[0] for line in result.stdout.splitlines() if line[:4] in ("PASS", "FAIL", "SKIP")}
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert lines == {"import-gguf": "SKIP", "data": "PASS", "sft-lora": "PASS", "eval": "PASS", "grpo": "PASS",
                     "qlora": "SKIP", "two-processes": "SKIP"}, result.stdout
    assert "QLoRA needs a CUDA GPU" in result.stdout and "0 GPU(s) visible" in result.stdout
    assert "model on cpu" in result.stdout and "trained tokens/s" in result.stdout


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_the_gpu_check_passes_on_a_gpu():
    result = gpu_check()
    assert result.returncode == 0 and "FAIL" not in result.stdout, result.stdout + result.stderr[-3000:]
    assert "model on cuda" in result.stdout


def launch(config: str, *script) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storylab.launch", f"configs/accelerate/{config}.yaml", *script],
                          cwd=REPO, capture_output=True, text=True)


@pytest.mark.skipif(torch.cuda.device_count() >= 2, reason="two GPUs are visible: ddp_gpu starts")
def test_a_multi_gpu_config_on_fewer_than_two_gpus_stops_in_one_line():
    for config in ("ddp_gpu", "fsdp"):
        result = launch(config, "scripts/train_sft.py", "--help")
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"error: params.yaml: launch.config: configs/accelerate/{config}.yaml: starts one process per GPU and "
            f"{torch.cuda.device_count()} are visible (it needs 2 or more); set launch.config: single (ddp_cpu tries "
            "the multi-process path on the CPU)"]


def test_deepspeed_asked_for_and_missing_stops_in_one_line():
    import importlib.util

    if importlib.util.find_spec("deepspeed"):
        pytest.skip("DeepSpeed is installed")
    result = launch("deepspeed_zero3", "scripts/train_sft.py", "--help")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "deepspeed_zero3.yaml: needs DeepSpeed, which is not installed" in result.stderr


def test_vllm_asked_for_and_missing_stops_in_one_line_before_loading(tmp_path):
    import importlib.util

    if importlib.util.find_spec("vllm"):
        pytest.skip("vllm is installed")
    params = write_params(tmp_path, tiny_params(train_rl={"grpo": {"use_vllm": True}}))
    result = subprocess.run([sys.executable, str(REPO / "scripts/train_rl.py"), "--params", str(params), "--task",
                             "tag_story", "--set", "train_rl.method=grpo", "--sft_dir", str(tmp_path / "none"),
                             "--data_dir", str(tmp_path), "--out_dir", str(tmp_path / "o"), "--live_dir",
                             str(tmp_path / "l"), "--metrics", str(tmp_path / "m.json")], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: params.yaml: train_rl.grpo.use_vllm: needs vllm, which is not installed; pip install vllm (a version "
        "TRL supports), or set use_vllm: false"]
