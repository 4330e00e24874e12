"""Model and tokenizer loading: the embedded `tiny` model or any Hugging Face causal LM, one code path.

`tiny` is built from a Llama config and trained from scratch with a byte-level BPE tokenizer trained
on the generated corpus (nothing is downloaded). Any other `model.name_or_path` is a local directory
or a hub id already in the local Hugging Face cache, loaded with `from_pretrained`, optionally with
LoRA adapters (PEFT) or 4-bit QLoRA (bitsandbytes, CUDA only). A model loaded to generate or score is placed on the
accelerator (storylab.device); one loaded to train stays where the trainer places it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM,
                          PreTrainedTokenizerFast)

from storylab.config.loader import check_model_name
from storylab.config.schema import ModelParams
from storylab.device import accelerator, place, weights_dtype, zero3
from storylab.errors import StorylabError

SPECIAL_TOKENS = {"pad_token": "<|pad|>", "bos_token": "<|bos|>", "eos_token": "<|eos|>"}
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
TINY_CHAT_TEMPLATE = (
    "{%- for message in messages -%}<|{{ message['role'] }}|>{{ message['content'] }}{{ eos_token }}{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{%- endif -%}"
)


def train_tiny_tokenizer(texts: list[str], vocab_size: int, individual_digits: bool = False) -> PreTrainedTokenizerFast:
    """Byte-level BPE on the corpus; a prefix space per segment keeps ' Castle' one token everywhere.
    individual_digits: every digit its own token (as Llama and Qwen do), so 17 + 25 is digit arithmetic."""
    tokenizer = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tokenizer.pre_tokenizer = (pre_tokenizers.Sequence([byte_level, pre_tokenizers.Digits(individual_digits=True)])
                               if individual_digits else byte_level)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[*SPECIAL_TOKENS.values(), *ROLE_TOKENS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, chat_template=TINY_CHAT_TEMPLATE,
                                   additional_special_tokens=ROLE_TOKENS, **SPECIAL_TOKENS)


def build_tiny_model(params: ModelParams, tokenizer, seed: int) -> LlamaForCausalLM:
    arch = params.tiny
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=arch.hidden_size,
                         intermediate_size=arch.intermediate_size, num_hidden_layers=arch.num_hidden_layers,
                         num_attention_heads=arch.num_attention_heads, num_key_value_heads=arch.num_attention_heads,
                         max_position_embeddings=arch.max_position_embeddings, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(weights_dtype(params.dtype, trains_all_weights=True))
    if params.attn_implementation != "auto":
        model.set_attn_implementation(params.attn_implementation)
    return model


def check_model_source(params: ModelParams) -> None:
    """Fail in a second, before any data work, if the model cannot be loaded here."""
    if params.load_in_4bit:
        if not torch.cuda.is_available():
            raise StorylabError("params.yaml: model.load_in_4bit: QLoRA needs a CUDA GPU and none is visible; "
                                "set load_in_4bit: false (LoRA still works on CPU)")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise StorylabError("params.yaml: model.load_in_4bit: needs bitsandbytes; pip install bitsandbytes")
    check_model_name(params.name_or_path)


def load_pretrained(name_or_path: str, params: ModelParams, training: bool = False):
    """(model, tokenizer) from a directory or cached hub id. A LoRA output directory loads as base + adapter
    (PEFT), its adapter trainable when training goes on from it (SFT -> RL). Loaded to train, the model stays on the
    CPU for the trainer to place (under FSDP / ZeRO-3 it shards it); otherwise it goes to the accelerator. A 4-bit
    model is quantised on this process's own GPU (each rank its own under a multi-GPU launch)."""
    quantization, device_map = None, None
    if params.load_in_4bit:
        from transformers import BitsAndBytesConfig

        quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                          bnb_4bit_compute_dtype=weights_dtype(params.dtype, trains_all_weights=False))
        device_map = {"": accelerator()}
    trains_all = training and not params.lora.enabled and not (Path(name_or_path) / "adapter_config.json").is_file()
    # Safe by default: weights only from safetensors (a pickle can run code), no model code from the hub unless
    # model.trust_remote_code says so.
    kwargs = {"dtype": weights_dtype(params.dtype, trains_all), "quantization_config": quantization,
              "device_map": device_map, "use_safetensors": True, "trust_remote_code": params.trust_remote_code}
    if params.attn_implementation != "auto":
        kwargs["attn_implementation"] = params.attn_implementation
    local = Path(name_or_path)
    if local.exists() and not any((local / name).is_file() for name in ("config.json", "adapter_config.json")):
        raise StorylabError(f"{name_or_path}: no config.json; point at a directory written by save_pretrained")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=params.trust_remote_code)
        if (Path(name_or_path) / "adapter_config.json").is_file():
            from peft import PeftConfig, PeftModel

            base = AutoModelForCausalLM.from_pretrained(PeftConfig.from_pretrained(name_or_path).base_model_name_or_path,
                                                        **kwargs)
            # ZeRO-3 gathers parameters in the dtype of the first: adapters in the base's dtype there (TRL's rule for
            # a bf16 base, GRPOTrainer), PEFT's fp32 adapters elsewhere.
            model = PeftModel.from_pretrained(base, name_or_path, is_trainable=training,
                                              autocast_adapter_dtype=not (training and zero3() and quantization is None))
        else:
            model = AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError) as exc:
        raise StorylabError(f"cannot load model from {name_or_path!r}: {str(exc).strip().splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return (model if training else place(model)), tokenizer


def is_adapter(model) -> bool:
    """A PEFT model (base + LoRA adapter), as load_pretrained returns for a LoRA output dir."""
    from peft import PeftModel

    return isinstance(model, PeftModel)


def lora_config(params: ModelParams):
    """PEFT LoraConfig for the trainers' `peft_config`, or None for full fine-tuning."""
    if not params.lora.enabled:
        return None
    from peft import LoraConfig

    lora = params.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type="CAUSAL_LM")


