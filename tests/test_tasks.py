"""The task contract, for every registered task: deterministic data, disjoint splits, a scorer that gives a perfect
prediction full marks and an empty one none, and a GRPO reward in [0, 1] that is the evaluation's check."""
import pytest

from conftest import tiny_params, write_params
from storylab.config.loader import load_params
from storylab.io import write_files
from storylab.rewards import trl_reward
from storylab.tasks import get_task, registered
from storylab.tasks.base import load_split


@pytest.fixture(scope="module", params=registered())
def built(request, tmp_path_factory):
    """(task, params, data_dir) with the task's tiny data generated and built."""
    name = request.param
    root = tmp_path_factory.mktemp(name)
    params = load_params(write_params(root, tiny_params()), name, ("generate_stories", "build_qa", "score"))
    task = get_task(name)
    files, _ = task.generate(params.generate_stories, root / "external")
    write_files(root / "raw", files)
    built_files, _ = task.build(params.build_qa, root / "raw")
    write_files(root / "qa", built_files)
    return task, params, root


def test_registry_names_match_the_tasks():
    for name in registered():
        assert get_task(name).name == name


def test_generation_is_deterministic(built):
    task, params, root = built
    assert task.generate(params.generate_stories, root / "external") == task.generate(params.generate_stories, root / "external")
    assert task.build(params.build_qa, root / "raw") == task.build(params.build_qa, root / "raw")


def test_splits_exist_and_are_disjoint(built):
    task, _, root = built
    splits = {split: load_split(task, split, root / "qa") for split in task.splits}
    assert "train" in splits and task.heldout_split in splits and all(splits.values())
    seen: dict[str, str] = {}
    for split, records in splits.items():
        for record in records:
            assert seen.setdefault(record["id"], split) == split, f"{record['id']} in {split} and {seen[record['id']]}"
    train = {(r["question"], r["answer"]) for r in splits["train"]}
    for split in set(task.splits) - {"train"}:
        assert not train & {(r["question"], r["answer"]) for r in splits[split]}


def test_perfect_and_empty_predictions(built):
    task, params, root = built
    records = load_split(task, task.heldout_split, root / "qa")
    perfect = [{**r, "gold": r["answer"], "prediction": r["answer"]} for r in records]
    empty = [{**r, "gold": r["answer"], "prediction": ""} for r in records]
    assert task.score(perfect, params.score, 100, 0)["all"][task.primary_metric]["mean"] == 1.0
    assert task.score(empty, params.score, 100, 0)["all"][task.primary_metric]["mean"] == 0.0


def test_rewards_are_in_unit_interval_and_the_default_is_the_check(built):
    task, params, root = built
    records = load_split(task, "train", root / "qa")[:4]
    completions = [r["answer"] for r in records] + ["", "####", "zzz 12 zzz"] * 2
    golds = [r["answer"] for r in records] + [records[0]["answer"]] * 6
    columns = [task.reward_columns(r) for r in records] + [task.reward_columns(records[0])] * 6
    keyword = {name: [c[name] for c in columns] for name in columns[0]}
    for metric in task.reward_metrics:
        rewards = trl_reward(task, metric, params.score)(completions, **keyword)
        assert len(rewards) == len(completions) and all(0.0 <= value <= 1.0 for value in rewards)
    check = trl_reward(task, task.primary_metric, params.score)(completions, **keyword)
    assert check == [task.check(c, g, col) for c, g, col in zip(completions, golds, columns)]
    assert check[:len(records)] == [1.0] * len(records)
