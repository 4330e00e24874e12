"""Compare a task's evaluated models from their metrics JSONs: summary, CSV, plots, error analysis, headline.

Core pipeline (dvc.yaml), one report per task:
    python scripts/report.py --task word_math --metrics metrics/word_math/eval \
        --pred_dir data/word_math/predictions --out_dir metrics/word_math/report \
        --headline metrics/word_math/headline.json
Variants pipeline (variants/dvc.yaml): the same, on metrics/variants/<task>/eval, without a headline, the pairs
given by --paired instead of the task's report.paired.

Each eval JSON carries the model's recipe (its training stages) and the eval format, so the tables and plots need
nothing else; the error analysis and paired differences read the held-out predictions beside them. The headline
is the few numbers `dvc metrics show` prints per task (held-out score with CI, train score, RL minus SFT and minus
the control); report/numbers.json has them per model with the differences' CIs.
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

from pathlib import Path

from storylab.cli import stage_parser, stage_params
from storylab.errors import StorylabError, run
from storylab.io import check_outputs, read_json, read_jsonl, write_json
from storylab.reporting import (FIELDS, comparison_frame, error_analysis, headline_table, heldout, paired_difference,
                                recipe_columns, recipe_order, rl_lines)
from storylab.reporting.plots import write_plots


def read_evals(paths: list[str], task) -> list[dict]:
    files = [found for path in paths for found in (sorted(Path(path).glob("*.json")) if Path(path).is_dir() else [Path(path)])]
    evals = [read_json(path, required=FIELDS) for path in files]
    if not evals:
        raise StorylabError(f"--metrics {' '.join(paths)}: no eval JSON files there; run the eval stages first")
    stale = [f"{path} (version {result['metric_version']})" for path, result in zip(files, evals)
             if result["metric_version"] != task.metric_version]
    if stale:
        raise StorylabError(f"scored by another metric version than {task.name}'s {task.metric_version}: "
                            f"{', '.join(stale)}; rerun their eval stages (dvc repro)")
    foreign = [str(path) for path, result in zip(files, evals) if result["task"] != task.name]
    if foreign:
        raise StorylabError(f"{foreign[0]}: an evaluation of another task than {task.name}; report one task at a time")
    return sorted(evals, key=lambda result: recipe_order(recipe_columns(result)))


def numbers(task, evals: list[dict], differences: dict[str, dict]) -> dict:
    """Each model's held-out score (sft with CI and train score), RL minus SFT and minus the control, with CIs
    (report/numbers.json; the headline's source)."""
    by_name = {result["model"]: result for result in evals}
    found: dict = {"metric_version": task.metric_version, "metric": task.primary_metric}
    for name, result in by_name.items():
        held = result[task.heldout_split]["all"][task.primary_metric]
        found[name] = {task.heldout_split: round(held["mean"], 4)}
        if name == "sft":
            found[name].update(ci_low=round(held["ci_low"], 4), ci_high=round(held["ci_high"], 4))
            if "train" in result["splits"]:  # eval.splits may score the held-out split alone
                found[name]["train"] = round(result["train"]["all"][task.primary_metric]["mean"], 4)
    for pair, diff in differences.items():
        found[pair.replace(":", "_minus_")] = {key: round(value, 4) for key, value in diff.items()}
    return found


# The headline's keys: short and flat, so that `dvc metrics show` prints one row per task within 120 columns.
HEADLINE = {"score": ("sft", "test"), "ci_low": ("sft", "ci_low"), "ci_high": ("sft", "ci_high"),
            "train": ("sft", "train"), "rl-sft": ("rl_minus_sft", "difference"),
            "rl-ctrl": ("rl_minus_control", "difference")}


def headline(task, found: dict) -> dict:
    """The few numbers `dvc metrics show` prints per task: the SFT model's held-out score with its CI and its train
    score, and RL minus SFT and minus the control (absent where the task trains no RL run)."""
    heldout = task.heldout_split
    picked = {key: found.get(model, {}).get(heldout if field == "test" else field)
              for key, (model, field) in HEADLINE.items()}
    return {"version": task.metric_version,
            **{key: round(value, 3) for key, value in picked.items() if value is not None}}


def seeds_lines(path: str, task) -> list[str]:
    """The `make seeds` results: per setting, the held-out score of each seed with mean and min, and RL's gain."""
    import pandas as pd

    table = pd.read_csv(path)
    lines = []
    for setting, runs in table.groupby("setting", sort=False):
        scores = ", ".join(f"seed {r.seed}: {r.sft:.3f}" for r in runs.itertuples())
        lines.append(f"- `{setting}`: SFT held-out {task.primary_metric} {scores}; mean {runs.sft.mean():.3f}, min "
                     f"{runs.sft.min():.3f}.")
        if runs.rl_minus_sft.notna().any():
            gains = ", ".join(f"{r.rl_minus_sft:+.3f}" + (f" [{r.rl_minus_sft_ci_low:+.3f}, {r.rl_minus_sft_ci_high:+.3f}]"
                                                          if r.rl_minus_sft_ci_low == r.rl_minus_sft_ci_low else "")
                              for r in runs.itertuples())
            controls = ", ".join(f"{r.rl_minus_control:+.3f}" for r in runs.itertuples())
            lines.append(f"  RL minus SFT per seed: {gains}; RL minus control: {controls}.")
    return lines


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--metrics", nargs="+", required=True,
                        help="eval_accuracy_plus JSON files, one per model, or directories of them")
    parser.add_argument("--pred_dir", required=True, help="holds <model>/<held-out split>.jsonl for each model")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--paired", nargs="*", metavar="AFTER:BEFORE",
                        help="(space- or comma-separated) paired bootstrap of the held-out check, AFTER minus BEFORE, "
                             "for each pair of evaluated models (default: the task's report.paired)")
    parser.add_argument("--headline", help="write the task's headline metrics (a dozen numbers) here")
    parser.add_argument("--seeds", help="the task's seeds.csv from `make seeds` (a header alone: not run yet)")
    args = parser.parse_args()
    task, params = stage_params(args, "eval", "report")
    check_outputs(dirs=[args.out_dir], files=[args.headline] if args.headline else [])
    evals = read_evals(args.metrics, task)
    names = [result["model"] for result in evals]
    paired = params.report.paired if args.paired is None else args.paired
    pairs = [pair.split(":") for arg in paired for pair in arg.split(",") if pair]  # a:b c:d, or a:b,c:d
    unknown = [":".join(pair) for pair in pairs if len(pair) != 2 or not set(pair) <= set(names)]
    if unknown:
        raise StorylabError(f"paired {unknown[0]!r}: expected AFTER:BEFORE of evaluated models ({', '.join(names)})")
    split = task.heldout_split
    scored = [s for s in task.heldout_splits if all(s in result["splits"] for result in evals)]
    predictions_of = {s: {name: {r["id"]: r for r in read_jsonl(Path(args.pred_dir, name, f"{s}.jsonl"),
                                                                 required=("id", "question", "gold", "prediction"))}
                          for name in names} for s in scored}
    predictions = predictions_of[split]

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = comparison_frame(evals, task.primary_metric)
    frame.to_csv(out / "comparison.csv", index=False, float_format="%.4f")
    test = heldout(frame, split)
    chance = evals[0].get("unseen", {}).get("chance_exact_match")
    plots = write_plots(test, task.primary_metric, chance, out)
    (out / "error_analysis.md").write_text(error_analysis(task, predictions, params.report.error_analysis_questions),
                                           encoding="utf-8")
    # One paired bootstrap per pair and held-out split (keys `after:before`, and `after:before@split` beyond the
    # headline's split).
    differences = {f"{a}:{b}" + ("" if s == split else f"@{s}"):
                   paired_difference(task, predictions_of[s], a, b, params.eval.bootstrap_resamples, params.eval.seed)
                   for s in scored for a, b in pairs}
    counts = ", ".join(f"{evals[0][s]['all']['count']} {s}" for s in evals[0]["splits"])
    sections = [f"# {task.name}: {len(evals)} evaluations", f"Questions per evaluation: {counts}.",
                f"## Held-out questions ({split} split, {task.primary_metric})",
                headline_table(test, params.report.pass_threshold).to_markdown(index=False),
                *task.report_sections(evals, predictions, params.eval.bootstrap_resamples, params.eval.seed)]
    lines = [f"{pair.replace(':', ' minus ').replace('@', ', on ')}, held-out {task.primary_metric}: {d['difference']:+.3f} (95% paired "
             f"bootstrap CI [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]); {d['better']} questions better, {d['worse']} "
             f"worse, {d['same']} the same." for pair, d in differences.items()]
    lines += rl_lines(evals)
    if lines:
        sections += ["## Reinforcement learning, preference optimisation and the control", "\n".join(lines)
                     + "\n\nCurves: `dvc plots show`."]
    seeds = seeds_lines(args.seeds, task) if args.seeds and Path(args.seeds).is_file() else []  # none: not run yet
    if seeds:
        sections += ["## Across seeds (`make seeds`: people / problems, split, init and data order redrawn)",
                     "\n".join(seeds)]
    sections.append(f"Plots: {', '.join(plots)}; predictions side by side: error_analysis.md; every number: "
                    "comparison.csv.")
    markdown = "\n\n".join(sections)
    (out / "summary.md").write_text(markdown + "\n", encoding="utf-8")
    found = numbers(task, evals, differences)
    write_json(out / "numbers.json", found)
    if args.headline:
        write_json(args.headline, headline(task, found))
    print(markdown)
    return f"{task.name}: report of {len(evals)} evaluations -> {out}"


if __name__ == "__main__":
    run(main)
