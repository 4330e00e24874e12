"""Score a model's answers, or any predictions file, with the task's scorer (the one its GRPO reward calls).

Pipeline: greedy, batched generation on each of the task's splits (eval.splits; at most eval.max_per_split each),
plus eval.num_samples samples per question of each held-out split (word_math: test and test_harder) for pass@k:
    python scripts/eval_accuracy_plus.py --task story_qa --model_dir models/story_qa/sft --name sft \
        --data_dir data/story_qa/qa --pred_dir data/story_qa/predictions/sft --out metrics/story_qa/eval/sft.json
An existing model, without training (name, data, predictions and output default under data/<task>/, metrics/<task>/):
    python scripts/eval_accuracy_plus.py --task word_math --model_dir path/to/model
Standalone, on any JSONL with `gold` and `prediction`, plus any record fields the task's check reads (spec_story:
`spec`, and the gold story optional, as `gold` or `reference`):
    python scripts/eval_accuracy_plus.py --task word_math --pred_file F.jsonl [--out M.json]
    python scripts/eval_accuracy_plus.py --pred_file F.jsonl --short_thresh 15 --rouge_thresh 0.5   # story_qa
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

from pathlib import Path

from storylab.cli import stage_parser, stage_params
from storylab.errors import StorylabError, run
from storylab.io import check_outputs, read_jsonl, read_recipe, write_json, write_jsonl
from storylab.metrics.stats import mean_ci, pass_at_k
from storylab.tasks.base import load_split


def format_table(title: str, metrics: dict) -> str:
    """Each subset (all, short, ...) as a column, each metric as a row: mean [95% CI]."""
    subsets = [name for name, block in metrics.items() if isinstance(block, dict) and "count" in block]
    names = list(dict.fromkeys(m for s in subsets for m in metrics[s] if m != "count"))
    lines = [f"== {title}", f"{'metric':<24}" + "".join(f"{s:>26}" for s in subsets),
             f"{'examples':<24}" + "".join(f"{metrics[s]['count']:>26}" for s in subsets)]
    for name in names:
        cells = []
        for subset in subsets:
            value = metrics[subset].get(name)
            cells.append("-" if value is None else f"{value['mean']:.4f} [{value['ci_low']:.3f}, {value['ci_high']:.3f}]")
        lines.append(f"{name:<24}" + "".join(f"{cell:>26}" for cell in cells))
    return "\n".join(lines)


def prediction_records(records: list[dict], completions: list[list[dict]]) -> list[dict]:
    """The record's fields with `gold` (its answer) and the greedy `prediction`; `stopped`: ended on the end token."""
    return [{**{k: v for k, v in r.items() if k != "answer"}, "gold": r["answer"], "prediction": c[0]["text"],
             "stopped": c[0]["stopped"]} for r, c in zip(records, completions)]


def sampled_metrics(task, records: list[dict], samples: list[list[dict]], resamples: int, seed: int) -> dict:
    """pass@k (k = samples per question) and the mean sampled accuracy, with CIs over questions."""
    k = len(samples[0])
    correct = [int(sum(task.check(s["text"], r["answer"], r) for s in group)) for r, group in zip(records, samples)]
    return {f"pass_at_{k}": mean_ci([pass_at_k(k, c, k) for c in correct], resamples, seed),
            "sampled_correct": mean_ci([c / k for c in correct], resamples, seed)}


def scored_splits(task, ev) -> list[str]:
    """eval.splits in the task's order ([]: all of them); an unknown split or one without the held-out split is a
    bad param, found before the model loads."""
    unknown = [split for split in ev.splits if split not in task.splits]
    if unknown:
        raise StorylabError(f"eval.splits: {unknown[0]!r} is not a split of {task.name} ({', '.join(task.splits)})")
    if ev.splits and task.heldout_split not in ev.splits:
        raise StorylabError(f"eval.splits: {ev.splits} leaves out the held-out split {task.heldout_split!r}; add it")
    return [split for split in task.splits if not ev.splits or split in ev.splits]


