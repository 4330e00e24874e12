"""Shared fixtures: tiny params (the whole DAG runs in seconds) written beside a temp copy of the repo."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TINY_OVERRIDES = {
    "generate_stories": {"num_entities": 16, "num_unseen_entities": 4, "stories_per_entity": 2},
    "build_qa": {"test_fraction": 0.25},
    "model": {"tiny": {"vocab_size": 400, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "max_position_embeddings": 256}},
    "train_sft": {"max_steps": 3, "per_device_train_batch_size": 8, "logging_steps": 1},
    "train_rl": {"max_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1,
                 "grpo": {"num_generations": 2, "max_completion_length": 6}},
    "eval": {"batch_size": 16, "max_new_tokens": 6, "bootstrap_resamples": 100},
}


def merge(base: dict, overrides: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        result[key] = merge(result[key], value) if isinstance(value, dict) and value else value
    return result


# A few recipes of the variants pipeline, replacing the full list: untuned base, SFT, SFT then GRPO, two formats.
TINY_VARIANTS = {
    "scale": {"num_entities": 12, "num_unseen_entities": 4, "base_sft_steps": 3, "rl_steps": 2},
    "sft": {"base": {"length": 0, "format": "chat", "completion_only_loss": True},
            "sft": {"length": 1, "format": "chat", "completion_only_loss": True}},
    "rl": {"sftrl": {"start": "sft", "method": "grpo", "format": "chat"}},
    "eval": {"base": {"model": "base", "format": "chat"}, "sft": {"model": "sft", "format": "chat"},
             "sft-plain-eval": {"model": "sft", "format": "plain"}, "sftrl": {"model": "sftrl", "format": "chat"}},
}


def tiny_params(**section_overrides) -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    return merge({**merge(params, TINY_OVERRIDES), "variants": TINY_VARIANTS}, section_overrides)


@pytest.fixture
def tiny_params_file(tmp_path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params()))
    return path


def run_script(script: str, *args: str, cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], cwd=cwd,
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{script} failed:\n{result.stderr[-3000:]}")
    return result
