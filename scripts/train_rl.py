"""Reinforcement learning from the SFT model on train-split QA (TRL GRPOTrainer).

    python scripts/train_rl.py --params params.yaml --sft_dir models/sft --qa_train data/qa/train.jsonl \
        --out_dir models/rl --live_dir dvclive/train_rl

Rewards come from storylab.scoring.REWARD_FUNCS, the same scorer that evaluation uses.
method: none keeps the SFT model unchanged (copied), so the rl model always exists downstream.
"""
from __future__ import annotations

import argparse
import shutil

from datasets import Dataset

from storylab.config import load_section
from storylab.errors import run
from storylab.io import read_jsonl
from storylab.modeling import load_pretrained
from storylab.prompts import qa_records
from storylab.scoring import REWARD_FUNCS
from storylab.training import dvclive_callback, save_model, trainer_defaults


def rl_dataset(qa: list[dict], tokenizer, model_params) -> Dataset:
    """One row per train question: the formatted prompt, and `answer`, which TRL passes to the rewards."""
    return Dataset.from_list(qa_records(tokenizer, qa, model_params, with_answer=False))


def keep_sft(params, model_params, sft_dir: str, qa: list[dict], out_dir: str, live_dir: str) -> None:
    shutil.rmtree(out_dir, ignore_errors=True)
    shutil.copytree(sft_dir, out_dir)


def train_grpo(params, model_params, sft_dir: str, qa: list[dict], out_dir: str, live_dir: str) -> None:
    from trl import GRPOConfig, GRPOTrainer

    model, tokenizer = load_pretrained(sft_dir, model_params, trainable_adapter=True)
    config = GRPOConfig(output_dir=out_dir, max_steps=params.max_steps, learning_rate=params.learning_rate,
                        per_device_train_batch_size=params.per_device_train_batch_size,
                        num_generations=params.num_generations, max_completion_length=params.max_completion_length,
                        temperature=params.temperature, beta=params.beta, logging_steps=params.logging_steps,
                        **trainer_defaults(model_params, params.seed))
    trainer = GRPOTrainer(model=model, reward_funcs=[REWARD_FUNCS[name] for name in params.rewards], args=config,
                          train_dataset=rl_dataset(qa, tokenizer, model_params), processing_class=tokenizer,
                          callbacks=[dvclive_callback(live_dir)])
    trainer.train()
    save_model(trainer, tokenizer, out_dir)


METHODS = {"none": keep_sft, "grpo": train_grpo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--sft_dir", required=True)
    parser.add_argument("--qa_train", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--live_dir", required=True)
    args = parser.parse_args()
    model_params = load_section("model", args.params)
    params = load_section("train_rl", args.params)
    qa = read_jsonl(args.qa_train, required=("question", "answer"))

    METHODS[params.method](params, model_params, args.sft_dir, qa, args.out_dir, args.live_dir)
    print(f"RL method {params.method!r} from {args.sft_dir} -> {args.out_dir}")


if __name__ == "__main__":
    run(main)
