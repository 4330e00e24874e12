"""Reinforcement learning / preference optimisation from the SFT model, and its fair control.

    python scripts/train_rl.py --task word_math --run rl --sft_dir models/word_math/sft \
        --data_dir data/word_math/qa --out_dir models/word_math/rl --live_dir dvclive/word_math/train_rl \
        --metrics metrics/word_math/train_rl.json

--run rl trains with train_rl.method: grpo (TRL GRPOTrainer on the task's RL pool, rewards = the task's own checks,
the functions evaluation scores with), dpo (TRL DPOTrainer on build_qa's preference pairs against the frozen SFT
model; the held-out pairs give preference accuracy and reward margins), rft (expert iteration: sample
train_rl.rft.samples answers per pool problem, keep the distinct correct ones, SFT on them and the demonstrations),
none (the SFT model unchanged). The RL pool is the task's rl_pool.jsonl (word_math: answers only, no working), else
its train split.
--run control continues the SFT run itself from the SFT model's trainer checkpoint (same optimizer state, schedule
and data stream) for train_rl.control_steps steps (the compute of the RL run, measured once): the control RL has to
beat. --run rft is expert iteration beside the rl run; --run bound continues SFT for bound_steps on the pool's
worked solutions (rl_pool_worked.jsonl): what RL could reach with perfect demonstrations. --run base saves the model
SFT started from (the from-scratch model's initial weights, seeded by train_sft.seed, with the SFT model's tokenizer;
or the pretrained model): the untuned baseline of the report.
Every run checkpoints every train_rl.checkpoint_every steps and resumes after a kill (storylab.checkpoints). The
metrics JSON says what the run saw and cost (GRPO: rollouts, reward and zero-variance groups over the steps, the pool
screening; RFT: rollouts and samples kept; DPO: held-out preferences; each arm: tokens generated and trained on); the
saved model's recipe carries it too. The wall time is printed (and in the DVCLive curves), not recorded: metrics/
reproduces bit for bit.
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

import itertools
import shutil
import time
from pathlib import Path

from datasets import Dataset
from transformers import AutoTokenizer

from storylab.checkpoints import (CHECKPOINT_FILES, TRAINER_CHECKPOINT, checkpoint_dir, checkpoint_settings,
                                  finish_checkpoints, process_state, resume_point, run_fingerprint)
from storylab.cli import stage_parser, stage_params
from storylab.config.schema import RUN_NAMES
from storylab.device import check_vllm, kv_cache, place
from storylab.errors import StorylabError, run
from storylab.generation import check_fits, generate_completions
from storylab.io import check_outputs, read_json, read_recipe, write_json
from storylab.modeling import check_model_source, initial_model, is_adapter, load_pretrained, lora_config
from storylab.prompts import format_completion, format_prompt, prompts_for
from storylab.rewards import trl_reward
from storylab.tasks.base import load_documents, load_pool, load_preferences, load_split
from storylab.training import (StorylabSFTTrainer, callbacks, save_model, sft_config, sft_phases, trainer_defaults,
                               with_progress)


def record_untrained(live_dir: str, method: str) -> None:
    """The curves dir of a run that trains nothing, saying why (on the main process)."""
    from dvclive import Live

    if process_state().is_main_process:
        with Live(live_dir, save_dvc_exp=False, dvcyaml=None) as live:
            live.summary["method"] = method


def keep_sft(task, params, args):
    """The SFT model, copied, so downstream stages always find a model."""
    if process_state().is_main_process:
        shutil.rmtree(args.out_dir, ignore_errors=True)
        shutil.copytree(args.sft_dir, args.out_dir)
    record_untrained(args.live_dir, "none")
    return None, None, {}


def save_start(task, params, args):
    """The base model, saved, so evaluation scores it like any other: what train_sft started from (the tiny model's
    initial weights with the SFT model's tokenizer, or the pretrained model)."""
    tokenizer = AutoTokenizer.from_pretrained(args.sft_dir) if params.model.name_or_path == "tiny" else None
    model, tokenizer = initial_model(params.model, params.train_sft.seed, tokenizer=tokenizer)
    save_model(model, tokenizer, args.out_dir, recipe=[])
    record_untrained(args.live_dir, "base")
    return None, None, {}


def sample_groups(task, model, tokenizer, params, records: list[dict], samples: int, seed: int) -> list[list[dict]]:
    """`samples` completions per record at the GRPO temperature and length, each marked `correct` by the task's check
    (the reward) and `stopped` (ended on the end token)."""
    grpo = params.train_rl.grpo
    prompts = prompts_for(tokenizer, records, params.model)
    check_fits(model, tokenizer, prompts, grpo.max_completion_length, "train_rl.grpo.max_completion_length")
    # on the accelerator (expert iteration's model is loaded to train, on the CPU; GRPO's trainer has placed its own)
    groups = generate_completions(place(model), tokenizer, prompts, max(params.train_rl.sample_batch_size, samples),
                                  grpo.max_completion_length, samples, grpo.temperature, seed)
    return [[{**s, "correct": task.check(s["text"], r["answer"], r)} for s in group]
            for r, group in zip(records, groups)]


class PoolScreen:
    """The pool problems the current policy solves sometimes, not never or always, streamed to GRPO as it trains: a
    group whose completions all score the same has zero advantage and teaches nothing. TRL has no dynamic sampling
    (it spends the step on such groups), so this does it: the next grpo.filter_problems pool problems (cycling) are
    sampled filter_samples times by the model being trained, and the ones it solved 1..k-1 times are drawn in turn
    for grpo.refresh_every steps; then the next slice is screened, with the model as it is then. TRL's loader draws
    rows lazily (one generation batch ahead), so each screen sees the policy of that moment. On a resume the trainer
    replays the skipped batches through a fresh screen with the resumed model: a resumed run draws other problems
    than an uninterrupted one would."""

    def __init__(self, task, tokenizer, params, records: list[dict], rows: list[dict]):
        self.task, self.tokenizer, self.params, self.records, self.rows_of = task, tokenizer, params, records, rows
        self.model = None  # the policy, set once the trainer holds it
        self.solved: list[int] = []  # per screened problem, how many of its samples were right
        self.generated_tokens = 0

    def screen(self, start: int) -> list[int]:
        """The pool indices of the slice from `start` (cycling) that the policy solves sometimes."""
        grpo, seed = self.params.train_rl.grpo, self.params.train_rl.seed
        chunk = [i % len(self.records) for i in range(start, start + min(grpo.filter_problems, len(self.records)))]
        was_training = self.model.training
        groups = sample_groups(self.task, self.model, self.tokenizer, self.params, [self.records[i] for i in chunk],
                               grpo.filter_samples, seed + start)
        self.model.train(was_training)
        solved = [sum(s["correct"] for s in group) for group in groups]
        self.solved += solved
        self.generated_tokens += sum(s["tokens"] for group in groups for s in group)
        return [i for i, n in zip(chunk, solved) if 0 < n < grpo.filter_samples]

    def rows(self):
        rl = self.params.train_rl
        size, window = min(rl.grpo.filter_problems, len(self.records)), rl.grpo.refresh_every * rl.prompts_per_step
        for start in range(0, 1 << 62, size):
            kept = self.screen(start)
            if not kept and start + size >= len(self.records) and \
                    not any(0 < n < rl.grpo.filter_samples for n in self.solved[-len(self.records):]):
                raise StorylabError(f"train_rl.grpo: the policy solved each problem of the whole pool never or always "
                                    f"({rl.grpo.filter_samples} samples each): GRPO has no signal; lower "
                                    "filter_samples, or start from another SFT model")
            yield from (self.rows_of[i] for i in itertools.islice(itertools.cycle(kept), window))

    def summary(self) -> dict:
        k, n = self.params.train_rl.grpo.filter_samples, max(1, len(self.solved))
        return {"pool_screened": len(self.solved), "pool_kept": sum(0 < s < k for s in self.solved),
                "pool_solved_never": sum(s == 0 for s in self.solved) / n,
                "pool_solved_always": sum(s == k for s in self.solved) / n,
                "screen_generated_tokens": self.generated_tokens}


def check_pool(records: list[dict], params, what: str) -> None:
    prompts = params.train_rl.prompts_per_step
    if len(records) < prompts:
        raise StorylabError(f"{what} holds {len(records)} problems, fewer than one GRPO step's {prompts} prompts "
                            "(train_rl.per_device_train_batch_size / grpo.num_generations); grow the pool or lower "
                            "the batch")


def train_grpo(task, params, args):
    from datasets import IterableDataset
    from trl import GRPOConfig, GRPOTrainer

    rl, grpo = params.train_rl, params.train_rl.grpo
    records = load_pool(task, args.data_dir)
    check_pool(records, params, f"the RL pool of {args.data_dir}")
    model, tokenizer = load_pretrained(args.sft_dir, params.model, training=True)
    # An unscreened pool is shuffled by TRL; a screened one is streamed in pool order (build_qa drew it at random): a
    # buffered shuffle would screen a thousand rows ahead with a stale policy.
    config = GRPOConfig(max_steps=rl.max_steps, learning_rate=rl.learning_rate, warmup_steps=rl.warmup_steps,
                        per_device_train_batch_size=rl.per_device_train_batch_size,
                        num_generations=grpo.num_generations, max_completion_length=grpo.max_completion_length,
                        temperature=grpo.temperature, beta=grpo.beta, loss_type=grpo.loss_type,
                        scale_rewards=grpo.scale_rewards, epsilon_high=grpo.epsilon_high,
                        mask_truncated_completions=grpo.mask_truncated_completions, logging_steps=rl.logging_steps,
                        shuffle_dataset=not grpo.filter_samples, cache_implementation=kv_cache(),
                        use_vllm=grpo.use_vllm, vllm_mode="colocate",
                        **{**trainer_defaults(params.model, rl.seed), **checkpoint_settings(args.out_dir, rl.checkpoint_every)})
    # One row per pool problem: the prompt, and the columns the task's reward reads (the gold answer, ...).
    prompts = prompts_for(tokenizer, records, params.model)
    check_fits(model, tokenizer, prompts, grpo.max_completion_length, "train_rl.grpo.max_completion_length")
    rows = [{"prompt": p, **task.reward_columns(r)} for p, r in zip(prompts, records)]
    screen = PoolScreen(task, tokenizer, params, records, rows) if grpo.filter_samples else None
    dataset = IterableDataset.from_generator(screen.rows) if screen else Dataset.from_list(rows)
    resume = resume_point(args.out_dir, run_fingerprint(params, [args.sft_dir, args.data_dir]))
    # From a LoRA SFT model its adapter trains on; from a plain model (a pretrained instruct model, as the original
    # experiment ran GRPO) with model.lora enabled, TRL adds a fresh adapter (DPO below does the same).
    trainer = with_progress(GRPOTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                                        peft_config=None if is_adapter(model) else lora_config(params.model),
                                        reward_funcs=[trl_reward(task, name, params.score) for name in grpo.rewards],
                                        callbacks=callbacks(args.live_dir, resume=bool(resume))))
    if screen:
        screen.model = trainer.model
    trainer.train(resume_from_checkpoint=resume)
    logs = [entry for entry in trainer.state.log_history if "reward" in entry]
    rollouts = trainer.state.global_step * rl.per_device_train_batch_size
    # Completion lengths are logged as means over each logging window: the rollout tokens are their mean x rollouts.
    rollout_tokens = round(rollouts * sum(e["completions/mean_length"] for e in logs) / len(logs))
    screening = screen.summary() if screen else {}
    # A group whose completions all score the same has zero advantage: it teaches nothing.
    return trainer, tokenizer, {
        "rollouts": rollouts, **screening,
        "generated_tokens": rollout_tokens + screening.get("screen_generated_tokens", 0),
        "trained_tokens": trainer.state.num_input_tokens_seen,
        "mean_reward": sum(e["reward"] for e in logs) / len(logs),
        "mean_frac_reward_zero_std": sum(e["frac_reward_zero_std"] for e in logs) / len(logs),
        "reward_over_steps": [[e["step"], round(e["reward"], 4)] for e in logs],
        "frac_reward_zero_std_over_steps": [[e["step"], round(e["frac_reward_zero_std"], 4)] for e in logs]}


