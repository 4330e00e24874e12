"""A saved Hugging Face model (the tiny one, saved as save_pretrained writes any hub model): its tokenizer, and DPO
against the frozen start with and without LoRA. The four architectures' LoRA SFT -> GRPO -> DPO -> eval chain is
tests/test_architectures.py."""
import json

import pytest
import yaml

from conftest import generate_data, run_stage_here, tiny_params
from storylab.config.loader import load_params
from storylab.modeling import build_tiny_model, load_pretrained, train_tiny_tokenizer
from storylab.prompts import format_prompt


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params()))
    return generate_data(params, root)


@pytest.fixture(scope="module")
def local_model(data_dir, tmp_path_factory):
    """A 'pretrained' model on disk, as save_pretrained writes any hub model."""
    path = tmp_path_factory.mktemp("base") / "base-model"
    params = tiny_params()
    params_path = data_dir / "model_params.yaml"
    params_path.write_text(yaml.safe_dump(params))
    model_params = load_params(params_path, "story_qa", ("model",)).model
    stories = [json.loads(line)["text"] for line in (data_dir / "stories/stories.jsonl").read_text().splitlines()]
    tokenizer = train_tiny_tokenizer(stories, model_params.tiny.vocab_size)
    build_tiny_model(model_params, tokenizer, seed=0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_tiny_tokenizer_chat_template_and_round_trip(local_model):
    params_path = local_model.parent / "p.yaml"
    params_path.write_text(yaml.safe_dump(tiny_params()))
    model, tokenizer = load_pretrained(str(local_model), load_params(params_path, "story_qa", ("model",)).model)
    prompt = format_prompt(tokenizer, "Where was Aldith Varnholt born?", "chat")
    assert prompt == "<|user|>Where was Aldith Varnholt born?<|eos|><|assistant|>"
    text = "Aldith Varnholt was born in Castle Dunmere."
    assert tokenizer.decode(tokenizer(text)["input_ids"]).strip() == text


def train_rl_from(local_model, data_dir, tmp_path, name: str, lora: bool, **overrides):
    """train_rl.py from the saved model (no SFT before it) into tmp_path/<name>, metrics <name>.json; the params."""
    params = tiny_params(model={"name_or_path": str(local_model),
                                "lora": {"enabled": lora, "r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}},
                         **overrides)
    params_path = tmp_path / "params.yaml"
    params_path.write_text(yaml.safe_dump(params))
    run_stage_here("train_rl.py", "--params", str(params_path), "--sft_dir", str(local_model), "--data_dir",
                   str(data_dir / "qa"), "--out_dir", str(tmp_path / name), "--live_dir", str(tmp_path / "live"),
                   "--metrics", str(tmp_path / f"{name}.json"))
    return params_path


@pytest.mark.parametrize("lora", [False, True])
def test_dpo_trains_against_the_frozen_start_and_scores_heldout_pairs(data_dir, local_model, tmp_path, lora):
    """Full fine-tuning keeps a frozen copy as the reference; LoRA uses the model with its adapter disabled."""
    import torch

    params_path = train_rl_from(local_model, data_dir, tmp_path, "dpo", lora,
                                tasks={"story_qa": {"train_rl": {"method": "dpo", "learning_rate": 1e-2}}})
    result = json.loads((tmp_path / "dpo.json").read_text())
    assert result["method"] == "dpo"
    assert result["heldout_pairs"] == len((data_dir / "qa/preferences_test.jsonl").read_text().splitlines()) > 0
    assert 0 <= result["heldout_preference_accuracy"] <= 1
    # The policy moved away from the reference, so the implicit rewards are no longer all zero.
    assert result["heldout_reward_chosen"] != 0 or result["heldout_reward_rejected"] != 0
    model_params = load_params(params_path, "story_qa", ("model",)).model
    start, _ = load_pretrained(str(local_model), model_params)
    trained, _ = load_pretrained(str(tmp_path / "dpo"), model_params)
    assert any(not torch.equal(a, b) for a, b in zip(start.state_dict().values(), trained.state_dict().values()))
    assert (tmp_path / "live/plots/metrics/rewards/margins.tsv").is_file()
    # model.lora on: TRL added an adapter to the plain start, and only the adapter was saved
    assert (tmp_path / "dpo/adapter_config.json").is_file() == lora


def test_grpo_from_a_plain_pretrained_model_trains_a_lora_adapter(data_dir, local_model, tmp_path):
    """The original matrix ran GRPO on the untuned instruct model: with model.lora on, TRL adds the adapter."""
    train_rl_from(local_model, data_dir, tmp_path, "grpo", lora=True)
    adapter = json.loads((tmp_path / "grpo/adapter_config.json").read_text())
    assert adapter["r"] == 4 and set(adapter["target_modules"]) == {"q_proj", "v_proj"}
    result = json.loads((tmp_path / "grpo.json").read_text())
    assert result["method"] == "grpo" and len(result["frac_reward_zero_std_over_steps"]) >= 1
