"""Real architectures through the one code path. Small random-weight models of four families, each with a tokenizer
shaped like its family's (special tokens, BOS handling, chat template or none), saved as `save_pretrained` writes a
hub model, go through LoRA SFT -> GRPO -> DPO -> eval; one more loads by hub id from a local Hugging Face cache."""
import json
import os

import pytest
import torch
import yaml
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (AutoModelForCausalLM, Gemma3TextConfig, GPT2Config, LlamaConfig, PreTrainedTokenizerFast,
                          Qwen3Config)

from conftest import generate_data, run_script, run_stage_here, tiny_params
from storylab.config.loader import load_params
from storylab.io import read_recipe
from storylab.modeling import load_pretrained, merge_lora
from storylab.prompts import format_prompt

LLAMA3_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
                   "{{ m['content'] }}<|eot_id|>{% endfor %}"
                   "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
QWEN3_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                  "{% if add_generation_prompt %}<|im_start|>assistant\n"
                  "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
                  "{% endif %}")
GEMMA3_TEMPLATE = ("{{ bos_token }}{% for m in messages %}<start_of_turn>"
                   "{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{{ m['content'] }}<end_of_turn>\n"
                   "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
SHAPE = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
         "num_key_value_heads": 1, "max_position_embeddings": 512}
# family: (config class and its keywords, special tokens, the token the tokenizer prepends itself, chat template).
# As in the real tokenizers: Llama 3 and GPT-2 have no pad token (loading falls back to EOS), Qwen has no BOS, Llama
# and Gemma prepend BOS themselves (the prompt must not carry a second one), GPT-2 has no chat template.
FAMILIES = {
    "llama": (LlamaConfig, SHAPE, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}, "<|begin_of_text|>",
              LLAMA3_TEMPLATE, ["<|start_header_id|>", "<|end_header_id|>"]),
    "qwen3": (Qwen3Config, {**SHAPE, "head_dim": 16}, {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}, None,
              QWEN3_TEMPLATE, ["<|im_start|>", "<think>", "</think>"]),
    "gemma3": (Gemma3TextConfig, {**SHAPE, "head_dim": 16, "sliding_window": 64},
               {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"}, "<bos>", GEMMA3_TEMPLATE,
               ["<start_of_turn>", "<end_of_turn>"]),
    "gpt2": (GPT2Config, {"n_embd": 32, "n_layer": 1, "n_head": 2, "n_positions": 512},
             {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}, None, None, []),
}
LORA = {"enabled": True, "r": 4, "alpha": 8, "target_modules": "all-linear"}


def family_tokenizer(texts: list[str], family: str) -> PreTrainedTokenizerFast:
    _, _, specials, prepended, template, markers = FAMILIES[family]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    special = list(dict.fromkeys([*specials.values(), *markers]))
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=special,
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                             show_progress=False))
    if prepended:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{prepended} $A", special_tokens=[(prepended, tokenizer.token_to_id(prepended))])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, chat_template=template, **specials)


def save_family_model(texts: list[str], family: str, path) -> None:
    config_class, shape, *_ = FAMILIES[family]
    tokenizer = family_tokenizer(texts, family)
    ids = {f"{name}_id": tokenizer.convert_tokens_to_ids(getattr(tokenizer, name))
           for name in ("bos_token", "eos_token", "pad_token") if getattr(tokenizer, name)}
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config_class(vocab_size=len(tokenizer), **shape, **ids))
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(tiny_params(only=("story_qa",))))
    return generate_data(params, root)


@pytest.fixture(scope="module")
def corpus(data_dir) -> list[str]:
    return [json.loads(line)["text"] for line in (data_dir / "stories/stories.jsonl").read_text().splitlines()]


