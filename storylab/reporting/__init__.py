"""The report's tables, from the eval JSONs alone (each carries its task, recipe and eval format): the comparison
frame (every evaluation x split x subset x metric with CIs), the headline table, the RL lines, paired differences
and the error analysis. Task-specific sections come from the task (Task.report_sections)."""
from __future__ import annotations

import pandas as pd

from storylab.metrics.stats import paired_difference_ci

FIELDS = ("metric_version", "task", "model", "model_dir", "eval_format", "recipe", "splits")


def recipe_columns(result: dict) -> dict:
    """How the model was made, from its recipe: method (stages joined by +), train format, QA loss, steps."""
    recipe = result["recipe"]
    sft = next((stage for stage in recipe if stage["stage"] == "sft"), {})
    later = [stage for stage in recipe[1:]]
    return {"method": "+".join(stage["stage"] for stage in recipe) or "untuned",
            "train_format": recipe[0]["train_format"] if recipe else "-",
            "qa_loss": sft.get("qa_loss", "-"), "sft_steps": sft.get("steps", 0),
            "rl_steps": sum(stage.get("steps", 0) for stage in later), "eval_format": result["eval_format"]}


def recipe_order(columns: dict) -> tuple:
    """Untuned first, then by train format, method, QA loss and length; a model's eval formats side by side."""
    return (columns["train_format"] != "-", columns["train_format"], columns["method"], columns["qa_loss"],
            columns["sft_steps"], columns["eval_format"] != columns["train_format"])


def subsets(block: dict) -> list[str]:
    return [name for name, value in block.items() if isinstance(value, dict) and "count" in value]


def comparison_frame(evals: list[dict], primary: str) -> pd.DataFrame:
    """One row per (evaluation, split, subset): the recipe, every metric's mean and 95% CI; `score` is the task's
    primary metric, which the plots and the headline use."""
    rows = []
    for result in evals:
        model = {"eval": result["model"], "model_dir": result["model_dir"], **recipe_columns(result)}
        for split in result["splits"]:
            for subset in subsets(result[split]):
                block = result[split][subset]
                row = {**model, "split": split, "subset": subset, "count": block["count"]}
                for metric, value in block.items():
                    if metric != "count":
                        value = value or {}
                        row.update({metric: value.get("mean"), f"{metric}_ci_low": value.get("ci_low"),
                                    f"{metric}_ci_high": value.get("ci_high")})
                rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.assign(score=frame[primary], score_ci_low=frame[f"{primary}_ci_low"],
                        score_ci_high=frame[f"{primary}_ci_high"])


