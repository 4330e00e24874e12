"""Compare every evaluated model from its metrics JSON: CSV, markdown tables, plots, error analysis.

Core pipeline (dvc.yaml):
    python scripts/report.py --params params.yaml --metrics metrics/eval_sft.json metrics/eval_rl.json \
        --pred_dir data/predictions --out_dir metrics --paired rl sft
Variants pipeline (variants/dvc.yaml): --metrics metrics/variants/eval, a directory of them.

Each eval JSON carries the model's recipe (its training stages) and the eval format, so the tables and
plots need nothing else; the error analysis reads the held-out predictions beside them.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from storylab.config import add_params_arguments, load_section, overrides_from
from storylab.errors import StorylabError, run
from storylab.io import read_json, read_jsonl, write_json
from storylab.qa import SPLITS
from storylab.scoring import METRIC_VERSION, METRICS, exact_match, paired_difference_ci

FORMAT_COLOURS = {"chat": "tab:blue", "plain": "tab:orange"}
# What every eval_accuracy_plus JSON holds; an older or foreign file fails here with the key named.
EVAL_FIELDS = ("metric_version", "model", "model_dir", "eval_format", "recipe", *SPLITS)


def recipe_columns(result: dict) -> dict:
    """How the model was made, from its recipe: method (stages joined by +), train format, QA loss, steps."""
    recipe = result["recipe"]
    sft = next((stage for stage in recipe if stage["stage"] == "sft"), {})
    rl = next((stage for stage in recipe if stage["stage"] != "sft"), {})
    return {"method": "+".join(stage["stage"] for stage in recipe) or "untuned",
            "train_format": recipe[0]["train_format"] if recipe else "-",
            "qa_loss": sft.get("qa_loss", "-"), "sft_steps": sft.get("steps", 0), "rl_steps": rl.get("steps", 0),
            "eval_format": result["eval_format"]}


def recipe_order(result: dict) -> tuple:
    """Untuned first, then by train format, method, QA loss and length; a model's eval formats side by side."""
    columns = recipe_columns(result)
    return (columns["train_format"] != "-", columns["train_format"], columns["method"], columns["qa_loss"],
            columns["sft_steps"], columns["eval_format"] != columns["train_format"])


def comparison_frame(evals: list[dict]) -> pd.DataFrame:
    """One row per (evaluation, split, subset): the recipe, every metric's mean and 95% CI."""
    rows = []
    for result in evals:
        model = {"eval": result["model"], "model_dir": result["model_dir"],
                 **recipe_columns(result)}
        for split in SPLITS:
            for subset in ("all", "short"):
                block = result[split][subset]
                row = {**model, "split": split, "subset": subset, "count": block["count"]}
                for metric in METRICS:
                    value = block[metric] or {}
                    row.update({metric: value.get("mean"), f"{metric}_ci_low": value.get("ci_low"),
                                f"{metric}_ci_high": value.get("ci_high")})
                rows.append(row)
    return pd.DataFrame(rows)


def heldout(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame.split == "test") & (frame.subset == "all")].reset_index(drop=True)


def headline_table(frame: pd.DataFrame, pass_threshold: float) -> pd.DataFrame:
    """The original experiments' shape: model, correct answers, total questions, score, status (held-out)."""
    test = heldout(frame)
    return pd.DataFrame({
        "model": test["eval"], "method": test.method, "SFT steps": test.sft_steps, "RL steps": test.rl_steps,
        "train format": test.train_format, "eval format": test.eval_format,
        "correct": (test.exact_match * test["count"]).round().astype(int), "total": test["count"],
        "score": test.exact_match.map("{:.3f}".format),
        "95% CI": [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(test.exact_match_ci_low, test.exact_match_ci_high)],
        "status": ["pass" if em >= pass_threshold else "fail" for em in test.exact_match],
    })


