"""Trainer settings shared by the SFT and RL stages: CPU-safe defaults, determinism, DVCLive curves, saving a model
with its card, the SFT data and model selection on the validation split (checkpoints: storylab/checkpoints.py)."""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from datasets import Dataset, concatenate_datasets
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback
from transformers.trainer_pt_utils import BatchRebalanceSampler
from trl import SFTConfig, SFTTrainer

from storylab.checkpoints import checkpoint_settings, process_state
from storylab.config.schema import ModelParams, TrainSFTParams
from storylab.device import enable_fast_matmul, mixed_precision, on_gpu
from storylab.errors import StorylabError
from storylab.io import RECIPE_FILE, write_json
from storylab.modeling import save_tokenizer
from storylab.prompts import document_records, prompts_for, sft_records


def trainer_defaults(model_params: ModelParams, seed: int) -> dict:
    """Keyword arguments every TRL config here gets (TRL defaults to bf16 + gradient checkpointing; here both follow
    params: mixed precision from model.dtype on a GPU, checkpointing from model.gradient_checkpointing). In a terminal
    the trainer shows its tqdm bar (elapsed and remaining time); elsewhere ProgressLines prints a line per log."""
    gpu = on_gpu()
    if not gpu:  # several `accelerate launch` processes then join one DDP group over gloo (configs/accelerate/
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")  # ddp_cpu.yaml), not separate single-process runs
    enable_fast_matmul()
    return {"seed": seed, "data_seed": seed, "full_determinism": False, **mixed_precision(model_params.dtype),
            "activation_checkpointing": model_params.gradient_checkpointing, "save_strategy": "no",
            "report_to": "none", "dataloader_num_workers": 0, "dataloader_pin_memory": gpu,
            "disable_tqdm": not sys.stderr.isatty(), "logging_first_step": True}


class ProgressLines(TrainerCallback):
    """One line per logging step where there is no terminal for a progress bar: step, share done, elapsed and
    remaining time, and the logged loss / reward / eval score (instead of transformers' raw log dicts)."""

    SHOWN = ("loss", "reward", "eval_score", "eval_loss", "learning_rate")

    def __init__(self):
        self.start = self.first_step = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.start, self.first_step = time.perf_counter(), state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or state.max_steps <= 0 or "train_runtime" in logs:
            return
        elapsed = time.perf_counter() - self.start
        done = state.global_step - self.first_step
        remaining = elapsed / done * (state.max_steps - state.global_step) if done else float("nan")
        values = "  ".join(f"{name} {float(logs[name]):.4g}" for name in self.SHOWN if name in logs)
        print(f"step {state.global_step}/{state.max_steps} ({state.global_step / state.max_steps:.0%})  "
              f"elapsed {_clock(elapsed)}  remaining {_clock(remaining)}  {values}", file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    return "?" if seconds != seconds else f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def callbacks(live_dir: str, resume: bool = False) -> list:
    """Every trainer's callbacks: DVCLive curves under live_dir (declared in dvc.yaml, so `dvc plots show` finds
    them) and, where stderr is no terminal, ProgressLines; on the main process only."""
    from dvclive import Live
    from transformers.integrations import DVCLiveCallback

    if not process_state().is_main_process:
        return []
    os.environ.setdefault("DVCLIVE_LOGLEVEL", "WARNING")
    live = DVCLiveCallback(live=Live(live_dir, resume=resume, save_dvc_exp=False, dvcyaml=None))
    return [live] if sys.stderr.isatty() else [live, ProgressLines()]


def with_progress(trainer):
    """The trainer, with ProgressLines in place of transformers' PrinterCallback (which prints every raw log dict)
    where there is no terminal."""
    from transformers.trainer_callback import PrinterCallback

    if any(isinstance(callback, ProgressLines) for callback in trainer.callback_handler.callbacks):
        trainer.remove_callback(PrinterCallback)
    return trainer


def save_model(model_or_trainer, tokenizer, out_dir: str, recipe: list[dict]) -> None:
    """HF format (safetensors; a LoRA run saves its adapter, which from_pretrained loads over the base) and the
    recipe, which evaluation copies into its metrics so the report knows how each model was made."""
    is_trainer = hasattr(model_or_trainer, "save_model")
    if is_trainer:
        model_or_trainer.save_model(out_dir)  # every process: a sharded model is gathered, rank 0 writes
    if not process_state().is_main_process:
        return
    if not is_trainer:
        model_or_trainer.save_pretrained(out_dir)
    save_tokenizer(tokenizer, out_dir)
    write_json(Path(out_dir, RECIPE_FILE), recipe)
    write_model_card(out_dir, recipe)


def write_model_card(out_dir: str, recipe: list[dict]) -> None:
    """README.md in the model dir (replacing PEFT's template card): Hub metadata (library, base model, tags), the
    architecture, and the recipe with the numbers each stage recorded. Made from the dir alone, so it is the same on
    every run."""
    from huggingface_hub import ModelCard, ModelCardData

    folder = Path(out_dir)
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    adapter = folder / "adapter_config.json"
    base = json.loads(adapter.read_text())["base_model_name_or_path"] if adapter.is_file() else None
    if base and not config:
        config = json.loads(Path(base, "config.json").read_text()) if Path(base, "config.json").is_file() else {}
    data = ModelCardData(library_name="peft" if base else "transformers", base_model=base,
                         pipeline_tag="text-generation", tags=["storylab", *(stage["stage"] for stage in recipe)])
    shape = ", ".join(f"{key} {config[key]}" for key in ("model_type", "hidden_size", "num_hidden_layers", "n_layer",
                                                          "vocab_size") if key in config)
    weights = f"LoRA adapters on `{base}` (load with PEFT, or merge: `scripts/merge_lora.py`)" if base else \
        "full weights (safetensors)"
    rows = [f"| {i} | {stage['stage']} | " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                        for k, v in stage.items() if k != "stage") + " |"
            for i, stage in enumerate(recipe, 1)]
    text = "\n".join([
        f"---\n{data.to_yaml()}\n---", f"# {folder.as_posix()}", "",
        f"Trained by storylab: {shape or 'architecture in config.json'}; {weights}.", "",
        "## Recipe", "", "| # | stage | what it recorded |", "|---|---|---|", *(rows or ["| - | untuned | - |"]), "",
        "Evaluation metrics: `metrics/<task>/eval/<model>.json` (`dvc metrics show`); rerun with `dvc repro`.", ""])
    ModelCard(text).save(folder / "README.md")


