"""Shared fixtures: tiny params (the whole DAG runs in seconds) written beside a temp copy of the repo."""
from __future__ import annotations

import copy
import hashlib
import os
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


def set_dotted(tree: dict, dotted: str, value) -> dict:
    """tree["a"]["b"]["c"] = value for "a.b.c", adding missing levels (as `dvc exp run -S ++a.b.c=value` does)."""
    *parents, key = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[key] = value
    return tree


def tiny_params(only: tuple[str, ...] | None = None, **section_overrides) -> dict:
    """The committed params.yaml with configs/tiny.yaml over it (every task unless `only` names some), with
    overrides merged in."""
    from storylab.tiny import tiny_params as tiny

    return merge(tiny(yaml.safe_load((REPO / "params.yaml").read_text()), only), section_overrides)


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
    from storylab.cli import run_in_process

    code = run_in_process(REPO / "scripts" / script, *args, cwd=REPO)
    if code:
        raise AssertionError(f"{script} exited with code {code}")
