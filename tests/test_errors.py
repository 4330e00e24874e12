"""Bad input fails fast with one line naming the file/field and the fix."""
import subprocess
import sys

import pytest
import torch
import yaml

from conftest import REPO, run_script, set_dotted, tiny_params, write_params
from storylab.config.loader import load_params, validate_all
from storylab.errors import StorylabError
from storylab.io import read_json, read_jsonl, write_json
from storylab.tasks import get_task

METRIC_VERSION = get_task("story_qa").metric_version


def load(path, section, task="story_qa", overrides=None):
    return getattr(load_params(path, task, (section,), overrides), section)


def test_committed_params_are_valid():
    assert set(validate_all(REPO / "params.yaml")["tasks"]) >= {"story_qa", "word_math"}


@pytest.mark.parametrize("dotted,value,expected", [
    ("train_sft.learning_rat", 0.1, "train_sft.learning_rat: unknown key; allowed keys here: seed, mix_qa"),
    ("tasks.story_qa.train_sft.learning_rat", 0.1,
     "tasks.story_qa.train_sft.learning_rat: unknown key; allowed keys here: seed, mix_qa"),
    ("train_sft.learning_rate", "fast", "train_sft.learning_rate: Input should be a valid number"),
    ("tasks.story_qa.generate_stories.num_entities", "5",
     "tasks.story_qa.generate_stories.num_entities: Input should be a valid integer"),
    ("tasks.story_qa.build_qa.test_fraction", 1.5, "tasks.story_qa.build_qa.test_fraction: Input should be less than 1"),
    ("tasks.story_qa.train_rl.method", "ppo", "tasks.story_qa.train_rl.method: Input should be 'none', 'grpo', 'dpo', 'rft' or 'sft-continued'"),
    ("tasks.story_qa.train_rl.grpo", {"rewards": ["bleu"]},
     "train_rl.grpo.rewards (task story_qa): unknown reward 'bleu'; allowed: exact_match, relaxed_match"),
    ("tasks.story_qa.train_rl.grpo", {"num_generations": 3},
     "tasks.story_qa.train_rl: per_device_train_batch_size must be a multiple of grpo.num_generations"),
    ("tasks.word_math.generate_stories.min_ops", 6, "tasks.word_math.generate_stories: min_ops must be <= max_ops"),
    ("tasks.story_qa.train_sft", 5, "tasks.story_qa.train_sft: expected a mapping of overrides"),
])
def test_bad_params_name_the_key(tmp_path, dotted, value, expected):
    path = write_params(tmp_path, set_dotted(tiny_params(), dotted, value))
    with pytest.raises(StorylabError) as info:
        validate_all(path)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_nested_unknown_key_unknown_section_and_unknown_task(tmp_path):
    params = tiny_params()
    params["model"]["tiny"]["hidden"] = 3
    with pytest.raises(StorylabError, match=r"model\.tiny\.hidden: unknown key; allowed keys here: vocab_size"):
        validate_all(write_params(tmp_path, params))
    params = tiny_params()
    params["trian_sft"] = {}
    with pytest.raises(StorylabError, match="trian_sft: unknown section"):
        validate_all(write_params(tmp_path, params))
    params = tiny_params()
    params["tasks"]["storyqa"] = params["tasks"].pop("story_qa")
    with pytest.raises(StorylabError, match="unknown task 'storyqa'; registered tasks: story_qa, word_math, spec_story, tag_story, instruct"):
        validate_all(write_params(tmp_path, params))
    params = tiny_params()
    del params["tasks"]["word_math"]["score"]
    with pytest.raises(StorylabError, match=r"tasks\.word_math\.score: missing; add it"):
        validate_all(write_params(tmp_path, params))