def train_rft(task, params, args):
    """Expert iteration (RFT / ReST-EM): the SFT model samples train_rl.rft.samples answers to each of the first
    rft.problems pool problems; the distinct correct ones that end on the end token join the demonstrations, and the
    SFT run goes on from its checkpoint on them for rft.max_steps (so it differs from the control in its data only).
    The pool's answers are used only to check samples; no worked solution is read."""
    rft = params.train_rl.rft
    pool = load_pool(task, args.data_dir)[:rft.problems]
    model, tokenizer = load_pretrained(args.sft_dir, params.model, training=True)
    kept = []
    groups = sample_groups(task, model, tokenizer, params, pool, rft.samples, params.train_rl.seed)
    for record, group in zip(pool, groups):
        answers = dict.fromkeys(s["text"] for s in group if s["correct"] and s["stopped"])
        kept += [{**record, "answer": answer} for answer in answers]
    # With no right sample this is the control (SFT on the demonstrations); rft_kept 0 says so in the report.
    records = load_split(task, "train", args.data_dir) + kept
    return continue_sft(task, params, args, records, rft.max_steps, model, tokenizer,
                        {"rollouts": len(pool) * rft.samples, "rft_problems": len(pool),
                         "generated_tokens": sum(s["tokens"] for group in groups for s in group),
                         "rft_solved": len({r["id"] for r in kept}) / len(pool), "rft_kept": len(kept)})


