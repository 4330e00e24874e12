"""Per-seed results of each task from the experiments `make seeds` queued (one per task, setting and seed):
`metrics/<task>/seeds.csv` (one row per seed), which the task's report turns into its seeds line and `make readme`
into the across-seed tables (scripts/results.py --seeds).

    dvc exp show --csv > metrics/seeds_experiments.csv        # written by `make seeds`
    python scripts/seeds.py --csv metrics/seeds_experiments.csv --metrics_dir metrics

Experiments are named seeds-<task>-<setting>-s<seed>. A row holds the experiment's report (metrics/<task>/report/
numbers.json, read from the experiment's commit): every arm's held-out score, every paired difference on the headline
split with its CI, and its GRPO run's diagnostics (metrics/<task>/train_rl.json, and the means of its entropy and
clip-ratio curves from dvclive/<task>/train_rl/). Rows of seeds that this csv does not
list are kept from the existing seeds.csv: an experiment no longer in the repository keeps its recorded numbers.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

import pandas as pd

from storylab import experiments
from storylab.errors import StorylabError, run
from storylab.reporting.seeds import CURVES  # GRPO's DVCLive curves, as their mean over the run

NAME = re.compile(r"^seeds-(?P<task>[a-z_]+)-(?P<setting>[a-z0-9]+)-s(?P<seed>\d+)$")
# The headline's columns (metrics/<task>/headline.json, in `dvc exp show`) that the report does not hold.
HEADLINE = {"sft_train": "train"}
# GRPO's diagnostics per seed (train_rl.json of the rl run): how much of the pool carried signal, and how much of each
# step's groups did.
DIAGNOSTICS = ("pool_kept", "pool_screened", "pool_solved_never", "pool_solved_always", "mean_reward",
               "mean_frac_reward_zero_std", "rollouts")


def from_commit(rev: str, path: str) -> str | None:
    """A file as the experiment's commit holds it; None where the commit or the file is not here."""
    shown = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else None


def curve_mean(text: str | None) -> float | None:
    """The mean of a DVCLive curve (a tsv of step and value)."""
    if not text:
        return None
    values = [float(line.split("\t")[1]) for line in text.splitlines()[1:] if line.strip()]
    return sum(values) / len(values) if values else None


def report_columns(numbers: dict) -> dict:
    """Every arm's held-out score (and SFT's CI) and every paired difference on the headline split with its CI."""
    row = {}
    for key, block in numbers.items():
        if not isinstance(block, dict) or "@" in key:
            continue
        if "difference" in block:
            row.update({key: block["difference"], f"{key}_ci_low": block["ci_low"], f"{key}_ci_high": block["ci_high"]})
        elif "test" in block:
            row[key] = block["test"]
            if key == "sft":
                row.update(sft_ci_low=block.get("ci_low"), sft_ci_high=block.get("ci_high"))
    return row


def seed_rows(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """One row per finished seeds experiment of the task."""
    names = frame["Experiment"].fillna("").astype(str)
    matched = names.str.extract(NAME)
    rows = experiments.finished(frame, matched["task"] == task)
    table = []
    for index, experiment in rows.iterrows():
        rev = str(experiment["rev"])
        row = {"setting": matched.at[index, "setting"], "seed": int(matched.at[index, "seed"]), "rev": rev}
        for name, key in HEADLINE.items():
            found = [c for c in frame.columns if c.endswith(f"metrics/{task}/headline.json:{key}")]
            row[name] = pd.to_numeric(experiment[found[0]], errors="coerce") if found else float("nan")
        numbers = from_commit(rev, f"metrics/{task}/report/numbers.json")
        if numbers is None:
            raise StorylabError(f"experiment {experiment['Experiment']} ({rev}): no metrics/{task}/report/numbers.json "
                                "in its commit; rerun make seeds")
        row.update(report_columns(json.loads(numbers)))
        grpo = json.loads(from_commit(rev, f"metrics/{task}/train_rl.json") or "{}")
        row.update({f"rl_{key}": grpo[key] for key in DIAGNOSTICS if key in grpo})
        for key, curve in CURVES.items():
            found = curve_mean(from_commit(rev, f"dvclive/{task}/train_rl/plots/metrics/{curve}"))
            if found is not None:
                row[f"rl_{key}"] = found
        table.append(row)
    return pd.DataFrame(table)


def merged(new: pd.DataFrame, existing: Path) -> pd.DataFrame:
    """The new rows, and the existing file's rows of the (setting, seed) pairs they do not replace."""
    if existing.is_file() and existing.stat().st_size:
        old = pd.read_csv(existing)
        if len(old):
            kept = old[~old.set_index(["setting", "seed"]).index.isin(new.set_index(["setting", "seed"]).index)]
            new = pd.concat([kept, new], ignore_index=True)
    return new.sort_values(["setting", "seed"]).reset_index(drop=True)


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", required=True, help="`dvc exp show --csv` of the seeds experiments")
    parser.add_argument("--metrics_dir", required=True, help="writes <metrics_dir>/<task>/seeds.csv per task")
    args = parser.parse_args()
    if not Path(args.csv).is_file():
        raise StorylabError(f"{args.csv} not found; run `make seeds` first")
    frame = pd.read_csv(args.csv)
    if "Experiment" not in frame or "rev" not in frame:
        raise StorylabError(f"{args.csv}: no Experiment / rev columns; was it written by `dvc exp show --csv`?")
    tasks = sorted({m["task"] for name in frame["Experiment"].dropna() if (m := NAME.match(str(name)))})
    if not tasks:
        raise StorylabError(f"{args.csv} holds no finished seeds-<task>-<setting>-s<seed> experiments")
    for task in tasks:
        out = Path(args.metrics_dir, task, "seeds.csv")
        table = merged(seed_rows(frame, task), out)
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False, float_format="%.4f")
        print(f"{task}:\n{table.drop(columns='rev').to_markdown(index=False, floatfmt='.3f')}\n")
    return f"seeds of {', '.join(tasks)} -> {args.metrics_dir}/<task>/seeds.csv"


if __name__ == "__main__":
    run(main)