def split_table(frame: pd.DataFrame, evals: list[dict]) -> pd.DataFrame:
    """Memorisation (train) beside extraction (test) and the no-story control (unseen) with its chance level."""
    rows = frame[frame.subset == "all"].set_index(["eval", "split"])
    chance = {r["model"]: r["unseen"]["chance_exact_match"] for r in evals}

    def cell(name: str, split: str) -> str:
        row = rows.loc[(name, split)]
        return f"{row.exact_match:.3f} [{row.exact_match_ci_low:.3f}, {row.exact_match_ci_high:.3f}]"

    names = list(dict.fromkeys(frame["eval"]))
    return pd.DataFrame({"model": names, "train EM": [cell(n, "train") for n in names],
                         "test EM": [cell(n, "test") for n in names],
                         "unseen EM": [cell(n, "unseen") for n in names],
                         "unseen chance": [f"{chance[n]:.3f}" for n in names]})


def fact_type_table(evals: list[dict]) -> pd.DataFrame:
    """Held-out EM per fact type (rows) and model (columns): which kinds of fact are extracted."""
    return pd.DataFrame({r["model"]: {fact: v["exact_match"] for fact, v in r["test"]["by_fact_type"].items()}
                         for r in evals}).rename_axis("fact type").reset_index()


def _grpo_summary(stage: dict) -> str:
    line = (f"GRPO ({stage['steps']} steps): mean reward {stage['mean_reward']:.3f}; "
            f"{stage['mean_frac_reward_zero_std']:.0%} of the groups had one reward for all their completions "
            "(zero advantage, so no gradient from them).")
    if stage["mean_frac_reward_zero_std"] >= 0.99:
        line += (" Almost no learning signal: the starting model answers every train question the same way each "
                 "time (all right when the QA is memorised, all wrong when it was never trained).")
    return line


RL_SUMMARIES = {
    "grpo": _grpo_summary,
    "dpo": lambda s: (f"DPO ({s['steps']} steps), {s['heldout_pairs']} held-out preference pairs: accuracy "
                      f"{s['heldout_preference_accuracy']:.3f}, reward margin {s['heldout_reward_margin']:+.3f} "
                      f"(chosen {s['heldout_reward_chosen']:+.3f}, rejected {s['heldout_reward_rejected']:+.3f})."),
}


def rl_lines(evals: list[dict]) -> list[str]:
    """What each RL / preference stage saw, once per trained model."""
    lines = {}
    for result in evals:
        for stage in result["recipe"]:
            if stage["stage"] in RL_SUMMARIES:
                lines.setdefault(result["model_dir"],
                                 f"- `{result['model']}`: " + RL_SUMMARIES[stage["stage"]](stage))
    return list(lines.values())


def load_predictions(pred_dir: str, names: list[str]) -> dict[str, dict[str, dict]]:
    return {name: {r["id"]: r for r in read_jsonl(f"{pred_dir}/{name}/test.jsonl",
                                                  required=("id", "question", "gold", "prediction"))}
            for name in names}


def paired_difference(predictions: dict[str, dict[str, dict]], after: str, before: str,
                      resamples: int, seed: int) -> dict:
    """Paired bootstrap of held-out EM, `after` minus `before`, over the same questions."""
    ids = list(predictions[before])
    score = {name: [exact_match(predictions[name][i]["prediction"], predictions[name][i]["gold"]) for i in ids]
             for name in (after, before)}
    return paired_difference_ci(score[after], score[before], resamples, seed)


def error_analysis(predictions: dict[str, dict[str, dict]], questions: int) -> str:
    """Held-out questions with the gold answer and every model's prediction side by side; questions the models
    disagree on (some right, some wrong) first, then the ones all miss, then the ones all get right."""
    names = list(predictions)
    ids = list(predictions[names[0]])
    hits = {qid: [exact_match(predictions[n][qid]["prediction"], predictions[n][qid]["gold"]) for n in names]
            for qid in ids}
    # 0: the models disagree, 1: all wrong, 2: all right.
    group = {qid: 0 if 0 < sum(h) < len(names) else 1 if sum(h) == 0 else 2 for qid, h in hits.items()}
    chosen = sorted(ids, key=lambda qid: (group[qid], qid))[:questions]
    disagreements = sum(g == 0 for g in group.values())
    rows = []
    for qid in chosen:
        first = predictions[names[0]][qid]
        cells = [("✓ " if hit else "✗ ") + (predictions[n][qid]["prediction"] or "(empty)")
                 for n, hit in zip(names, hits[qid])]
        rows.append([first["question"], first["gold"], *cells])
    table = pd.DataFrame(rows, columns=["question", "gold", *names]).to_markdown(index=False)
    return (f"# Error analysis: held-out questions\n\n{len(ids)} held-out questions; the models disagree on "
            f"{disagreements}. Shown: {len(chosen)}, disagreements first (✓ exact match, ✗ not).\n\n{table}\n")