def params_file(tmp_path, **model) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params(
        only=("story_qa",), model=model,
        tasks={"story_qa": {"train_rl": {"control_steps": 0}, "eval": {"max_new_tokens": 4}}})))
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_family_runs_lora_sft_grpo_dpo_eval_and_merges(family, data_dir, corpus, tmp_path):
    base = tmp_path / f"tiny-{family}"
    save_family_model(corpus, family, base)
    prompt_format = "plain" if family == "gpt2" else "chat"
    params = params_file(tmp_path, name_or_path=str(base), prompt_format=prompt_format, lora=LORA)
    qa = str(data_dir / "qa")

    def stage(script, out, *flags):
        run_stage_here(script, "--params", params, *flags, "--out_dir", str(tmp_path / out),
                       "--live_dir", str(tmp_path / f"live_{out}"))

    stage("train_sft.py", "sft", "--data_dir", qa)
    stage("train_rl.py", "grpo", "--sft_dir", str(tmp_path / "sft"), "--data_dir", qa,
          "--metrics", str(tmp_path / "grpo.json"))
    stage("train_rl.py", "dpo", "--sft_dir", str(tmp_path / "grpo"), "--data_dir", qa,
          "--metrics", str(tmp_path / "dpo.json"), "--set", "train_rl.method=dpo")
    run_stage_here("eval_accuracy_plus.py", "--params", params, "--model_dir", str(tmp_path / "dpo"), "--name", "dpo",
                   "--data_dir", qa, "--pred_dir", str(tmp_path / "pred"), "--out", str(tmp_path / "eval.json"))

    assert [s["stage"] for s in read_recipe(tmp_path / "dpo")] == ["sft", "grpo", "dpo"]
    for out in ("sft", "grpo", "dpo"):
        assert (tmp_path / out / "adapter_config.json").is_file() and not (tmp_path / out / "model.safetensors").exists()
    card = (tmp_path / "dpo/README.md").read_text()
    assert "library_name: peft" in card and f"base_model: {base}" in card and "| 3 | dpo |" in card
    evaluation = json.loads((tmp_path / "eval.json").read_text())
    assert evaluation["test"]["all"]["count"] == len((data_dir / "qa/test.jsonl").read_text().splitlines())
    assert evaluation["eval_format"] == prompt_format

    # merge_and_unload: a plain model dir with the adapted model's logits.
    model_params = load_params(params, "story_qa", ("model",)).model
    adapted, tokenizer = load_pretrained(str(tmp_path / "dpo"), model_params)
    run_stage_here("merge_lora.py", "--params", params, "--model_dir", str(tmp_path / "dpo"),
                   "--out_dir", str(tmp_path / "merged"))
    assert not (tmp_path / "merged/adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    ids = tokenizer(format_prompt(tokenizer, "Where was Aldith Varnholt born?", prompt_format), return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(adapted(**ids).logits, merged(**ids).logits, atol=1e-5)
    assert "| 3 | dpo |" in (tmp_path / "merged/README.md").read_text()


def test_tokenizer_quirks_of_each_family(corpus, tmp_path):
    """BOS once (the template writes it, the tokenizer prepends it: the prompt keeps one), pad falls back to EOS."""
    params = load_params(params_file(tmp_path, name_or_path="tiny"), "story_qa", ("model",)).model
    for family in ("llama", "gemma3", "qwen3"):
        save_family_model(corpus, family, tmp_path / family)
        _, tokenizer = load_pretrained(str(tmp_path / family), params)
        ids = tokenizer(format_prompt(tokenizer, "Who?", "chat"))["input_ids"]
        assert tokenizer.pad_token is not None
        if tokenizer.bos_token:
            assert ids.count(tokenizer.bos_token_id) == 1 and ids[0] == tokenizer.bos_token_id
    assert load_pretrained(str(tmp_path / "llama"), params)[1].pad_token == "<|eot_id|>"


def test_gpt2_without_a_chat_template_stops_in_one_line(data_dir, corpus, tmp_path):
    save_family_model(corpus, "gpt2", tmp_path / "gpt2")
    params = params_file(tmp_path, name_or_path=str(tmp_path / "gpt2"), prompt_format="chat", lora=LORA)
    result = run_script("train_sft.py", "--params", params, "--data_dir", str(data_dir / "qa"),
                        "--out_dir", str(tmp_path / "sft"), "--live_dir", str(tmp_path / "live"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: model.prompt_format chat: the tokenizer of {tmp_path / 'gpt2'} has no chat template; "
        "set model.prompt_format: plain (or use a chat model)"]


def test_chat_template_kwargs_reach_the_template(corpus, tmp_path):
    save_family_model(corpus, "qwen3", tmp_path / "qwen3")
    _, tokenizer = load_pretrained(str(tmp_path / "qwen3"),
                                   load_params(params_file(tmp_path, name_or_path="tiny"), "story_qa", ("model",)).model)
    thinking = format_prompt(tokenizer, "Who?", "chat")
    direct = format_prompt(tokenizer, "Who?", "chat", {"enable_thinking": False})
    assert thinking == "<|im_start|>user\nWho?<|im_end|>\n<|im_start|>assistant\n"
    assert direct == thinking + "<think>\n\n</think>\n\n"


@pytest.mark.slow
def test_hub_id_loads_from_a_local_cache_offline(data_dir, corpus, tmp_path):
    """A model in the Hugging Face cache layout (what `hf download` leaves), named by its hub id, with no network."""
    from huggingface_hub.constants import REPO_ID_SEPARATOR

    cache = tmp_path / "hf_home/hub"
    snapshot = cache / REPO_ID_SEPARATOR.join(["models", "storylab-tests", "tiny-qwen3"]) / "snapshots" / ("0" * 40)
    save_family_model(corpus, "qwen3", snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs/main").write_text("0" * 40)
    env = {"HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1"}
    params = params_file(tmp_path, name_or_path="storylab-tests/tiny-qwen3", chat_template_kwargs={"enable_thinking": False})
    qa = str(data_dir / "qa")
    run_script("train_sft.py", "--params", params, "--data_dir", qa, "--out_dir", str(tmp_path / "sft"),
               "--live_dir", str(tmp_path / "live"), env=env)
    run_script("eval_accuracy_plus.py", "--params", params, "--model_dir", str(tmp_path / "sft"), "--name", "sft",
               "--data_dir", qa, "--pred_dir", str(tmp_path / "pred"), "--out", str(tmp_path / "eval.json"), env=env)
    assert json.loads((tmp_path / "eval.json").read_text())["test"]["all"]["count"] > 0
    missing = run_script("train_sft.py", "--params", params_file(tmp_path, name_or_path="storylab-tests/absent"),
                         "--data_dir", qa, "--out_dir", str(tmp_path / "x"), "--live_dir", str(tmp_path / "y"),
                         env=env, check=False)
    assert missing.returncode == 2 and "is not 'tiny', a local directory, or a model in the local Hugging Face cache" \
        in missing.stderr