def heldout(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    return frame[(frame.split == split) & (frame.subset == "all")].reset_index(drop=True)


def headline_table(test: pd.DataFrame, pass_threshold: float) -> pd.DataFrame:
    """The original experiments' shape: model, correct answers, total questions, score, status (held-out)."""
    return pd.DataFrame({
        "model": test["eval"], "method": test.method, "SFT steps": test.sft_steps, "RL steps": test.rl_steps,
        "train format": test.train_format, "eval format": test.eval_format,
        "correct": (test.score * test["count"]).round().astype(int), "total": test["count"],
        "score": test.score.map("{:.3f}".format),
        "95% CI": [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(test.score_ci_low, test.score_ci_high)],
        "status": ["pass" if value >= pass_threshold else "fail" for value in test.score],
    })


def _grpo_line(stage: dict) -> str:
    rollouts = f", {stage['rollouts']} rollouts" if "rollouts" in stage else ""
    screened = (f" The pool was screened as it trained (the current model's samples): {stage['pool_kept']} of "
                f"{stage['pool_screened']} problems kept ({stage['pool_solved_never']:.0%} never solved, "
                f"{stage['pool_solved_always']:.0%} always).") if "pool_kept" in stage else ""
    line = (f"GRPO ({stage['steps']} steps{rollouts}): mean reward {stage['mean_reward']:.3f}; "
            f"{stage['mean_frac_reward_zero_std']:.0%} of the groups had one reward for all their completions "
            "(zero advantage, so no gradient from them).")
    if stage["mean_frac_reward_zero_std"] >= 0.99:
        line += (" Almost no learning signal: the starting model answers every train question the same way each "
                 "time (all right when the QA is memorised, all wrong when it was never trained).")
    return line + screened


STAGE_LINES = {
    "grpo": _grpo_line,
    "dpo": lambda s: (f"DPO ({s['steps']} steps), {s['heldout_pairs']} held-out preference pairs: " + "; ".join(
        f"{kind}accuracy {s['heldout_preference_accuracy' + key]:.3f}, reward margin "
        f"{s['heldout_reward_margin' + key]:+.3f} (chosen {s['heldout_reward_chosen' + key]:+.3f}, rejected "
        f"{s['heldout_reward_rejected' + key]:+.3f})"
        for key, kind in (("", ""), ("_easy", "easy pairs: "), ("_hard", "hard pairs: "))
        if "heldout_preference_accuracy" + key in s) + "."),
    "sft-continued": lambda s: f"SFT continued for {s['steps']} more steps (the control: the compute of the RL run).",
    "rft": lambda s: (f"Expert iteration: {s['rollouts']} samples on {s['rft_problems']} pool problems, "
                      f"{s['rft_solved']:.0%} solved at least once, {s['rft_kept']} distinct right answers kept; SFT "
                      f"continued {s['steps']} steps on them and the demonstrations."),
    "sft-bound": lambda s: (f"SFT continued {s['steps']} steps on the pool's worked solutions ({s['sft_examples']} "
                            "examples: the upper bound, perfect demonstrations for every pool problem)."),
}


def rl_lines(evals: list[dict]) -> list[str]:
    """What each stage after the first SFT saw, once per trained model."""
    lines = {}
    for result in evals:
        for stage in result["recipe"][1:]:
            if stage["stage"] in STAGE_LINES:
                lines.setdefault(result["model_dir"], f"- `{result['model']}`: " + STAGE_LINES[stage["stage"]](stage))
    return list(lines.values())


def paired_difference(task, predictions: dict[str, dict[str, dict]], after: str, before: str,
                      resamples: int, seed: int) -> dict:
    """Paired bootstrap of the held-out check, `after` minus `before`, over the same questions, with how many
    questions got better (wrong -> right), worse and stayed the same (the two models' error analysis in numbers)."""
    ids = list(predictions[before])
    hits = {name: [task.check(predictions[name][i]["prediction"], predictions[name][i]["gold"], predictions[name][i])
                   for i in ids] for name in (after, before)}
    moves = [float(a) - float(b) for a, b in zip(hits[after], hits[before])]
    return {**paired_difference_ci(hits[after], hits[before], resamples, seed),
            "better": sum(m > 0 for m in moves), "worse": sum(m < 0 for m in moves),
            "same": sum(m == 0 for m in moves)}


def error_analysis(task, predictions: dict[str, dict[str, dict]], questions: int) -> str:
    """Held-out questions with the gold answer and every model's prediction side by side; questions the models
    disagree on (some right, some wrong) first, then the ones all miss, then the ones all get right."""
    names = list(predictions)
    ids = list(predictions[names[0]])
    hits = {qid: [task.check(predictions[n][qid]["prediction"], predictions[n][qid]["gold"], predictions[n][qid])
                  for n in names] for qid in ids}
    # 0: the models disagree, 1: all wrong, 2: all right.
    group = {qid: 0 if 0 < sum(h) < len(names) else 1 if sum(h) == 0 else 2 for qid, h in hits.items()}
    chosen = sorted(ids, key=lambda qid: (group[qid], qid))[:questions]
    disagreements = sum(g == 0 for g in group.values())

    def cell(text: str) -> str:
        return (text or "(empty)").replace("\n", "<br>").replace("|", "\\|")

    rows = []
    for qid in chosen:
        first = predictions[names[0]][qid]
        rows.append([cell(first["question"]), cell(first["gold"]),
                     *[("✓ " if hit else "✗ ") + cell(predictions[n][qid]["prediction"]) for n, hit in zip(names, hits[qid])]])
    table = pd.DataFrame(rows, columns=["question", "gold", *names]).to_markdown(index=False)
    return (f"# Error analysis: held-out questions\n\n{len(ids)} held-out questions; the models disagree on "
            f"{disagreements}. Shown: {len(chosen)}, disagreements first (✓ right by the task's check, ✗ not).\n\n"
            f"{table}\n")
