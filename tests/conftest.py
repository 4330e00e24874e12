"""Shared fixtures: tiny params (the whole DAG runs in seconds) written beside a temp copy of the repo."""
from __future__ import annotations

import copy
import hashlib
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Under pytest-xdist each worker (and every stage it starts) gets one math thread: workers x threads = cores.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("STORYLAB_THREADS", "1")

TINY_MODEL = {"tiny": {"vocab_size": 400, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "max_position_embeddings": 256}}
TINY_SHARED = {
    "model": TINY_MODEL,
    "train_sft": {"max_steps": 3, "per_device_train_batch_size": 8, "logging_steps": 1},
    "train_rl": {"max_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1,
                 "grpo": {"num_generations": 2, "max_completion_length": 6}},
    "eval": {"batch_size": 16, "max_new_tokens": 6, "bootstrap_resamples": 100},
}
TINY_TASKS = {
    "story_qa": {"generate_stories": {"num_entities": 16, "num_unseen_entities": 4, "stories_per_entity": 2},
                 "build_qa": {"test_fraction": 0.25}, "train_rl": {"control_steps": 2}},
    "word_math": {"generate_stories": {"num_problems": 160},
                  "build_qa": {"validation_problems": 16, "test_problems": 16},
                  "train_sft": {"max_steps": 4, "select_every": 2, "select_patience": 1},
                  "train_rl": {"max_steps": 2, "per_device_train_batch_size": 4, "control_steps": 2,
                               "grpo": {"max_completion_length": 12}},
                  "eval": {"max_new_tokens": 12, "max_per_split": 16, "num_samples": 2}},
    "spec_story": {"generate_stories": {"num_specs": 40}, "build_qa": {"validation_specs": 6, "test_specs": 8},
                   "train_sft": {"max_steps": 4, "select_every": 2},
                   "train_rl": {"max_steps": 2, "per_device_train_batch_size": 4},
                   "eval": {"max_new_tokens": 12, "max_per_split": 8, "num_samples": 1}},
    "tag_story": {"generate_stories": {"num_sets": 40}, "build_qa": {"validation_sets": 6, "test_sets": 8},
                  "train_sft": {"max_steps": 4, "select_every": 2},  # GRPO on tag coverage (the default is none)
                  "train_rl": {"method": "grpo", "max_steps": 2, "per_device_train_batch_size": 4, "control_steps": 2,
                               "grpo": {"max_completion_length": 12}},
                  "eval": {"max_new_tokens": 12, "max_per_split": 8, "num_samples": 1}},
    "instruct": {"generate_stories": {"num_people": 30},
                 "build_qa": {"train_examples": 40, "validation_examples": 6, "test_examples": 9,
                              "max_context_words": 40},  # the tiny tokenizer spends ~3 tokens a word
                 "train_sft": {"max_steps": 3, "select_every": 0, "max_length": 256}},
}
# The smoke run trains tag_story's GRPO and control too (params.yaml trains its SFT model only).
TINY_PIPELINE = {"train_rl": {f"tag_story-{run}": {"task": "tag_story", "run": run} for run in ("rl", "control")},
                 "eval_accuracy_plus": {f"tag_story-{m}": {"task": "tag_story", "model": m} for m in ("rl", "control")}}
# A few recipes of the variants pipeline, replacing the full list: untuned base, SFT, SFT then GRPO, two formats.
TINY_VARIANTS = {
    "scale": {"story_qa": {"generate_stories": {"num_entities": 12, "num_unseen_entities": 4},
                           "base_sft_steps": 3, "rl_steps": 2}},
    "sft": {"base": {"task": "story_qa", "length": 0, "format": "chat", "completion_only_loss": True},
            "sft": {"task": "story_qa", "length": 1, "format": "chat", "completion_only_loss": True}},
    "rl": {"sftrl": {"task": "story_qa", "start": "sft", "method": "grpo", "format": "chat"}},
    "eval": {"base": {"task": "story_qa", "model": "base", "format": "chat"},
             "sft": {"task": "story_qa", "model": "sft", "format": "chat"},
             "sft-plain-eval": {"task": "story_qa", "model": "sft", "format": "plain"},
             "sftrl": {"task": "story_qa", "model": "sftrl", "format": "chat"}},
}


def pytest_collection_modifyitems(items):
    """The slow end-to-end tests first, the longest (the smoke run) leading: with workers taking one file at a time,
    the short files then fill in beside them instead of waiting at the end."""
    def order(item):
        return (item.get_closest_marker("slow") is None, "test_smoke" not in item.nodeid)
    items.sort(key=order)


def digest(path: Path) -> str:
    """A file's SHA-256: equal digests are the bit-for-bit check of the determinism and resume tests."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def merge(base: dict, overrides: dict) -> dict:
    result = copy.deepcopy(base)
    for key, value in overrides.items():
        result[key] = merge(result.get(key, {}), value) if isinstance(value, dict) and value else value
    return result


def tiny_params(only: tuple[str, ...] | None = None, **section_overrides) -> dict:
    """The committed params.yaml scaled down (every task unless `only` names some), with overrides merged in."""
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()),
                   {**TINY_SHARED, "tasks": TINY_TASKS, "pipeline": TINY_PIPELINE})
    if only is not None:
        params["tasks"] = {name: params["tasks"][name] for name in only}
        params["pipeline"] = {kind: {key: entry for key, entry in entries.items() if entry["task"] in only}
                              for kind, entries in params["pipeline"].items()}
    params["variants"] = TINY_VARIANTS
    return merge(params, section_overrides)


def write_params(directory: Path, params: dict) -> Path:
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture
def tiny_params_file(tmp_path) -> Path:
    return write_params(tmp_path, tiny_params())


def run_script(script: str, *args: str, cwd: Path = REPO, check: bool = True,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """A stage script in a subprocess; env: variables added to this process's environment."""
    result = subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], cwd=cwd,
                            capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise AssertionError(f"{script} failed:\n{result.stderr[-3000:]}")
    return result



def generate_data(params: Path, root: Path) -> Path:
    """generate_stories then build_qa of the params' (first) task into root/stories and root/qa; returns root."""
    run_script("generate_stories.py", "--params", str(params), "--out_dir", str(root / "stories"),
               "--metrics", str(root / "stories.json"))
    run_script("build_qa.py", "--params", str(params), "--raw_dir", str(root / "stories"),
               "--out_dir", str(root / "qa"), "--metrics", str(root / "qa.json"))
    return root

def run_stage_here(script: str, *args: str) -> None:
    """A stage script run inside this test process, for tests that chain many stages: the ~8 s of importing
    torch / transformers / TRL is paid once per test worker instead of once per stage. Run from the repo root like
    every stage; a stage that exits non-zero fails the test."""
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    sys.argv = [str(REPO / "scripts" / script), *args]
    os.chdir(REPO)
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exc:
        if exc.code:
            raise AssertionError(f"{script} exited with code {exc.code}") from None
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