def evaluate(task, params, model_dir: str, data_dir: str, pred_dir: str) -> dict:
    from storylab.generation import check_fits, completion_logprobs, generate_completions
    from storylab.modeling import load_pretrained
    from storylab.prompts import format_completion, prompts_for

    ev = params.eval
    model, tokenizer = load_pretrained(model_dir, params.model)

    def logprobs(questions: list[str], completions: list[str]) -> list[tuple[float, int]]:
        prompts = prompts_for(tokenizer, [{"question": q} for q in questions], params.model)
        texts = [format_completion(c, params.model.prompt_format) for c in completions]
        return completion_logprobs(model, tokenizer, prompts, texts, max(1, ev.batch_size // 4))

    splits = {split: load_split(task, split, data_dir)[:ev.max_per_split or None] for split in scored_splits(task, ev)
              if split not in task.optional_splits or Path(data_dir, f"{split}.jsonl").is_file()}
    prompts_of = {split: prompts_for(tokenizer, records, params.model) for split, records in splits.items()}
    check_fits(model, tokenizer, [p for prompts in prompts_of.values() for p in prompts], ev.max_new_tokens,
               "eval.max_new_tokens")
    result = {"splits": list(splits)}
    for split, records in splits.items():
        prompts = prompts_of[split]
        predictions = prediction_records(records, generate_completions(model, tokenizer, prompts, ev.batch_size,
                                                                       ev.max_new_tokens))
        write_jsonl(Path(pred_dir, f"{split}.jsonl"), predictions)
        result[split] = {**task.score(predictions, params.score, ev.bootstrap_resamples, ev.seed),
                         **task.split_extras(split, predictions, data_dir),
                         **task.model_metrics(split, records, data_dir, logprobs, ev.bootstrap_resamples, ev.seed)}
        if split in task.heldout_splits and ev.num_samples:
            samples = generate_completions(model, tokenizer, prompts, ev.batch_size, ev.max_new_tokens,
                                           ev.num_samples, ev.sample_temperature, ev.seed)
            result[split]["all"].update(sampled_metrics(task, records, samples, ev.bootstrap_resamples, ev.seed))
            write_jsonl(Path(pred_dir, f"{split}_samples.jsonl"),
                        [{"id": r["id"], "samples": [s["text"] for s in group]} for r, group in zip(records, samples)])
        print(format_table(f"{Path(model_dir).name} / {split}", result[split]))
    return result


def pipeline(args, task, params) -> str:
    name = args.name or Path(args.model_dir).name
    data_dir = args.data_dir or f"data/{task.name}/qa"
    out = args.out or f"metrics/{task.name}/eval/{name}.json"
    pred_dir = args.pred_dir or f"data/{task.name}/predictions/{name}"
    check_outputs(dirs=[pred_dir], files=[out])
    scored_splits(task, params.eval)
    scores = evaluate(task, params, args.model_dir, data_dir, pred_dir)
    # Self-describing: how the model was trained (its recipe) and how it was asked (the eval format).
    write_json(out, {"metric_version": task.metric_version, "task": task.name, "model": name,
                     "model_dir": args.model_dir, "eval_format": params.model.prompt_format,
                     "recipe": read_recipe(args.model_dir), "score": params.score.model_dump(), **scores})
    heldout = scores[task.heldout_split]["all"][task.primary_metric]
    return f"{task.name}/{name}: held-out {task.primary_metric} {heldout['mean']:.3f} -> {out}"


def standalone(args, task, params) -> str:
    check_outputs(files=[args.out] if args.out else [])
    records = read_jsonl(args.pred_file, required=("gold", "prediction") if task.gold_required else ("prediction",))
    if not records:
        raise StorylabError(f"{args.pred_file}: no records to score")
    for line, record in enumerate(records, start=1):
        record.setdefault("gold", record.get("reference", ""))  # only where gold is optional (spec_story)
        if not isinstance(record["gold"], str) or not isinstance(record["prediction"], str):
            raise StorylabError(f"{args.pred_file}: record {line}: `gold` and `prediction` must be strings")
    metrics = task.score(records, params.score, params.eval.bootstrap_resamples, params.eval.seed)
    print(format_table(args.pred_file, metrics))
    if args.out:
        write_json(args.out, {"metric_version": task.metric_version, "task": task.name,
                              "score": params.score.model_dump(), **metrics})
    return f"{task.name}: {len(records)} predictions scored" + (f" -> {args.out}" if args.out else "")


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--pred_file", help="standalone mode: score this JSONL of {gold, prediction, ...}")
    parser.add_argument("--short_thresh", type=int, help="story_qa: --set score.short_thresh")
    parser.add_argument("--rouge_thresh", type=float, help="story_qa: --set score.rouge_thresh")
    parser.add_argument("--model_dir", help="pipeline mode: the model to evaluate")
    parser.add_argument("--name", help="the evaluation's name (default: the model dir's name)")
    parser.add_argument("--data_dir", help="what build_qa wrote (default: data/<task>/qa)")
    parser.add_argument("--pred_dir", help="where predictions go (default: data/<task>/predictions/<name>)")
    parser.add_argument("--out", help="the metrics JSON (default in pipeline mode: metrics/<task>/eval/<name>.json)")
    args = parser.parse_args()
    if bool(args.pred_file) == bool(args.model_dir):
        raise StorylabError("eval_accuracy_plus.py: give --model_dir (evaluate a model) or --pred_file (score "
                            "predictions), one of the two (see --help)")
    args.overrides += [f"score.{key}={getattr(args, key)}" for key in ("short_thresh", "rouge_thresh")
                       if getattr(args, key) is not None]
    task, params = stage_params(args, "model", "eval", "score")
    return standalone(args, task, params) if args.pred_file else pipeline(args, task, params)


if __name__ == "__main__":
    run(main)
