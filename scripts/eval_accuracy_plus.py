"""Score a model's answers: exact, relaxed, token F1, ROUGE-L, Acc@ROUGE-L (all + short-answer subset).

Pipeline (greedy, batched generation on the test, train and unseen-entity splits):
    python scripts/eval_accuracy_plus.py --params params.yaml --model_dir models/sft --name sft \
        --qa_dir data/qa --pred_dir data/predictions/sft --out metrics/eval_sft.json
Standalone, on any JSONL with `gold` and `prediction` fields:
    python scripts/eval_accuracy_plus.py --pred_file F.jsonl --short_thresh 15 --rouge_thresh 0.5 [--out m.json]
"""
from __future__ import annotations

import argparse
from collections import Counter

from storylab.config import add_params_arguments, load_section, overrides_from
from storylab.errors import StorylabError, run
from storylab.io import read_jsonl, read_recipe, write_json, write_jsonl
from storylab.qa import SPLITS
from storylab.scoring import METRIC_VERSION, METRICS, exact_match, score_item, score_predictions


def format_table(title: str, metrics: dict, short_thresh: int, rouge_thresh: float) -> str:
    names = {"exact_match": "Exact Match", "relaxed_match": f"Relaxed Match (<= {short_thresh} tokens)",
             "token_f1": "Token F1 (avg)", "rouge_l": "ROUGE-L F (avg)", "acc_at_rouge_l": f"Acc@ROUGE-L>={rouge_thresh}"}
    lines = [f"== {title}", f"{'metric':<32} {'all':>22} {'short subset':>22}",
             f"{'examples':<32} {metrics['all']['count']:>22} {metrics['short']['count']:>22}"]
    for metric in METRICS:
        cells = []
        for subset in ("all", "short"):
            value = metrics[subset][metric]
            cells.append("-" if value is None else f"{value['mean']:.4f} [{value['ci_low']:.3f}, {value['ci_high']:.3f}]")
        lines.append(f"{names[metric]:<32} {cells[0]:>22} {cells[1]:>22}")
    return "\n".join(lines)


def by_fact_type(records: list[dict], items: list[dict]) -> dict:
    groups: dict[str, list[float]] = {}
    for record, item in zip(records, items):
        groups.setdefault(record["fact_type"], []).append(item["exact_match"])
    return {fact: {"count": len(v), "exact_match": sum(v) / len(v)} for fact, v in sorted(groups.items())}


def chance_exact_match(unseen: list[dict], train_qa: list[dict]) -> float:
    """EM of always answering the most common train answer of the fact type (the best blind guess)."""
    common = {}
    for fact in {p["fact_type"] for p in train_qa}:
        common[fact] = Counter(p["answer"] for p in train_qa if p["fact_type"] == fact).most_common(1)[0][0]
    hits = [exact_match(common.get(r["fact_type"], ""), r["gold"]) for r in unseen]
    return sum(hits) / len(hits) if hits else 0.0


def evaluate_model(model_dir: str, qa_by_split: dict[str, list[dict]], params, model_params) -> dict[str, list[dict]]:
    """Per-question records (question, gold, prediction) for each split, greedy and batched."""
    from storylab.generation import generate_answers
    from storylab.modeling import load_pretrained
    from storylab.prompts import qa_records

    model, tokenizer = load_pretrained(model_dir, model_params)
    predictions = {}
    for split, qa in qa_by_split.items():
        prompts = [r["prompt"] for r in qa_records(tokenizer, qa, model_params, with_answer=False)]
        answers = generate_answers(model, tokenizer, prompts, params.batch_size, params.max_new_tokens)
        predictions[split] = [{"id": p["id"], "entity_id": p["entity_id"], "fact_type": p["fact_type"],
                               "question": p["question"], "gold": p["answer"], "prediction": answer}
                              for p, answer in zip(qa, answers)]
    return predictions


def split_metrics(records: list[dict], params) -> dict:
    metrics = score_predictions(records, params.short_thresh, params.rouge_thresh,
                                params.bootstrap_resamples, params.seed)
    items = [score_item(r["prediction"], r["gold"], params.short_thresh, params.rouge_thresh) for r in records]
    metrics["by_fact_type"] = by_fact_type(records, items)
    return metrics


def pipeline(args, overrides: list[str]) -> None:
    params = load_section("eval", args.params, overrides)
    model_params = load_section("model", args.params, overrides)
    qa_by_split = {split: read_jsonl(f"{args.qa_dir}/{split}.jsonl", required=("question", "answer", "fact_type"))
                   for split in SPLITS}
    predictions = evaluate_model(args.model_dir, qa_by_split, params, model_params)
    # Self-describing: how the model was trained (its recipe) and how it was asked (the eval format).
    result = {"metric_version": METRIC_VERSION, "model": args.name, "model_dir": args.model_dir,
              "eval_format": model_params.prompt_format,
              "recipe": read_recipe(args.model_dir),
              "short_thresh": params.short_thresh, "rouge_thresh": params.rouge_thresh}
    for split, records in predictions.items():
        write_jsonl(f"{args.pred_dir}/{split}.jsonl", records)
        result[split] = split_metrics(records, params)
        print(format_table(f"{args.name} / {split}", result[split], params.short_thresh, params.rouge_thresh))
    result["unseen"]["chance_exact_match"] = chance_exact_match(predictions["unseen"], qa_by_split["train"])
    write_json(args.out, result)


def standalone(args) -> None:
    records = read_jsonl(args.pred_file, required=("gold", "prediction"))
    if not records:
        raise StorylabError(f"{args.pred_file}: no records to score")
    for line, record in enumerate(records, start=1):
        if not isinstance(record["gold"], str) or not isinstance(record["prediction"], str):
            raise StorylabError(f"{args.pred_file}: record {line}: `gold` and `prediction` must be strings")
    metrics = score_predictions(records, args.short_thresh, args.rouge_thresh, args.bootstrap_resamples, 0)
    print(format_table(args.pred_file, metrics, args.short_thresh, args.rouge_thresh))
    if args.out:
        write_json(args.out, {"metric_version": METRIC_VERSION, "short_thresh": args.short_thresh,
                              "rouge_thresh": args.rouge_thresh, **metrics})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pred_file", help="standalone mode: score this JSONL of {gold, prediction}")
    parser.add_argument("--short_thresh", type=int, default=15)
    parser.add_argument("--rouge_thresh", type=float, default=0.5)
    parser.add_argument("--bootstrap_resamples", type=int, default=1000)
    add_params_arguments(parser)
    parser.add_argument("--model_dir")
    parser.add_argument("--name")
    parser.add_argument("--qa_dir")
    parser.add_argument("--pred_dir")
    parser.add_argument("--out")
    args = parser.parse_args()
    overrides = overrides_from(args)
    if args.pred_file:
        standalone(args)
        return
    missing = [f"--{name}" for name in ("model_dir", "name", "qa_dir", "pred_dir", "out") if not getattr(args, name)]
    if missing:
        parser.error(f"pipeline mode needs {' '.join(missing)} (or use --pred_file for standalone scoring)")
    pipeline(args, overrides)


if __name__ == "__main__":
    run(main)
