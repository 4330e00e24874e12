"""Reinforcement learning / preference optimisation from the SFT model (TRL GRPOTrainer or DPOTrainer).

    python scripts/train_rl.py --params params.yaml --sft_dir models/sft --qa_dir data/qa \
        --out_dir models/rl --live_dir dvclive/train_rl --metrics metrics/train_rl.json

grpo: train-split questions, rewards from storylab.scoring.REWARD_FUNCS (the scorer evaluation uses).
dpo: build_qa's train preference pairs against the frozen SFT model; held-out pairs give the preference
accuracy and reward margins. none: the SFT model unchanged (copied), so the rl model always exists.
The metrics JSON says what the method saw (GRPO: reward and zero-variance groups; DPO: held-out preferences);
each method returns (trainer, tokenizer, that summary), and the saved model's recipe carries it too.
"""
from __future__ import annotations

import argparse
import shutil

from datasets import Dataset

from storylab.config import add_params_arguments, load_section, overrides_from
from storylab.errors import run
from storylab.io import read_jsonl, read_recipe, write_json
from storylab.modeling import load_pretrained
from storylab.prompts import format_completion, format_prompt, qa_records
from storylab.scoring import METRIC_VERSION, REWARD_FUNCS
from storylab.training import dvclive_callback, save_model, trainer_defaults


def keep_sft(params, model_params, sft_dir: str, qa_dir: str, out_dir: str, live_dir: str):
    """The SFT model, copied, so downstream stages always find an rl model; the curves dir records why."""
    from dvclive import Live

    shutil.rmtree(out_dir, ignore_errors=True)
    shutil.copytree(sft_dir, out_dir)
    with Live(live_dir, save_dvc_exp=False, dvcyaml=None) as live:
        live.summary["method"] = "none"
    return None, None, {}


def train_grpo(params, model_params, sft_dir: str, qa_dir: str, out_dir: str, live_dir: str):
    from trl import GRPOConfig, GRPOTrainer

    grpo = params.grpo
    qa = read_jsonl(f"{qa_dir}/train.jsonl", required=("question", "answer"))
    model, tokenizer = load_pretrained(sft_dir, model_params, trainable_adapter=True)
    config = GRPOConfig(output_dir=out_dir, max_steps=params.max_steps, learning_rate=params.learning_rate,
                        per_device_train_batch_size=params.per_device_train_batch_size,
                        num_generations=grpo.num_generations, max_completion_length=grpo.max_completion_length,
                        temperature=grpo.temperature, beta=grpo.beta, logging_steps=params.logging_steps,
                        **trainer_defaults(model_params, params.seed))
    # One row per train question: the prompt, and `answer`, which TRL passes to the rewards.
    dataset = Dataset.from_list(qa_records(tokenizer, qa, model_params, with_answer=False))
    trainer = GRPOTrainer(model=model, reward_funcs=[REWARD_FUNCS[name] for name in grpo.rewards], args=config,
                          train_dataset=dataset, processing_class=tokenizer, callbacks=[dvclive_callback(live_dir)])
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "reward" in entry]
    # A group whose completions all score the same has zero advantage: it teaches nothing.
    return trainer, tokenizer, {"mean_reward": sum(e["reward"] for e in logs) / len(logs),
                                "mean_frac_reward_zero_std": sum(e["frac_reward_zero_std"] for e in logs) / len(logs)}


def preference_dataset(pairs: list[dict], tokenizer, model_params) -> Dataset:
    """TRL's preference format, prompted exactly like evaluation."""
    form = model_params.prompt_format
    return Dataset.from_list([{"prompt": format_prompt(tokenizer, p["question"], form, model_params.chat_template_kwargs),
                               "chosen": format_completion(p["chosen"], form),
                               "rejected": format_completion(p["rejected"], form)} for p in pairs])


def train_dpo(params, model_params, sft_dir: str, qa_dir: str, out_dir: str, live_dir: str):
    from trl import DPOConfig, DPOTrainer

    required = ("question", "chosen", "rejected")
    pairs = {split: read_jsonl(f"{qa_dir}/preferences_{split}.jsonl", required=required) for split in ("train", "test")}
    model, tokenizer = load_pretrained(sft_dir, model_params, trainable_adapter=True)
    datasets = {split: preference_dataset(split_pairs, tokenizer, model_params) for split, split_pairs in pairs.items()}
    config = DPOConfig(output_dir=out_dir, max_steps=params.max_steps, learning_rate=params.learning_rate,
                       per_device_train_batch_size=params.per_device_train_batch_size,
                       per_device_eval_batch_size=params.per_device_train_batch_size,
                       beta=params.dpo.beta, label_smoothing=params.dpo.label_smoothing,
                       logging_steps=params.logging_steps, **trainer_defaults(model_params, params.seed))
    # No ref_model: TRL keeps a frozen copy of the starting (SFT) model, or disables the LoRA adapter.
    trainer = DPOTrainer(model=model, args=config, train_dataset=datasets["train"], eval_dataset=datasets["test"],
                         processing_class=tokenizer, callbacks=[dvclive_callback(live_dir)])
    trainer.train()
    trainer.evaluate()
    heldout = trainer.state.log_history[-1]  # DPOTrainer logs its reward metrics rather than returning them
    return trainer, tokenizer, {"heldout_pairs": len(pairs["test"]), "heldout_loss": heldout["eval_loss"],
            "heldout_preference_accuracy": heldout["eval_rewards/accuracies"],
            "heldout_reward_margin": heldout["eval_rewards/margins"],
            "heldout_reward_chosen": heldout["eval_rewards/chosen"],
            "heldout_reward_rejected": heldout["eval_rewards/rejected"]}


METHODS = {"none": keep_sft, "grpo": train_grpo, "dpo": train_dpo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(parser)
    parser.add_argument("--sft_dir", required=True)
    parser.add_argument("--qa_dir", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--live_dir", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    overrides = overrides_from(args)
    model_params = load_section("model", args.params, overrides)
    params = load_section("train_rl", args.params, overrides)

    trainer, tokenizer, summary = METHODS[params.method](params, model_params, args.sft_dir, args.qa_dir,
                                                          args.out_dir, args.live_dir)
    if trainer is not None:  # the recipe carries the summary, so the report needs only the eval metrics
        stage = {"stage": params.method, "steps": trainer.state.global_step,
                 "train_format": model_params.prompt_format, **summary}
        save_model(trainer, tokenizer, args.out_dir, read_recipe(args.sft_dir) + [stage])
    write_json(args.metrics, {"metric_version": METRIC_VERSION, "method": params.method, **summary})
    print(f"RL method {params.method!r} from {args.sft_dir} -> {args.out_dir}: {summary}")


if __name__ == "__main__":
    run(main)
