"""Bad input fails fast with one line naming the file/field and the fix."""
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, run_script, tiny_params
from storylab.config import load_section, validate_all
from storylab.errors import StorylabError
from storylab.io import read_json, read_jsonl, write_json
from storylab.scoring import METRIC_VERSION


def write_params(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_committed_params_are_valid():
    assert set(validate_all(REPO / "params.yaml")) >= {"generate_stories", "train_sft", "eval"}


@pytest.mark.parametrize("section,key,value,expected", [
    ("train_sft", "learning_rat", 0.1, "train_sft.learning_rat: unknown key; allowed keys here: seed, mix_qa"),
    ("train_sft", "learning_rate", "fast", "train_sft.learning_rate: Input should be a valid number"),
    ("generate_stories", "num_entities", "5", "generate_stories.num_entities: Input should be a valid integer"),
    ("build_qa", "test_fraction", 1.5, "build_qa.test_fraction: Input should be less than 1"),
    ("train_rl", "method", "ppo", "train_rl.method: Input should be 'none', 'grpo' or 'dpo'"),
    ("train_rl", "grpo", {**tiny_params()["train_rl"]["grpo"], "rewards": ["bleu"]},
     "train_rl.grpo: unknown reward 'bleu'; allowed: exact_match, token_f1"),
    ("train_rl", "grpo", {**tiny_params()["train_rl"]["grpo"], "num_generations": 3},
     "train_rl: per_device_train_batch_size must be a multiple of grpo.num_generations"),
])
def test_bad_params_name_the_key(tmp_path, section, key, value, expected):
    params = tiny_params()
    params[section][key] = value
    with pytest.raises(StorylabError, match=".*") as info:
        load_section(section, write_params(tmp_path, params))
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_nested_unknown_key_and_unknown_section(tmp_path):
    params = tiny_params()
    params["model"]["tiny"]["hidden"] = 3
    with pytest.raises(StorylabError, match=r"model\.tiny\.hidden: unknown key; allowed keys here: vocab_size"):
        load_section("model", write_params(tmp_path, params))
    params = tiny_params()
    params["trian_sft"] = {}
    with pytest.raises(StorylabError, match="trian_sft: unknown section"):
        validate_all(write_params(tmp_path, params))


def test_stage_exits_2_with_one_line_before_work(tmp_path):
    params = tiny_params()
    params["train_sft"]["num_train_epochs"] = -1
    path = write_params(tmp_path, params)
    result = run_script("train_sft.py", "--params", str(path), "--stories", "missing.jsonl", "--qa_train", "x",
                        "--out_dir", str(tmp_path / "m"), "--live_dir", str(tmp_path / "l"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: train_sft.num_train_epochs: Input should be greater than 0 (got -1)"]


def test_unknown_model_and_qlora_without_gpu_fail_before_training(tmp_path):
    cases = [({"name_or_path": "no-such-org/no-such-model"}, "is not 'tiny', a local directory, or a model in the local"),
             ({"load_in_4bit": True, "lora": {"enabled": True}}, "QLoRA needs a CUDA GPU"),
             ({"load_in_4bit": True}, "load_in_4bit (QLoRA) trains LoRA adapters: set model.lora.enabled: true")]
    for model_overrides, expected in cases:
        path = write_params(tmp_path, tiny_params(model=model_overrides))
        result = run_script("train_sft.py", "--params", str(path), "--stories", "s.jsonl", "--qa_train", "q.jsonl",
                            "--out_dir", str(tmp_path / "m"), "--live_dir", str(tmp_path / "l"), check=False)
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
    write_json(evals / "old.json", {"metric_version": METRIC_VERSION - 1, "model": "old", "model_dir": "m", "eval_format": "chat",
                                    "recipe": [], "train": {}, "test": {}, "unseen": {}})
    args = ("--metrics", str(evals), "--pred_dir", str(tmp_path), "--out_dir", str(tmp_path / "out"))
    result = run_script("report.py", *args, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: scored by another metric version than this code's {METRIC_VERSION}: {evals / 'old.json'} (version {METRIC_VERSION - 1}); "
        "rerun their eval stages (dvc repro)"]
    write_json(evals / "old.json", {"metric_version": METRIC_VERSION, "model": "old"})
    result = run_script("report.py", *args, check=False)
    assert result.returncode == 2 and "old.json: missing field(s) model_dir, eval_format, recipe" in result.stderr


def test_config_cli_validates_the_whole_file(tmp_path):
    params = tiny_params()
    params["eval"]["rouge_thresh"] = 2
    result = subprocess.run([sys.executable, "-m", "storylab.config", str(write_params(tmp_path, params))],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert "eval.rouge_thresh: Input should be less than or equal to 1" in result.stderr


def test_set_overrides_are_typed_and_validated(tmp_path):
    path = write_params(tmp_path, tiny_params())
    assert load_section("train_sft", path, ["train_sft.max_steps=7"]).max_steps == 7
    assert load_section("model", path, ["model.tiny.hidden_size=64"]).tiny.hidden_size == 64
    with pytest.raises(StorylabError, match=r"--set train_sft.max_steps=many: train_sft.max_steps: Input should be"):
        load_section("train_sft", path, ["train_sft.max_steps=many"])
    with pytest.raises(StorylabError, match=r"--set trainsft.max_steps=1: expected section.key=value"):
        load_section("train_sft", path, ["trainsft.max_steps=1"])


@pytest.mark.parametrize("change,expected", [
    (lambda v: v["rl"]["sftrl"].update(start="sft-long"), "variants: rl.sftrl.start: 'sft-long' is not an sft variant"),
    (lambda v: v["rl"]["sftrl"].update(format="plain"), "rl.sftrl.format must be the train format of its start model"),
    (lambda v: v["eval"]["sft"].update(model="nothing"), "eval.sft.model: 'nothing' is not an sft or rl variant"),
])
def test_variants_section_checks_its_references(tmp_path, change, expected):
    params = tiny_params()
    change(params["variants"])
    with pytest.raises(StorylabError) as info:
        load_section("variants", write_params(tmp_path, params))
    assert expected in str(info.value)


def test_variant_turns_a_recipe_into_overrides(tmp_path):
    path = write_params(tmp_path, tiny_params())
    args = type("Args", (), {"params": path, "overrides": ["train_sft.seed=3"]})
    from storylab.config import overrides_from

    args.variant = "sft.sft"
    assert overrides_from(args) == ["train_sft.max_steps=3", "train_sft.completion_only_loss=true",
                                    "model.prompt_format=chat", "train_sft.seed=3"]
    args.variant = "sft.base"
    assert load_section("train_sft", path, overrides_from(args)).max_steps == 0
    args.variant = "eval.sft-plain-eval"
    assert load_section("model", path, overrides_from(args)).prompt_format == "plain"
    args.variant = "rl.sft-long"
    with pytest.raises(StorylabError, match=r"--variant rl.sft-long: .* has no variants.rl.sft-long; known: sftrl"):
        overrides_from(args)
