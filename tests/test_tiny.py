"""The tiny params (configs/tiny.yaml, storylab/tiny.py) the tests and `make demo` share: valid for every task and
for any one task alone; and the demo's workspace is a results-free copy that never replaces a dir it did not make."""
import importlib.util

import pytest
import yaml

from conftest import REPO
from storylab.config.loader import validate_data
from storylab.errors import StorylabError
from storylab.tiny import tiny_params

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
TASKS = list(PARAMS["tasks"])


def demo():
    spec = importlib.util.spec_from_file_location("demo", REPO / "scripts/demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tiny_params_of_every_task_are_valid():
    params = tiny_params(PARAMS)
    validate_data(params, "tiny")
    assert params["train_sft"]["max_steps"] <= 5 and set(params["tasks"]) == set(TASKS)
    assert set(params["variants"]["sft"]) < set(PARAMS["variants"]["sft"])  # replaced by a few recipes, not merged


@pytest.mark.parametrize("task", TASKS)
def test_the_tiny_params_of_one_task_alone_are_valid(task):
    params = tiny_params(PARAMS, only=(task,))
    validate_data(params, f"tiny {task}")
    assert list(params["tasks"]) == [task]
    assert all(entry["task"] == task for entries in params["pipeline"].values() for entry in entries.values())
    tiny_scale = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())["variants"]["scale"]
    assert ("variants" in params) == (task in tiny_scale)  # recipes of other tasks dropped with them


def test_an_unknown_task_is_named():
    with pytest.raises(StorylabError, match="task 'math' is not in the tasks section"):
        tiny_params(PARAMS, only=("math",))


def test_the_demo_workspace_is_a_copy_without_results(tmp_path):
    folder = tmp_path / "demo"
    demo().workspace(folder)
    assert (folder / "dvc.yaml").is_file() and (folder / "storylab/training.py").is_file()
    assert (folder / "metrics/word_math/seeds.csv").is_file()  # a dep of the report stage
    assert not (folder / "dvc.lock").exists() and not (folder / "metrics/word_math/headline.json").exists()
    demo().workspace(folder)  # its own dir: replaced
    (tmp_path / "mine").mkdir()
    with pytest.raises(StorylabError, match="was not made by the demo"):
        demo().workspace(tmp_path / "mine")
