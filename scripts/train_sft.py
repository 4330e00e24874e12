"""Supervised fine-tuning (TRL SFTTrainer): the loss on every token of the task's documents (story_qa's stories)
and on the answer tokens of its train records.

    python scripts/train_sft.py --task story_qa --data_dir data/story_qa/qa --out_dir models/story_qa/sft \
        --live_dir dvclive/story_qa/train_sft

mix_qa true trains on documents and records shuffled together (mixed training); false on the documents first,
then the records. completion_only_loss false also trains on the question tokens. select_every > 0 evaluates on
the validation split every that many steps (select_metric: its loss, or the greedy score of the task's check)
and keeps the best checkpoint, stopping after select_patience evaluations without a gain. max_steps 0 saves
the starting model untrained: the base-model baseline of the variants pipeline.
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

from pathlib import Path

from datasets import Dataset
from dvclive import Live

from storylab.checkpoints import checkpoint_dir, finish_checkpoints, process_state, resume_point, run_fingerprint
from storylab.cli import stage_parser, stage_params
from storylab.errors import StorylabError, run
from storylab.io import check_outputs
from storylab.generation import check_length, generate_answers
from storylab.modeling import check_model_source, initial_model, lora_config
from storylab.prompts import prompts_for, sft_records
from storylab.tasks.base import load_documents, load_split
from storylab.training import (StorylabSFTTrainer, callbacks, check_prompt_lengths, early_stopping, save_model,
                               selection_settings, sft_config, sft_phases, with_progress)


def validation_scorer(task, records: list[dict], tokenizer, model_params, batch_size: int = 64):
    """model -> {"score": greedy mean of the task's check on the validation records}."""
    prompts = prompts_for(tokenizer, records, model_params)
    max_new_tokens = max(len(tokenizer(r["answer"])["input_ids"]) for r in records) + 8

    def score(model) -> dict[str, float]:
        answers = generate_answers(model, tokenizer, prompts, batch_size, max_new_tokens)
        model.train()
        return {"score": sum(task.check(a, r["answer"], r) for a, r in zip(answers, records)) / len(records)}

    return score


def train(model, tokenizer, phases: list[Dataset], configs: list, peft_config, live_dir: str, resume: str | None,
          **selection):
    """One trainer per phase on the same model, each with its config; the last phase checkpoints (and resumes from
    `resume`) and selects, if asked to. The curves of all phases go to one DVCLive dir. Returns the last trainer and
    the optimizer steps of all phases."""
    trainer, steps = None, 0
    for index, (dataset, config) in enumerate(zip(phases, configs)):
        last = {} if index < len(phases) - 1 else {**selection, "resume": resume}
        trainer = with_progress(StorylabSFTTrainer(
            model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
            peft_config=peft_config if index == 0 else None,
            callbacks=[*callbacks(live_dir, resume=index > 0 or bool(resume)), *last.get("callbacks", [])],
            eval_dataset=last.get("eval_dataset"), validation_score=last.get("validation_score")))
        trainer.train(resume_from_checkpoint=last.get("resume"))
        model, steps = trainer.model, steps + trainer.state.global_step
    return trainer, steps


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--data_dir", required=True, help="what build_qa wrote")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--live_dir", required=True)
    args = parser.parse_args()
    task, params = stage_params(args, "model", "train_sft")
    sft = params.train_sft
    check_model_source(params.model)
    check_outputs(dirs=[args.out_dir, args.live_dir, str(checkpoint_dir(args.out_dir))])
    if sft.select_every and "validation" not in task.splits:
        raise StorylabError(f"{args.params}: train_sft.select_every (task {task.name}): the task has no validation "
                            "split to select on; set select_every: 0")
    documents = load_documents(args.data_dir)
    records = load_split(task, "train", args.data_dir)

    corpus = [d["text"] for d in documents] + [r["question"] + " " + r["answer"] for r in records]
    model, tokenizer = initial_model(params.model, sft.seed, corpus=corpus)
    check_length(model, sft.max_length, f"{args.params}: train_sft.max_length")
    check_prompt_lengths(tokenizer, records, params.model, sft.max_length)
    phases = sft_phases(tokenizer, documents, records, params.model, sft.mix_qa, sft.max_length)
    if sft.max_steps == 0:
        save_model(model, tokenizer, args.out_dir, recipe=[])
        if process_state().is_main_process:
            Live(args.live_dir, save_dvc_exp=False, dvcyaml=None).end()  # an empty curves dir: nothing trained
        return f"max_steps 0: the untrained starting model -> {args.out_dir}"
    selection, settings = {}, {}
    if sft.select_every:
        validation = load_split(task, "validation", args.data_dir)
        selection["eval_dataset"] = Dataset.from_list(sft_records(tokenizer, validation, params.model, sft.max_length))
        if sft.select_metric == "loss":
            settings = selection_settings(sft, "eval_loss", greater_is_better=False)
        else:
            selection["validation_score"] = validation_scorer(task, validation, tokenizer, params.model)
            settings = selection_settings(sft, "eval_score", greater_is_better=True)
        selection["callbacks"] = early_stopping(sft)
    configs = [sft_config(args.out_dir, sft, params.model, save_strategy="no")] * (len(phases) - 1)
    configs.append(sft_config(args.out_dir, sft, params.model, **settings))
    resume = resume_point(args.out_dir, run_fingerprint(params, [args.data_dir]))
    trainer, steps = train(model, tokenizer, phases, configs, lora_config(params.model), args.live_dir, resume,
                           **selection)
    best = trainer.state.best_global_step if sft.select_every else None
    recipe = [{"stage": "sft", "steps": steps, "train_format": params.model.prompt_format,
               "qa_loss": "answer" if sft.completion_only_loss else "question+answer", "mix_qa": sft.mix_qa,
               **({"selected_step": best, "selected_by": f"validation {sft.select_metric}",
                   "selected_value": trainer.state.best_metric} if best else {})}]
    save_model(trainer, tokenizer, args.out_dir, recipe)
    finish_checkpoints(trainer, args.out_dir, keep=True)  # the control run continues from it
    resumed = f", resumed at step {Path(resume).name.split('-')[-1]}" if resume else ""
    picked = f", best validation {sft.select_metric} at step {best}" if best else ""
    return (f"{task.name}: SFT on {len(documents)} documents + {len(records)} records, {steps} steps{resumed}{picked} "
            f"-> {args.out_dir}")


if __name__ == "__main__":
    run(main)
