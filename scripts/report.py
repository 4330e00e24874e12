"""Summarise every evaluated model from the metrics JSON: CSV, markdown tables, RL-vs-SFT difference.

    python scripts/report.py --params params.yaml --metrics metrics/eval_sft.json metrics/eval_rl.json \
        --rl_metrics metrics/train_rl.json --pred_dir data/predictions --out_dir metrics
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from storylab.config import load_section
from storylab.errors import run
from storylab.io import read_json, read_jsonl, write_json
from storylab.qa import SPLITS
from storylab.scoring import METRIC_VERSION, METRICS, paired_difference_ci


def summary_frame(evals: list[dict]) -> pd.DataFrame:
    """One row per (model, split, subset) with every metric's mean and CI."""
    rows = []
    for result in evals:
        for split in SPLITS:
            for subset in ("all", "short"):
                block = result[split][subset]
                row = {"model": result["model"], "split": split, "subset": subset, "count": block["count"]}
                for metric in METRICS:
                    value = block[metric] or {}
                    row.update({metric: value.get("mean"), f"{metric}_ci_low": value.get("ci_low"),
                                f"{metric}_ci_high": value.get("ci_high")})
                rows.append(row)
    return pd.DataFrame(rows)


def headline_table(frame: pd.DataFrame, pass_threshold: float) -> pd.DataFrame:
    """The seed's shape: model, correct answers, total questions, score, status (held-out split)."""
    test = frame[(frame.split == "test") & (frame.subset == "all")]
    return pd.DataFrame({
        "model": test.model,
        "correct": (test.exact_match * test["count"]).round().astype(int),
        "total": test["count"],
        "score": test.exact_match.map("{:.3f}".format),
        "95% CI": [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(test.exact_match_ci_low, test.exact_match_ci_high)],
        "status": ["pass" if em >= pass_threshold else "fail" for em in test.exact_match],
    })


def split_table(frame: pd.DataFrame, evals: list[dict]) -> pd.DataFrame:
    """Memorisation (train) beside extraction (test) and the no-story control (unseen) with its chance level."""
    rows = frame[frame.subset == "all"].set_index(["model", "split"])
    chance = {r["model"]: r["unseen"].get("chance_exact_match") for r in evals}

    def cell(model: str, split: str) -> str:
        row = rows.loc[(model, split)]
        return f"{row.exact_match:.3f} [{row.exact_match_ci_low:.3f}, {row.exact_match_ci_high:.3f}]"

    models = list(dict.fromkeys(frame.model))
    return pd.DataFrame({"model": models, "train EM": [cell(m, "train") for m in models],
                         "test EM": [cell(m, "test") for m in models],
                         "unseen EM": [cell(m, "unseen") for m in models],
                         "unseen chance": [f"{chance[m]:.3f}" for m in models]})


def fact_type_table(evals: list[dict]) -> pd.DataFrame:
    """Held-out EM per fact type and model: which kinds of fact are extracted and which are not."""
    return pd.DataFrame({r["model"]: {fact: v["exact_match"] for fact, v in r["test"]["by_fact_type"].items()}
                         for r in evals}).rename_axis("fact type").reset_index()


def rl_vs_sft(pred_dir: str, resamples: int, seed: int) -> dict:
    """Paired bootstrap of held-out EM, rl minus sft, over the same questions."""
    from storylab.scoring import exact_match

    runs = {name: read_jsonl(f"{pred_dir}/{name}/test.jsonl", required=("id", "gold", "prediction"))
            for name in ("sft", "rl")}
    rl_by_id = {r["id"]: r for r in runs["rl"]}
    sft_em = [exact_match(r["prediction"], r["gold"]) for r in runs["sft"]]
    rl_em = [exact_match(rl_by_id[r["id"]]["prediction"], r["gold"]) for r in runs["sft"]]
    return paired_difference_ci(rl_em, sft_em, resamples, seed)


RL_SUMMARIES = {
    "none": lambda m: "RL method none: the rl model is the SFT model.",
    "grpo": lambda m: (f"GRPO: mean reward {m['mean_reward']:.3f}; {m['mean_frac_reward_zero_std']:.0%} of the groups "
                       "had one reward for all their completions (zero advantage, so no gradient from them)."),
    "dpo": lambda m: (f"DPO, {m['heldout_pairs']} held-out preference pairs: accuracy "
                      f"{m['heldout_preference_accuracy']:.3f}, reward margin {m['heldout_reward_margin']:+.3f} "
                      f"(chosen {m['heldout_reward_chosen']:+.3f}, rejected {m['heldout_reward_rejected']:+.3f})."),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--metrics", nargs="+", required=True)
    parser.add_argument("--rl_metrics", required=True)
    parser.add_argument("--pred_dir", required=True)
    parser.add_argument("--out_dir", required=True)
    args = parser.parse_args()
    params = load_section("report", args.params)
    eval_params = load_section("eval", args.params)
    evals = [read_json(path) for path in args.metrics]
    rl = read_json(args.rl_metrics)

    frame = summary_frame(evals)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    frame.to_csv(f"{args.out_dir}/summary.csv", index=False, float_format="%.4f")
    difference = rl_vs_sft(args.pred_dir, eval_params.bootstrap_resamples, eval_params.seed)
    write_json(f"{args.out_dir}/rl_vs_sft.json", {"metric_version": METRIC_VERSION, "test_exact_match": difference})
    markdown = "\n\n".join([
        "## Held-out questions (entities whose QA was never trained on)",
        headline_table(frame, params.pass_threshold).to_markdown(index=False),
        "## Memorisation vs extraction",
        split_table(frame, evals).to_markdown(index=False),
        "Unseen: people with no story anywhere; their EM should sit at the chance level of answering the most "
        "common train answer of each fact type.",
        "## Held-out exact match per fact type",
        fact_type_table(evals).to_markdown(index=False, floatfmt=".3f"),
        f"RL minus SFT, held-out EM: {difference['difference']:+.3f} "
        f"(95% paired bootstrap CI [{difference['ci_low']:+.3f}, {difference['ci_high']:+.3f}]). "
        + RL_SUMMARIES[rl["method"]](rl) + " Curves: `dvc plots show` (dvclive/train_rl).",
    ])
    Path(args.out_dir, "summary.md").write_text(markdown + "\n", encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    run(main)
