"""Throughput, measured side by side in one run on the same model and inputs; prints ratios.

    python scripts/bench.py --task story_qa --model_dir models/story_qa/sft --data_dir data/story_qa/qa \
        [--questions 256] [--steps 60]

1. Evaluation: batched greedy generation (left padding, KV cache) vs one question at a time.
2. Training: TRL SFTTrainer tokens/s vs a plain PyTorch loop over the same model init, batches
   (the trainer's own dataloader, its micro-batches accumulated the same way) and optimizer settings
   (AdamW, gradient clipping at max_grad_norm).
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

import argparse
import time

import torch
from transformers import TrainerCallback

from storylab.cli import stage_parser, stage_params
from storylab.errors import run
from storylab.generation import generate_answers
from storylab.modeling import build_tiny_model, load_pretrained
from storylab.prompts import prompts_for
from storylab.tasks.base import load_documents, load_split
from storylab.training import StorylabSFTTrainer, sft_config, sft_phases


def bench_generation(model, tokenizer, prompts, batch_size, max_new_tokens) -> dict:
    """Both timed warm: the first generate call pays one-off costs (kernel selection, allocations)."""
    generate_answers(model, tokenizer, prompts[:batch_size], batch_size, max_new_tokens)
    timings = {}
    for name, size in (("batched", batch_size), ("one_at_a_time", 1)):
        start = time.perf_counter()
        answers = generate_answers(model, tokenizer, prompts, size, max_new_tokens)
        timings[name] = (time.perf_counter() - start, answers)
    same = timings["batched"][1] == timings["one_at_a_time"][1]
    rates = {name: len(prompts) / seconds for name, (seconds, _) in timings.items()}
    return {**rates, "ratio": rates["batched"] / rates["one_at_a_time"], "same_answers": same}


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times = []

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter())


def bench_training(model_params, sft, tokenizer, documents, records, steps: int, warmup: int) -> dict:
    """The trainer's own dataloader feeds both (collation timed in both), so batches, padding and tokens are
    identical."""
    dataset = sft_phases(tokenizer, documents, records, model_params, mix=True, max_length=sft.max_length)[0]
    config = sft_config("/tmp/storylab-bench", sft, model_params, max_steps=warmup + steps, logging_steps=10_000)
    timer = StepTimer()
    trainer = StorylabSFTTrainer(model=build_tiny_model(model_params, tokenizer, seed=0), args=config,
                                 train_dataset=dataset, processing_class=tokenizer, callbacks=[timer])
    trainer.train()
    trainer_seconds = timer.times[-1] - timer.times[warmup - 1]

    model = build_tiny_model(model_params, tokenizer, seed=0)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=sft.learning_rate, weight_decay=sft.weight_decay)
    batches = iter(trainer.get_train_dataloader())
    tokens = 0
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        # One optimizer step = gradient_accumulation_steps micro-batches, each loss weighted by its share of
        # the step's answer tokens: the trainer's num_items_in_batch normalisation.
        micro = [next(batches) for _ in range(config.gradient_accumulation_steps)]
        counts = [int((batch["labels"] != -100).sum()) for batch in micro]
        if step >= warmup:
            tokens += sum(counts)
        for batch, count in zip(micro, counts):
            loss = model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"),
                         labels=batch["labels"]).loss
            (loss * count / sum(counts)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)  # as the trainer does
        optimizer.step()
        optimizer.zero_grad()
    plain_seconds = time.perf_counter() - start
    rates = {"trainer": tokens / trainer_seconds, "plain_loop": tokens / plain_seconds}
    return {**rates, "ratio": rates["trainer"] / rates["plain_loop"]}


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--questions", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    task, params = stage_params(args, "model", "train_sft", "eval")
    records = load_split(task, task.heldout_split, args.data_dir)[:args.questions]
    model, tokenizer = load_pretrained(args.model_dir, params.model)
    prompts = prompts_for(tokenizer, records, params.model)

    batch_size, max_new_tokens = params.eval.batch_size, params.eval.max_new_tokens
    gen = bench_generation(model, tokenizer, prompts, batch_size, max_new_tokens)
    print(f"generation, {len(prompts)} questions: batched (batch {batch_size}) {gen['batched']:.1f} q/s, "
          f"one at a time {gen['one_at_a_time']:.1f} q/s -> {gen['ratio']:.1f}x "
          f"(identical answers: {gen['same_answers']})")
    train = bench_training(params.model, params.train_sft, tokenizer, load_documents(args.data_dir),
                           load_split(task, "train", args.data_dir), args.steps, warmup=5)
    print(f"training, {args.steps} steps: SFTTrainer {train['trainer']:.0f} tok/s, plain PyTorch loop "
          f"{train['plain_loop']:.0f} tok/s -> trainer/plain = {train['ratio']:.2f}x")
    return f"{task.name}: generation {gen['ratio']:.1f}x, trainer/plain {train['ratio']:.2f}x"


if __name__ == "__main__":
    run(main)
