"""Trainer settings shared by the SFT and RL stages: CPU-safe defaults, determinism, DVCLive curves."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import Trainer
from trl import SFTConfig, SFTTrainer

from storylab.config import ModelParams, TrainSFTParams
from storylab.io import RECIPE_FILE, write_json


def trainer_defaults(model_params: ModelParams, seed: int) -> dict:
    """Keyword arguments every TRL config here gets (TRL defaults to bf16 + gradient checkpointing)."""
    on_gpu = torch.cuda.is_available()
    return {"seed": seed, "data_seed": seed, "full_determinism": False,
            "bf16": on_gpu and model_params.dtype == "bfloat16", "fp16": False,
            "gradient_checkpointing": False, "save_strategy": "no", "report_to": "none",
            "dataloader_num_workers": 0, "disable_tqdm": True, "logging_first_step": True}


def dvclive_callback(directory: str, resume: bool = False):
    """Curves under `directory` (declared in dvc.yaml, so `dvc plots show` finds them)."""
    from dvclive import Live
    from transformers.integrations import DVCLiveCallback

    os.environ.setdefault("DVCLIVE_LOGLEVEL", "WARNING")
    return DVCLiveCallback(live=Live(directory, resume=resume, save_dvc_exp=False, dvcyaml=None))


def save_model(model_or_trainer, tokenizer, out_dir: str, recipe: list[dict]) -> None:
    """HF format (safetensors; a LoRA run saves its adapter, which from_pretrained loads over the base) and the
    recipe, which evaluation copies into its metrics so the report knows how each model was made."""
    save = getattr(model_or_trainer, "save_model", None) or model_or_trainer.save_pretrained
    save(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_json(Path(out_dir, RECIPE_FILE), recipe)


class ModelLossSFTTrainer(SFTTrainer):
    """TRL's SFTTrainer with the model's own loss: on CPU, TRL's chunked LM-head kernel scores every position
    tile by tile and recomputes the logits in backward (~40% of a step for the tiny model, `make bench`); the
    loss, labels and masking are the same, only the entropy/token-accuracy log lines are dropped."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)


def sft_trainer_class() -> type[SFTTrainer]:
    return SFTTrainer if torch.cuda.is_available() else ModelLossSFTTrainer


def sft_config(out_dir: str, params: TrainSFTParams, model_params: ModelParams, **overrides) -> SFTConfig:
    """The SFT stage's TRL config, also what `make bench` times: loss on completions only (a QA pair's answer;
    completion_only_loss false: question and answer), no packing (padding-free packing flattens a batch into one
    sequence whose block-diagonal attention is 5x slower on CPU; wrapped packing lets QA attend to other stories).

    Batches: transformers' `batch_rebalance` sampler draws each optimizer step's per_device_train_batch_size x
    gradient_accumulation_steps examples at random, so every update mixes stories and QA, then splits them into
    gradient_accumulation_steps micro-batches of similar length, so ~13-token QA pairs are not padded to story
    length. Mixing per update is what makes extraction generalise: `group_by_length` (same cost per epoch) gave
    runs of ~40 QA-only updates and stalled at 0.62 held-out EM where this reaches 0.9 in the same time (README)."""
    training = {**params.model_dump(exclude={"seed", "mix_qa"}), **overrides}
    return SFTConfig(output_dir=out_dir, packing=False,
                     train_sampling_strategy="batch_rebalance", **training, **trainer_defaults(model_params, params.seed))
