"""Trainer settings shared by the SFT and RL stages: CPU-safe defaults, determinism, DVCLive curves, the SFT
data and model selection on the validation split."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch
from datasets import Dataset, concatenate_datasets
from transformers import EarlyStoppingCallback, Trainer
from trl import SFTConfig, SFTTrainer

from storylab.config.schema import ModelParams, TrainSFTParams
from storylab.io import RECIPE_FILE, write_json
from storylab.prompts import document_records, sft_records


def checkpoint_dir(out_dir: str) -> Path:
    """Where a stage writing `out_dir` keeps its checkpoints: under an ignored `.checkpoints/` outside every DVC
    output (models/word_math/sft -> .checkpoints/models/word_math/sft; an absolute out_dir keeps its full path)."""
    return Path(".checkpoints", *Path(out_dir).parts[Path(out_dir).is_absolute():])


def trainer_defaults(model_params: ModelParams, seed: int) -> dict:
    """Keyword arguments every TRL config here gets (TRL defaults to bf16 + gradient checkpointing)."""
    on_gpu = torch.cuda.is_available()
    return {"seed": seed, "data_seed": seed, "full_determinism": False,
            "bf16": on_gpu and model_params.dtype == "bfloat16", "fp16": False,
            "activation_checkpointing": False, "save_strategy": "no", "report_to": "none",
            "dataloader_num_workers": 0, "dataloader_pin_memory": on_gpu, "disable_tqdm": True,
            "logging_first_step": True}


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


def sft_phases(tokenizer, documents: list[dict], train: list[dict], model_params: ModelParams,
               mix: bool) -> list[Dataset]:
    """The SFT data: documents with the loss on every token, train records with it on the answer (TRL's
    completion-only loss). mix: one phase with both shuffled together; else documents, then records."""
    records = Dataset.from_list(sft_records(tokenizer, train, model_params))
    if not documents:
        return [records]
    docs = Dataset.from_list(document_records(documents))
    return [concatenate_datasets([docs, records])] if mix else [docs, records]


class StorylabSFTTrainer(SFTTrainer):
    """TRL's SFTTrainer with two changes.

    On CPU it uses the model's own loss: TRL's chunked LM-head kernel scores every position tile by tile and
    recomputes the logits in backward (~40% of a step for the tiny model, `make bench`); the loss, labels and
    masking are the same, only the entropy/token-accuracy log lines are dropped.

    With `validation_score` (model -> {metric: value}), evaluation is that score, a greedy generation on the
    validation split, instead of the loss on the eval dataset, so transformers' own best-checkpoint and
    early-stopping machinery selects on what the task measures."""

    def __init__(self, *args, validation_score: Callable | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.validation_score = validation_score

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.args.device.type == "cpu":
            return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        if self.validation_score is None:
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        metrics = {f"{metric_key_prefix}_{name}": value for name, value in self.validation_score(self.model).items()}
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def sft_config(out_dir: str, params: TrainSFTParams, model_params: ModelParams, **overrides) -> SFTConfig:
    """The SFT stage's TRL config, also what `make bench` times: loss on completions only (a QA pair's answer;
    completion_only_loss false: question and answer), no packing (padding-free packing flattens a batch into one
    sequence whose block-diagonal attention is 5x slower on CPU; wrapped packing lets QA attend to other stories).

    Batches: transformers' `batch_rebalance` sampler draws each optimizer step's per_device_train_batch_size x
    gradient_accumulation_steps examples at random, so every update mixes stories and QA, then splits them into
    gradient_accumulation_steps micro-batches of similar length, so ~13-token QA pairs are not padded to story
    length. Mixing per update is what makes extraction generalise: `group_by_length` (same cost per epoch) gave
    runs of ~40 QA-only updates and stalled at 0.62 held-out EM where this reaches 0.9 in the same time (docs)."""
    training = {**params.model_dump(exclude={"seed", "mix_qa", "select_every", "select_patience", "select_metric"}),
                **overrides}
    return SFTConfig(output_dir=out_dir, packing=False, train_sampling_strategy="batch_rebalance",
                     **{**trainer_defaults(model_params, params.seed), **training})


def selection_settings(params: TrainSFTParams, metric: str, greater_is_better: bool) -> dict:
    """SFTConfig keywords that evaluate every select_every steps and end on the best checkpoint."""
    if not params.select_every:
        return {}
    return {"eval_strategy": "steps", "eval_steps": params.select_every, "save_strategy": "steps",
            "save_steps": params.select_every, "save_total_limit": 2, "load_best_model_at_end": True,
            "metric_for_best_model": metric, "greater_is_better": greater_is_better}


def early_stopping(params: TrainSFTParams) -> list:
    return [EarlyStoppingCallback(params.select_patience)] if params.select_every and params.select_patience else []
