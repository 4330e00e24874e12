"""Supervised fine-tuning (TRL SFTTrainer): LM loss on every story token and on the answers of train QA.

    python scripts/train_sft.py --params params.yaml --stories data/stories/stories.jsonl \
        --qa_train data/qa/train.jsonl --out_dir models/sft --live_dir dvclive/train_sft

mix_qa: true trains on stories and QA shuffled together (mixed training); false trains on the
stories first and on the QA afterwards (pretrain, then fine-tune), the same exposures either way.
completion_only_loss false also trains on the question tokens. max_steps 0 saves the starting model
untrained: the base-model baseline of the variants pipeline.
"""
from __future__ import annotations

import argparse

from datasets import Dataset, concatenate_datasets
from dvclive import Live
from trl import SFTConfig

from storylab.config import add_params_arguments, load_section, overrides_from
from storylab.errors import run
from storylab.io import read_jsonl
from storylab.modeling import check_model_source, initial_model, lora_config
from storylab.prompts import qa_records, story_records
from storylab.training import dvclive_callback, save_model, sft_config, sft_trainer_class


def train(model, tokenizer, phases: list[Dataset], config: SFTConfig, peft_config, live_dir: str):
    """One SFTTrainer per phase on the same model; the curves of all phases go to one DVCLive dir.
    Returns the last trainer and the optimizer steps of all phases."""
    trainer, steps = None, 0
    for index, dataset in enumerate(phases):
        trainer = sft_trainer_class()(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                                      peft_config=peft_config if index == 0 else None,
                                      callbacks=[dvclive_callback(live_dir, resume=index > 0)])
        trainer.train()
        model, steps = trainer.model, steps + trainer.state.global_step
    return trainer, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(parser)
    parser.add_argument("--stories", required=True)
    parser.add_argument("--qa_train", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--live_dir", required=True)
    args = parser.parse_args()
    overrides = overrides_from(args)
    model_params = load_section("model", args.params, overrides)
    params = load_section("train_sft", args.params, overrides)
    check_model_source(model_params)
    stories = read_jsonl(args.stories, required=("text",))
    qa = read_jsonl(args.qa_train, required=("question", "answer"))

    corpus = [s["text"] for s in stories] + [p["question"] + " " + p["answer"] for p in qa]
    model, tokenizer = initial_model(model_params, corpus, params.seed)
    # Completion-only loss: every story token, only the answer tokens of a QA pair.
    story_ds = Dataset.from_list(story_records(stories))
    qa_ds = Dataset.from_list(qa_records(tokenizer, qa, model_params))
    phases = [concatenate_datasets([story_ds, qa_ds])] if params.mix_qa else [story_ds, qa_ds]
    if params.max_steps == 0:
        save_model(model, tokenizer, args.out_dir, recipe=[])
        Live(args.live_dir, save_dvc_exp=False, dvcyaml=None).end()  # an empty curves dir: nothing trained
        print(f"max_steps 0: the untrained starting model -> {args.out_dir}")
        return
    config = sft_config(args.out_dir, params, model_params)
    trainer, steps = train(model, tokenizer, phases, config, lora_config(model_params), args.live_dir)
    recipe = [{"stage": "sft", "steps": steps, "train_format": model_params.prompt_format,
               "qa_loss": "answer" if params.completion_only_loss else "question+answer", "mix_qa": params.mix_qa}]
    save_model(trainer, tokenizer, args.out_dir, recipe)
    print(f"SFT on {len(story_ds)} stories + {len(qa_ds)} QA pairs "
          f"({'mixed' if params.mix_qa else 'stories, then QA'}) -> {args.out_dir}")


if __name__ == "__main__":
    run(main)