def initial_model(params: ModelParams, seed: int, corpus: list[str] | None = None, tokenizer=None):
    """(model, tokenizer): the model SFT starts from. `tiny` is built from scratch with `tokenizer`, or with one
    trained on `corpus` (train_sft; the base run passes the SFT model's, so both start from the same weights);
    anything else loads from_pretrained."""
    check_model_source(params)
    if params.name_or_path != "tiny":
        return load_pretrained(params.name_or_path, params, training=True)
    if tokenizer is None:
        tokenizer = train_tiny_tokenizer(corpus, params.tiny.vocab_size, params.tiny.individual_digits)
    return build_tiny_model(params, tokenizer, seed), tokenizer


# tokenizer_config.json keys that record how the tokenizer was loaded, not what it is (local_files_only follows
# HF_HUB_OFFLINE): saved, they would make the same model hash differently from one shell to the next, and DVC would
# rerun everything downstream of it.
LOAD_TIME_KEYS = ("local_files_only",)


def save_tokenizer(tokenizer, out_dir: str | Path) -> None:
    """save_pretrained, without the load-time keys in tokenizer_config.json."""
    import json

    tokenizer.save_pretrained(out_dir)
    path = Path(out_dir, "tokenizer_config.json")
    config = json.loads(path.read_text(encoding="utf-8"))
    if any(key in config for key in LOAD_TIME_KEYS):
        kept = {key: value for key, value in config.items() if key not in LOAD_TIME_KEYS}
        path.write_text(json.dumps(kept, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def merge_lora(adapter_dir: str, params: ModelParams):
    """(model, tokenizer): a LoRA model dir's adapters folded into its base weights (PEFT `merge_and_unload`), a plain
    transformers model that loads without PEFT. The base loads unquantised (merging into 4-bit weights would round)."""
    if not (Path(adapter_dir) / "adapter_config.json").is_file():
        raise StorylabError(f"{adapter_dir}: no adapter_config.json, nothing to merge (a full fine-tune is already a "
                            "plain model dir)")
    model, tokenizer = load_pretrained(adapter_dir, params.model_copy(update={"load_in_4bit": False}))
    return model.merge_and_unload(), tokenizer