def test_stage_exits_2_with_one_line_before_work(tmp_path):
    params = set_dotted(tiny_params(), "tasks.story_qa.train_sft.num_train_epochs", -1)
    path = write_params(tmp_path, params)
    result = run_script("train_sft.py", "--params", str(path), "--data_dir", "missing", "--out_dir",
                        str(tmp_path / "m"), "--live_dir", str(tmp_path / "l"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: tasks.story_qa.train_sft.num_train_epochs: Input should be greater than 0 (got -1)"]


def test_an_unknown_task_flag_lists_the_registered_ones(tmp_path):
    result = run_script("build_qa.py", "--params", str(write_params(tmp_path, tiny_params())), "--task", "math",
                        "--raw_dir", "x", "--out_dir", "y", "--metrics", "z", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --task math: unknown task; registered tasks: story_qa, word_math, spec_story, tag_story, instruct"


def test_unknown_model_and_qlora_without_gpu_fail_before_training(tmp_path):
    cases = [({"name_or_path": "no-such-org/no-such-model"}, "is not 'tiny', a local directory, or a model in the local"),
             ({"load_in_4bit": True}, "load_in_4bit (QLoRA) trains LoRA adapters: set model.lora.enabled: true")]
    if not torch.cuda.is_available():  # with a GPU, QLoRA is no bad input
        cases.append(({"load_in_4bit": True, "lora": {"enabled": True}}, "QLoRA needs a CUDA GPU"))
    for model_overrides, expected in cases:
        path = write_params(tmp_path, tiny_params(model=model_overrides))
        result = run_script("train_sft.py", "--params", str(path), "--data_dir", "d", "--out_dir",
                            str(tmp_path / "m"), "--live_dir", str(tmp_path / "l"), check=False)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"gold": "a", "prediction": "a"}\n{"gold": "b", "prediction": \n')
    with pytest.raises(StorylabError, match=r"p\.jsonl:2: malformed JSON"):
        read_jsonl(path)
    path.write_text('{"gold": "a"}\n')
    with pytest.raises(StorylabError, match=r"p\.jsonl:1: missing field\(s\) prediction"):
        read_jsonl(path, required=("gold", "prediction"))
    with pytest.raises(StorylabError, match="file not found"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_json_documents_name_the_missing_field(tmp_path):
    path = tmp_path / "eval.json"
    path.write_text('{"model": "sft"}\n')
    assert read_json(path, required=("model",)) == {"model": "sft"}
    with pytest.raises(StorylabError, match=r"eval\.json: missing field\(s\) recipe"):
        read_json(path, required=("model", "recipe"))
    path.write_text("[1, 2]\n")
    with pytest.raises(StorylabError, match=r"eval\.json: expected a JSON object, got list"):
        read_json(path, required=("model",))


def test_report_refuses_eval_files_it_cannot_read(tmp_path):
    """An eval JSON from another metric version or without its recipe stops the report with one line."""
    evals = tmp_path / "evals"
    old = {"metric_version": METRIC_VERSION - 1, "task": "story_qa", "model": "old", "model_dir": "m",
           "eval_format": "chat", "recipe": [], "splits": ["test"], "test": {}}
    write_json(evals / "old.json", old)
    args = ("--params", str(write_params(tmp_path, tiny_params())), "--metrics", str(evals), "--pred_dir",
            str(tmp_path), "--out_dir", str(tmp_path / "out"))
    result = run_script("report.py", *args, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: scored by another metric version than story_qa's {METRIC_VERSION}: {evals / 'old.json'} (version "
        f"{METRIC_VERSION - 1}); rerun their eval stages (dvc repro)"]
    write_json(evals / "old.json", {"metric_version": METRIC_VERSION, "model": "old"})
    result = run_script("report.py", *args, check=False)
    assert result.returncode == 2 and "old.json: missing field(s) task, model_dir, eval_format, recipe" in result.stderr


def test_config_cli_validates_the_whole_file(tmp_path):
    params = set_dotted(tiny_params(), "tasks.word_math.eval.num_samples", -1)
    result = subprocess.run([sys.executable, "-m", "storylab.config", str(write_params(tmp_path, params))],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert "tasks.word_math.eval.num_samples: Input should be greater than or equal to 0" in result.stderr


def test_set_overrides_are_typed_and_validated(tmp_path):
    path = write_params(tmp_path, tiny_params())
    assert load(path, "train_sft", overrides=["train_sft.max_steps=7"]).max_steps == 7
    assert load(path, "model", overrides=["model.tiny.hidden_size=64"]).tiny.hidden_size == 64
    assert load(path, "generate_stories", "word_math", ["generate_stories.max_ops=4"]).max_ops == 4
    with pytest.raises(StorylabError, match=r"--set train_sft.max_steps=many: tasks.story_qa.train_sft.max_steps: Input"):
        load(path, "train_sft", overrides=["train_sft.max_steps=many"])
    with pytest.raises(StorylabError, match=r"--set trainsft.max_steps=1: expected section.key=value"):
        load(path, "train_sft", overrides=["trainsft.max_steps=1"])


@pytest.mark.parametrize("change,expected", [
    (lambda v: v["rl"]["sftrl"].update(start="sft-long"), "variants: rl.sftrl.start: 'sft-long' is not an sft variant"),
    (lambda v: v["rl"]["sftrl"].update(format="plain"), "rl.sftrl.format must be the train format of its start model"),
    (lambda v: v["eval"]["sft"].update(model="nothing"), "eval.sft.model: 'nothing' is not an sft or rl variant"),
    (lambda v: v["sft"]["sft"].update(task="word_math"), "sft.sft.task: 'word_math' has no scale entry"),
])
def test_variants_section_checks_its_references(tmp_path, change, expected):
    params = tiny_params()
    change(params["variants"])
    with pytest.raises(StorylabError) as info:
        validate_all(write_params(tmp_path, params))
    assert expected in str(info.value)


def test_variant_turns_a_recipe_into_overrides(tmp_path):
    from storylab.config.loader import load_file
    from storylab.config.variants import variant_overrides

    path = write_params(tmp_path, tiny_params())
    data = load_file(path)
    assert variant_overrides(data, str(path), "sft.sft", "story_qa") == [
        "train_sft.max_steps=3", "train_sft.completion_only_loss=true", "model.prompt_format=chat"]
    assert load(path, "train_sft", overrides=variant_overrides(data, str(path), "sft.base", "story_qa")).max_steps == 0
    overrides = variant_overrides(data, str(path), "eval.sft-plain-eval", "story_qa")
    assert load(path, "model", overrides=overrides).prompt_format == "plain"
    assert load(path, "generate_stories", overrides=variant_overrides(data, str(path), "scale.story_qa",
                                                                      "story_qa")).num_entities == 12
    with pytest.raises(StorylabError, match=r"--variant rl.sft-long: .* has no variants.rl.sft-long; known: sftrl"):
        variant_overrides(data, str(path), "rl.sft-long", "story_qa")
    with pytest.raises(StorylabError, match=r"--variant sft.sft: a recipe of task 'story_qa', but the stage runs --task"):
        variant_overrides(data, str(path), "sft.sft", "word_math")
    control = variant_overrides(data, str(path), "rl.sftcontrol", "story_qa")
    assert control[:2] == ["train_rl.method=sft-continued", "train_rl.control_steps=2"]
    assert load(path, "train_rl", overrides=control).method == "sft-continued"