def _figure(plt, rows: int, width: float = 9.0):
    return plt.subplots(figsize=(width, max(3.0, 0.45 * rows + 1.5)))


def plot_accuracy_bar(test: pd.DataFrame, chance: float, path: str) -> None:
    """Held-out EM per evaluated model, with its 95% CI and the unseen-entity chance level."""
    import matplotlib.pyplot as plt

    fig, ax = _figure(plt, len(test))
    errors = [test.exact_match - test.exact_match_ci_low, test.exact_match_ci_high - test.exact_match]
    ax.barh(test["eval"], test.exact_match, xerr=errors, capsize=3,
            color=[FORMAT_COLOURS.get(f, "tab:gray") for f in test.eval_format])
    ax.axvline(chance, color="black", linestyle=":", label=f"chance level ({chance:.3f})")
    ax.set(xlim=(0, 1), xlabel="held-out exact match (95% CI)", ylabel="model",
           title="Held-out exact match per model (colour: eval format)")
    ax.invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in FORMAT_COLOURS.values()]
    ax.legend(handles + ax.get_legend_handles_labels()[0],
              [f"eval: {f}" for f in FORMAT_COLOURS] + ax.get_legend_handles_labels()[1], loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_accuracy_grouped(test: pd.DataFrame, path: str) -> None:
    """One group per trained model (labelled with its method and train format), one bar per eval format."""
    import matplotlib.pyplot as plt

    test = test.assign(group=[f"{Path(d).name} ({m})" if t == "-" else f"{Path(d).name} ({m}, trained {t})"
                              for d, m, t in zip(test.model_dir, test.method, test.train_format)])
    table = test.pivot_table(index="group", columns="eval_format", values="exact_match", sort=False)
    fig, ax = _figure(plt, len(table) * max(1, len(table.columns)) * 0.6 + 1)
    height = 0.8 / len(table.columns)
    for index, fmt in enumerate(table.columns):
        positions = [row + index * height for row in range(len(table))]
        bars = ax.barh(positions, table[fmt].fillna(0), height=height, label=f"eval: {fmt}",
                       color=FORMAT_COLOURS.get(fmt, "tab:gray"))
        ax.bar_label(bars, labels=["" if pd.isna(v) else f"{v:.2f}" for v in table[fmt]], padding=2, fontsize=8)
    ax.set_yticks([row + 0.4 - height / 2 for row in range(len(table))], table.index)
    ax.set(xlim=(0, 1.08), xlabel="held-out exact match", ylabel="model (training method, train format)",
           title="Held-out exact match by training method and eval format")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_eval_template_scatter(test: pd.DataFrame, path: str) -> None:
    """Each model evaluated both ways: EM with the chat template (y) against plain-text prompts (x)."""
    import matplotlib.pyplot as plt

    table = test.pivot_table(index="model_dir", columns="eval_format", values="exact_match").dropna()
    fig, ax = plt.subplots(figsize=(6.5, 6))
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", label="same accuracy")
    markers = "osD^vP*Xh<>"
    for index, (model_dir, row) in enumerate(table.iterrows()):
        ax.scatter(row.get("plain"), row.get("chat"), s=70, marker=markers[index % len(markers)],
                   label=Path(model_dir).name, zorder=3)
    if table.empty:
        ax.text(0.5, 0.5, "no model was evaluated in both formats", ha="center", va="center")
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="held-out EM, plain-text prompt",
           ylabel="held-out EM, chat template", title="Evaluation with vs without the chat template")
    ax.legend(loc="upper left", fontsize=8, title="model (train recipe)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_arguments(parser)
    parser.add_argument("--metrics", nargs="+", required=True,
                        help="eval_accuracy_plus JSON files, one per model, or directories of them")
    parser.add_argument("--pred_dir", required=True, help="holds <model>/test.jsonl for each evaluated model")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--paired", nargs=2, metavar=("AFTER", "BEFORE"),
                        help="also write AFTER_vs_BEFORE.json: paired bootstrap of held-out EM, AFTER minus BEFORE")
    args = parser.parse_args()
    overrides = overrides_from(args)
    params = load_section("report", args.params, overrides)
    eval_params = load_section("eval", args.params, overrides)
    paths = [found for path in args.metrics
             for found in (sorted(Path(path).glob("*.json")) if Path(path).is_dir() else [Path(path)])]
    evals = [read_json(path, required=EVAL_FIELDS) for path in paths]
    stale = [f"{path} (version {result['metric_version']})" for path, result in zip(paths, evals)
             if result["metric_version"] != METRIC_VERSION]
    if stale:
        raise StorylabError(f"scored by another metric version than this code's {METRIC_VERSION}: {', '.join(stale)}; "
                            "rerun their eval stages (dvc repro)")
    evals.sort(key=recipe_order)
    if not evals:
        raise StorylabError(f"--metrics {' '.join(args.metrics)}: no eval JSON files there; run the eval stages first")
    names = [result["model"] for result in evals]
    if args.paired and not set(args.paired) <= set(names):
        raise StorylabError(f"--paired {' '.join(args.paired)}: not among the evaluated models ({', '.join(names)})")
    predictions = load_predictions(args.pred_dir, names)

    import matplotlib

    matplotlib.use("Agg")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = comparison_frame(evals)
    frame.to_csv(out / "comparison.csv", index=False, float_format="%.4f")
    test = heldout(frame)
    chance = evals[0]["unseen"]["chance_exact_match"]
    plot_accuracy_bar(test, chance, str(out / "accuracy_bar.png"))
    plot_accuracy_grouped(test, str(out / "accuracy_grouped.png"))
    plot_eval_template_scatter(test, str(out / "eval_template_scatter.png"))
    (out / "error_analysis.md").write_text(error_analysis(predictions, params.error_analysis_questions),
                                           encoding="utf-8")

    counts = {split: evals[0][split]["all"]["count"] for split in SPLITS}
    sections = [f"{len(evals)} evaluations; questions per evaluation: {counts['train']} train (memorisation), "
                f"{counts['test']} held-out (extraction), {counts['unseen']} about people with no story (control).",
                "## Held-out questions (entities whose QA was never trained on)",
                headline_table(frame, params.pass_threshold).to_markdown(index=False),
                "## Memorisation vs extraction", split_table(frame, evals).to_markdown(index=False),
                "Unseen: people with no story anywhere; their EM should sit at the chance level of answering the "
                "most common train answer of each fact type.",
                "## Held-out exact match per fact type", fact_type_table(evals).to_markdown(index=False, floatfmt=".3f")]
    lines = rl_lines(evals)
    if args.paired:
        after, before = args.paired
        difference = paired_difference(predictions, after, before, eval_params.bootstrap_resamples, eval_params.seed)
        write_json(out / f"{after}_vs_{before}.json", {"metric_version": METRIC_VERSION, "test_exact_match": difference})
        lines.insert(0, f"{after} minus {before}, held-out EM: {difference['difference']:+.3f} (95% paired "
                        f"bootstrap CI [{difference['ci_low']:+.3f}, {difference['ci_high']:+.3f}]).")
    if lines:
        sections += ["## Reinforcement learning and preference optimisation", "\n".join(lines)
                     + "\n\nCurves: `dvc plots show`."]
    sections.append("Plots: accuracy_bar.png, accuracy_grouped.png, eval_template_scatter.png; "
                    "predictions side by side: error_analysis.md; every number: comparison.csv.")
    markdown = "\n\n".join(sections)
    (out / "summary.md").write_text(markdown + "\n", encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    run(main)
