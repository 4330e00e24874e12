"""A task's results over data seeds: seed 0 is the committed `make all` run (metrics/<task>/report/numbers.json), the
others `make seeds` experiments (metrics/<task>/seeds.csv). The per-seed table (every arm, every paired difference
with its CI) and, per difference, its mean over seeds with a CI across seeds; the README's claim is written from
the latter (scripts/results.py --seeds)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from storylab.io import read_json
from storylab.metrics.stats import across_seeds

ARMS = {"sft": "SFT", "control": "control", "rl": "GRPO", "rft": "RFT", "bound": "bound"}
PAIRS = {"rl_minus_sft": "GRPO − SFT", "rl_minus_control": "GRPO − control", "rft_minus_sft": "RFT − SFT",
         "rl_minus_rft": "GRPO − RFT", "control_minus_sft": "control − SFT", "bound_minus_sft": "bound − SFT"}
HEADLINE_PAIRS = ("rl_minus_control", "rl_minus_sft", "rft_minus_sft", "rl_minus_rft")  # the README's lines
# GRPO's diagnostics per seed (scripts/seeds.py writes them as rl_<key>): what the pool screen kept, and how often a
# group of completions all scored the same (no advantage, no signal).
DIAGNOSTICS = {"pool_kept": "pool kept", "pool_solved_never": "never solved", "pool_solved_always": "always solved",
               "mean_reward": "mean reward", "mean_frac_reward_zero_std": "zero-variance groups",
               "mean_entropy": "entropy", "mean_clip_ratio": "clipped ratio"}
CURVES = {"mean_entropy": "entropy.tsv", "mean_clip_ratio": "clip_ratio/region_mean.tsv"}  # as scripts/seeds.py


def seeds_frame(metrics_dir: Path, task: str) -> pd.DataFrame:
    """One row per seed: seed 0 from the committed run's report, the others from seeds.csv (default setting)."""
    numbers = read_json(metrics_dir / task / "report" / "numbers.json")
    row = {"seed": 0, **{arm: numbers[arm]["test"] for arm in ARMS if arm in numbers}}
    for pair in PAIRS:
        if pair in numbers:
            block = numbers[pair]
            row.update({pair: block["difference"], f"{pair}_ci_low": block["ci_low"], f"{pair}_ci_high": block["ci_high"]})
    grpo = metrics_dir / task / "train_rl.json"
    if grpo.is_file():
        found = read_json(grpo)
        row.update({f"rl_{key}": found[key] for key in DIAGNOSTICS if key in found})
    for key, curve in CURVES.items():
        tsv = metrics_dir.parent / "dvclive" / task / "train_rl" / "plots" / "metrics" / curve
        if tsv.is_file():
            row[f"rl_{key}"] = pd.read_csv(tsv, sep="\t").iloc[:, 1].mean()
    path = metrics_dir / task / "seeds.csv"
    others = pd.read_csv(path) if path.is_file() and path.stat().st_size else pd.DataFrame()
    if len(others):
        others = others[(others["setting"] == "default") & (others["seed"] != 0)]
    return pd.concat([pd.DataFrame([row]), others], ignore_index=True).sort_values("seed").reset_index(drop=True)


def _ci(row, pair: str) -> str:
    value, low = row.get(pair), row.get(f"{pair}_ci_low")
    if value is None or value != value:
        return "–"
    return f"{value:+.3f}" + (f" [{low:+.3f}, {row[f'{pair}_ci_high']:+.3f}]" if low == low and low is not None else "")


def per_seed_table(frame: pd.DataFrame) -> list[str]:
    arms = [arm for arm in ARMS if arm in frame]
    pairs = [pair for pair in PAIRS if pair in frame]
    rows = ["| seed | " + " | ".join(ARMS[a] for a in arms) + " | " + " | ".join(PAIRS[p] for p in pairs) + " |",
            "|---" * (1 + len(arms) + len(pairs)) + "|"]
    for row in frame.to_dict("records"):
        scores = [f"{row[a]:.3f}" if row[a] == row[a] else "–" for a in arms]
        rows.append(f"| {row['seed']} | " + " | ".join(scores) + " | " + " | ".join(_ci(row, p) for p in pairs) + " |")
    return rows


def summary(frame: pd.DataFrame) -> dict[str, dict]:
    """Per paired difference: its mean over the seeds that have it, with the across-seed CI, range and sign count."""
    return {pair: stats for pair in PAIRS if pair in frame and (stats := across_seeds(frame[pair].tolist()))}


def diagnostics_table(frame: pd.DataFrame) -> list[str]:
    """GRPO's own curves' summaries per seed, beside its gain over the control: what differs where it gains."""
    columns = [key for key in DIAGNOSTICS if f"rl_{key}" in frame]
    rows = ["| seed | GRPO − control | " + " | ".join(DIAGNOSTICS[k] for k in columns) + " |", "|---" * (2 + len(columns)) + "|"]
    for row in frame.to_dict("records"):
        cells = [("–" if row.get(f"rl_{k}") is None or row[f"rl_{k}"] != row[f"rl_{k}"]
                  else f"{row[f'rl_{k}']:.0f}" if k == "pool_kept" else f"{row[f'rl_{k}']:.4f}") for k in columns]
        rows.append(f"| {row['seed']} | {_ci(row, 'rl_minus_control')} | " + " | ".join(cells) + " |")
    return rows


def summary_table(frame: pd.DataFrame, pairs=tuple(PAIRS)) -> list[str]:
    rows = ["| held-out pass@1 | seeds | mean [95% CI across seeds] | per-seed range | above 0 on |", "|---|---|---|---|---|"]
    for pair, s in ((p, found) for p, found in summary(frame).items() if p in pairs):
        seeds = ", ".join(str(seed) for seed, value in zip(frame["seed"], frame[pair]) if value == value)
        rows.append(f"| {PAIRS[pair]} | {seeds} | {s['mean']:+.3f} [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}] | "
                    f"{s['min']:+.3f} to {s['max']:+.3f} | {s['above_zero']} of {s['n']} |")
    return rows


def claim(frame: pd.DataFrame, task: str) -> str:
    """The README's sentence on what RL bought, from the across-seed summary: it says whether GRPO's gain over the
    equal-compute control holds across seeds, and names the method whose gain does."""
    stats = summary(frame)
    control, rft = stats.get("rl_minus_control"), stats.get("rft_minus_sft")
    if not control:
        return ""

    def said(s: dict) -> str:
        return f"{s['mean']:+.3f} [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}] over {s['n']} seeds, above 0 on {s['above_zero']}"

    holds = control["ci_low"] > 0 and control["above_zero"] >= control["n"] - 1
    text = (f"**{task} across seeds:** GRPO − equal-compute control {said(control)}: "
            + ("GRPO's gain over the control holds across seeds." if holds else
               "GRPO's gain over the control does **not** hold across seeds (its CI reaches 0, or it is not above 0 "
               "on all seeds but one)."))
    if rft:
        rft_holds = rft["ci_low"] > 0
        text += (f" Expert iteration (RFT) − SFT {said(rft)}: "
                 + ("its gain holds." if rft_holds else "its gain does not hold either."))
    return text