def preference_dataset(pairs: list[dict], tokenizer, model_params) -> Dataset:
    """TRL's preference format, prompted exactly like evaluation."""
    form = model_params.prompt_format
    return Dataset.from_list([{"prompt": format_prompt(tokenizer, p["question"], form, model_params.chat_template_kwargs),
                               "chosen": format_completion(p["chosen"], form),
                               "rejected": format_completion(p["rejected"], form)} for p in pairs])


def train_dpo(task, params, args):
    from trl import DPOConfig, DPOTrainer

    rl = params.train_rl
    pairs = {split: load_preferences(split, args.data_dir) for split in ("train", "test")}
    if not pairs["train"] or not pairs["test"]:
        raise StorylabError(f"train_rl.method dpo (task {task.name}): {args.data_dir} has no preferences_train.jsonl "
                            "and preferences_test.jsonl; this task makes no preference pairs, use grpo or none")
    model, tokenizer = load_pretrained(args.sft_dir, params.model, training=True)
    train = preference_dataset(pairs["train"], tokenizer, params.model)
    # Held-out pairs by kind (spec_story: easy and hard), each evaluated on its own; pairs without a kind are one set.
    kinds = list(dict.fromkeys(p.get("kind", "") for p in pairs["test"]))
    heldout = {kind: preference_dataset([p for p in pairs["test"] if p.get("kind", "") == kind], tokenizer,
                                        params.model) for kind in kinds}
    config = DPOConfig(max_steps=rl.max_steps, learning_rate=rl.learning_rate, warmup_steps=rl.warmup_steps,
                       per_device_train_batch_size=rl.per_device_train_batch_size,
                       per_device_eval_batch_size=rl.per_device_train_batch_size,
                       beta=rl.dpo.beta, label_smoothing=rl.dpo.label_smoothing, logging_steps=rl.logging_steps,
                       # sft_weight > 0: TRL's "sft" loss (NLL of the chosen answer) beside DPO's, as in RPO
                       **({"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, rl.dpo.sft_weight]}
                          if rl.dpo.sft_weight else {}),
                       **{**trainer_defaults(params.model, rl.seed), **checkpoint_settings(args.out_dir, rl.checkpoint_every)})
    resume = resume_point(args.out_dir, run_fingerprint(params, [args.sft_dir, args.data_dir]))
    # No ref_model: TRL keeps a frozen copy of the starting (SFT) model, or disables the LoRA adapter.
    trainer = with_progress(DPOTrainer(model=model, args=config, train_dataset=train, eval_dataset=heldout[kinds[0]],
                                       processing_class=tokenizer,
                                       peft_config=None if is_adapter(model) else lora_config(params.model),
                                       callbacks=callbacks(args.live_dir, resume=bool(resume))))
    trainer.train(resume_from_checkpoint=resume)
    summary = {"heldout_pairs": len(pairs["test"])}
    for kind, dataset in heldout.items():
        trainer.evaluate(dataset)
        logged = trainer.state.log_history[-1]  # DPOTrainer logs its reward metrics rather than returning them
        suffix = f"_{kind}" if kind else ""
        summary.update({f"heldout_loss{suffix}": logged["eval_loss"],
                        f"heldout_preference_accuracy{suffix}": logged["eval_rewards/accuracies"],
                        f"heldout_reward_margin{suffix}": logged["eval_rewards/margins"],
                        f"heldout_reward_chosen{suffix}": logged["eval_rewards/chosen"],
                        f"heldout_reward_rejected{suffix}": logged["eval_rewards/rejected"]})
    return trainer, tokenizer, summary


def continue_sft(task, params, args, records=None, steps=None, model=None, tokenizer=None, summary=None):
    """The SFT run itself, resumed from its trainer checkpoint (same optimizer state, schedule and data stream) for
    `steps` more steps on `records` (default, the control: the train split for train_rl.control_steps)."""
    steps = params.train_rl.control_steps if steps is None else steps
    if not steps:
        return keep_sft(task, params, args)
    start = Path(args.sft_dir, TRAINER_CHECKPOINT)
    if not all((start / name).is_file() for name in CHECKPOINT_FILES):
        raise StorylabError(f"{args.sft_dir}: no {TRAINER_CHECKPOINT}/ to continue SFT from; rerun train_sft "
                            "(dvc repro), or set the run's steps to 0 (train_rl.control_steps, bound_steps)")
    if model is None:
        model, tokenizer = load_pretrained(args.sft_dir, params.model, training=True)
    state = read_json(start / "trainer_state.json", required=("global_step",))
    start_step = state["global_step"]
    records = load_split(task, "train", args.data_dir) if records is None else records
    phases = sft_phases(tokenizer, load_documents(args.data_dir), records, params.model, params.train_sft.mix_qa,
                        params.train_sft.max_length)
    config = sft_config(args.out_dir, params.train_sft, params.model, max_steps=start_step + steps)
    resume = resume_point(args.out_dir, run_fingerprint(params, [args.sft_dir, args.data_dir])) or str(start)
    trainer = with_progress(StorylabSFTTrainer(model=model, args=config, train_dataset=phases[-1],
                                               processing_class=tokenizer,
                                               callbacks=callbacks(args.live_dir, resume=resume != str(start))))
    trainer.train(resume_from_checkpoint=resume)
    return trainer, tokenizer, {**(summary or {}), "continued_from_step": start_step, "sft_steps": steps,
                                "sft_examples": len(records), "trained_tokens": trainer.state.num_input_tokens_seen
                                - state.get("num_input_tokens_seen", 0)}


def sft_on_worked_pool(task, params, args):
    """The upper bound: SFT continued for bound_steps on the demonstrations and the pool's worked solutions (what
    RL could reach if every pool problem came with a perfect demonstration)."""
    records = load_split(task, "train", args.data_dir) + load_pool(task, args.data_dir, worked=True)
    return continue_sft(task, params, args, records, params.train_rl.bound_steps)


# One plain function per method: (task, params, args) -> (trainer or None, tokenizer, summary). Each builds its own
# TRL config; a run that trains nothing returns no trainer (its output is written already).
METHODS = {"base": save_start, "none": keep_sft, "grpo": train_grpo, "dpo": train_dpo, "rft": train_rft,
           "sft-continued": continue_sft, "sft-bound": sft_on_worked_pool}


def method_of(run: str, params) -> str:
    """The METHODS key of a --run: rl trains train_rl.method, control continues SFT, rft is expert iteration, bound
    continues SFT on the worked pool, base saves the start."""
    return params.train_rl.method if run == "rl" else {"control": "sft-continued", "rft": "rft", "bound": "sft-bound",
                                                       "base": "base"}[run]


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--run", choices=RUN_NAMES, default="rl",
                        help="rl: train_rl.method from the SFT model; control: SFT continued for control_steps; rft: "
                             "expert iteration; bound: SFT continued on the pool's worked solutions; base: the model "
                             "SFT started from, untrained")
    parser.add_argument("--sft_dir", required=True)
    parser.add_argument("--data_dir", required=True, help="what build_qa wrote")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--live_dir", required=True)
    parser.add_argument("--metrics", required=True)
    args = parser.parse_args()
    task, params = stage_params(args, "model", "train_sft", "train_rl", "score")
    check_outputs(dirs=[args.out_dir, args.live_dir, str(checkpoint_dir(args.out_dir))], files=[args.metrics])
    check_model_source(params.model)
    name = method_of(args.run, params)
    if name == "grpo":
        check_vllm(params.train_rl.grpo.use_vllm)
    started = time.perf_counter()
    trainer, tokenizer, summary = METHODS[name](task, params, args)
    seconds = time.perf_counter() - started  # printed, not recorded: metrics/ must reproduce bit for bit
    if trainer is not None:  # the recipe carries the summary, so the report needs only the eval metrics
        steps = trainer.state.global_step - summary.get("continued_from_step", 0)
        stage = {"stage": name, "steps": steps, "train_format": params.model.prompt_format,
                 **{k: v for k, v in summary.items() if not k.endswith("_over_steps")}}
        save_model(trainer, tokenizer, args.out_dir, read_recipe(args.sft_dir) + [stage])
        finish_checkpoints(trainer, args.out_dir, keep=False)
    if process_state().is_main_process:
        write_json(args.metrics, {"metric_version": task.metric_version, "run": args.run,
                                  "method": name, **summary})
    brief = {k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items() if not k.endswith("_over_steps")}
    return f"{task.name} {args.run} ({name}) from {args.sft_dir} -> {args.out_dir} in {seconds:.0f} s: {brief}"


if __name__ == "__main__":
    run(main)
