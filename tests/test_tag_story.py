"""tag_story: the generator's guarantees (every reference uses every tag, held-out sets are new combinations of seen
tags), the tag check on hand-made stories, the GRPO reward = the evaluation's coverage, standalone scoring and the
play CLI's tag input."""
from __future__ import annotations

import json

import pytest

from conftest import run_script, tiny_params, write_params
from storylab.io import write_jsonl
from storylab.rewards import trl_reward
from storylab.tasks.tag_story.generator import PLOTS, SETTINGS, TONES, TRAITS, generate
from storylab.tasks.tag_story.task import TASK, check_tags, format_tags, tag_list

SETS = generate(seed=3, num_sets=400)


def test_every_reference_story_uses_every_tag_and_sets_are_distinct_and_seeded():
    for record in SETS:
        assert check_tags(record["story"], record["tags"])["coverage"] == 1.0, record["id"]
        assert 5 <= len(tag_list(record["tags"])) <= 7
    assert len({format_tags(r["tags"]) for r in SETS}) == len(SETS)
    assert generate(3, 20) == SETS[:20] and generate(4, 20) != SETS[:20]
    used = {value for r in SETS for _, value in tag_list(r["tags"])}
    assert used >= set(TRAITS) | set(SETTINGS) | set(PLOTS) | set(TONES)  # every pool value is drawn


def test_held_out_tag_sets_are_new_combinations_of_tags_seen_in_train(tmp_path):
    write_jsonl(tmp_path / "tag_sets.jsonl", SETS)
    files, stats = TASK.build(TASK.params["build_qa"](seed=0, validation_sets=40, test_sets=60), tmp_path)
    train = {format_tags(r["tags"]) for r in files["train.jsonl"]}
    seen = {value for r in files["train.jsonl"] for _, value in tag_list(r["tags"])}
    for record in files["test.jsonl"] + files["validation.jsonl"]:
        assert record["question"] not in train
        assert {value for _, value in tag_list(record["tags"])} <= seen
    assert stats == {"test": {"tag_sets": 60}, "validation": {"tag_sets": 40}, "train": {"tag_sets": 300}}


def test_tag_check_on_hand_made_stories():
    tags = {"name": "Pip", "traits": ["brave", "kind"], "setting": "a desert oasis",
            "plots": ["a hidden treasure"], "tone": "funny"}
    story = "Pip was brave and kind. In a desert oasis Pip found a hidden treasure, and everyone laughed."
    assert check_tags(story, tags) == {"coverage": 1.0, "name": 1.0, "traits": 1.0, "setting": 1.0, "plots": 1.0,
                                       "tone": 1.0}
    partial = check_tags(story.replace("kind", "kindly").replace("laughed", "smiled"), tags)  # whole words only
    assert partial["traits"] == 0.5 and partial["tone"] == 0.0 and partial["coverage"] == pytest.approx(4 / 6)
    assert check_tags("PIP, BRAVE; KIND! a Desert Oasis - hidden treasure (silly)", tags)["coverage"] == 1.0
    item = TASK.score_item(story, story, {"tags": tags, "stopped": False}, None)
    assert item["correct"] == 0.0 and item["coverage"] == 1.0  # every tag, but it did not stop on the end token
    reward = trl_reward(TASK, "coverage", None)
    assert reward([story, "Pip."], gold=[story, story], tags=[tags, tags]) == [1.0, pytest.approx(1 / 6)]


def test_standalone_scoring_with_tags_and_optional_reference(tmp_path):
    record = SETS[0]
    lines = [{"tags": record["tags"], "prediction": record["story"], "reference": record["story"]},
             {"tags": record["tags"], "prediction": "Once upon a time."}]
    pred_file = tmp_path / "pred.jsonl"
    pred_file.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "m.json"
    run_script("eval_accuracy_plus.py", "--task", "tag_story", "--pred_file", str(pred_file), "--out", str(out))
    metrics = json.loads(out.read_text())
    assert metrics["all"]["count"] == 2 and metrics["all"]["coverage"]["mean"] == 0.5
    assert metrics["overlap"]["count"] == 1 and metrics["overlap"]["bleu"]["mean"] == pytest.approx(1.0)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"tags": {**record["tags"], "tone": "grim"}, "prediction": "y"}) + "\n")
    result = run_script("eval_accuracy_plus.py", "--task", "tag_story", "--pred_file", str(bad), check=False)
    assert result.returncode == 2 and "tags.tone 'grim'" in result.stderr.strip().splitlines()[-1]


def test_play_takes_tags_as_flags(tmp_path):
    root = tmp_path
    params = write_params(root, tiny_params())
    run_script("generate_stories.py", "--task", "tag_story", "--params", str(params), "--out_dir", str(root / "raw"),
               "--metrics", str(root / "g.json"))
    run_script("build_qa.py", "--task", "tag_story", "--params", str(params), "--raw_dir", str(root / "raw"),
               "--out_dir", str(root / "qa"), "--metrics", str(root / "b.json"))
    run_script("train_sft.py", "--task", "tag_story", "--params", str(params), "--data_dir", str(root / "qa"),
               "--out_dir", str(root / "sft"), "--live_dir", str(root / "live"), cwd=root)
    flags = ["--field", "name=Tess", "--field", "traits=shy, clever", "--field", "setting=a bamboo forest",
             "--field", "plots=a lost pet", "--field", "tone=gentle"]
    result = run_script("play.py", "--task", "tag_story", "--params", str(params), "--model_dir", str(root / "sft"),
                        *flags, "--max_new_tokens", "12")
    assert "---" in result.stdout and ("tags missed" in result.stdout or "tags: all used" in result.stdout)
    wrong = run_script("play.py", "--task", "tag_story", "--params", str(params), "--model_dir", str(root / "sft"),
                       *flags[:-2], "--field", "mood=gentle", check=False)
    assert wrong.returncode == 2 and "unknown tag field 'mood'" in wrong.stderr