def sft_phases(tokenizer, documents: list[dict], train: list[dict], model_params: ModelParams,
               mix: bool, max_length: int) -> list[Dataset]:
    """The SFT data: documents with the loss on every token, train records with it on the answer (TRL's
    completion-only loss; an answer too long for max_length is cut at a sentence end, the end token kept). mix: one
    phase with both shuffled together; else documents, then records."""
    records = Dataset.from_list(sft_records(tokenizer, train, model_params, max_length))
    if not documents:
        return [records]
    docs = Dataset.from_list(document_records(documents))
    return [concatenate_datasets([docs, records])] if mix else [docs, records]


def check_prompt_lengths(tokenizer, records: list[dict], model_params: ModelParams, max_length: int) -> None:
    """TRL truncates an example to max_length from the right, so a prompt that fills it leaves no answer to learn
    (TRL then drops the example without a word): refuse before training."""
    prompts = prompts_for(tokenizer, records, model_params)
    longest = max(range(len(prompts)), key=lambda i: len(prompts[i]))
    tokens = len(tokenizer(prompts[longest])["input_ids"])
    if tokens >= max_length:
        raise StorylabError(f"train_sft.max_length {max_length} is below the longest prompt ({tokens} tokens, record "
                            f"{records[longest]['id']}); raise max_length")


class StorylabSFTTrainer(SFTTrainer):
    """TRL's SFTTrainer with three changes (and the data order seeded by the run's seed).

    On CPU it uses the model's own loss: TRL's chunked LM-head kernel scores every position tile by tile and
    recomputes the logits in backward (~40% of a step for the tiny model, `make bench`); the loss, labels and
    masking are the same, only the entropy/token-accuracy log lines are dropped.

    With `validation_score` (model -> {metric: value}), evaluation is that score, a greedy generation on the
    validation split, instead of the loss on the eval dataset, so transformers' own best-checkpoint and
    early-stopping machinery selects on what the task measures."""

    def __init__(self, *args, validation_score: Callable | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.validation_score = validation_score

    def _get_train_sampler(self, train_dataset=None):
        """transformers' batch_rebalance sampler shuffles with a seed of its own (42); here it is the run's data_seed
        (train_sft.seed), so the seed sets the data order too."""
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, BatchRebalanceSampler):
            sampler.seed = self.args.data_seed
        return sampler

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
    """The SFT stage's TRL config for a run writing the model dir out_dir (checkpoints: checkpoint_dir(out_dir)), also
    what `make bench` times: loss on completions only (a QA pair's answer;
    completion_only_loss false: question and answer), no packing (padding-free packing flattens a batch into one
    sequence whose block-diagonal attention is several times slower on CPU; wrapped packing lets QA attend to other stories).

    Batches: transformers' `batch_rebalance` sampler draws each optimizer step's per_device_train_batch_size x
    gradient_accumulation_steps examples at random, so every update mixes stories and QA, then splits them into
    gradient_accumulation_steps micro-batches of similar length, so ~13-token QA pairs are not padded to story
    length. Mixing per update is what makes extraction generalise: `group_by_length` (same cost per epoch) gives
    runs of QA-only updates and stalled well below it in the same time (docs/experiments.md)."""
    # The train_sft keys that are SFTConfig fields go to it by name; the others (seed, mix_qa, select_*, ...) are
    # storylab's own (model selection, checkpoints, data mixing), read by the stage scripts.
    fields = {field.name for field in dataclasses.fields(SFTConfig)}
    training = {**{key: value for key, value in params.model_dump().items() if key in fields},
                **checkpoint_settings(out_dir, params.checkpoint_every), **overrides}
    # Trained tokens (padding excluded) are counted: the RL arms are compared with the SFT control at equal compute.
    return SFTConfig(packing=False, train_sampling_strategy="batch_rebalance", include_num_input_tokens_seen="non_padding",
                     **{**trainer_defaults(model_params, params.seed), **training})


def selection_settings(params: TrainSFTParams, metric: str, greater_is_better: bool) -> dict:
    """SFTConfig keywords that evaluate (and checkpoint) every select_every steps and end on the best checkpoint."""
    if not params.select_every:
        return {}
    return {"eval_strategy": "steps", "eval_steps": params.select_every, "save_steps": params.select_every,
            "load_best_model_at_end": True, "metric_for_best_model": metric, "greater_is_better": greater_is_better}


def early_stopping(params: TrainSFTParams) -> list:
    return [EarlyStoppingCallback(params.select_patience)] if params.select_every and params.select_patience else []
