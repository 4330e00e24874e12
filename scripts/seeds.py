"""Per-seed headline of each task from the experiments `make seeds` queued (one per task, setting and seed):
`metrics/<task>/seeds.csv` (one row per run), which the task's report turns into its seeds line.

    dvc exp show --csv > metrics/seeds_experiments.csv        # written by `make seeds`
    python scripts/seeds.py --csv metrics/seeds_experiments.csv --metrics_dir metrics

Experiments are named seeds-<task>-<setting>-s<seed>; the numbers are the task's headline (metrics/<task>/
headline.json): held-out score of SFT with its CI, train score, and RL minus SFT / control.
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

import argparse
import re
from pathlib import Path

import pandas as pd

from storylab import experiments
from storylab.errors import StorylabError, run

NAME = re.compile(r"^seeds-(?P<task>[a-z_]+)-(?P<setting>[a-z0-9]+)-s(?P<seed>\d+)$")
# seeds.csv column -> the headline key (scripts/report.py HEADLINE); the CIs of the differences are not in the
# headline (it fits one terminal row), so their columns stay empty.
COLUMNS = {"sft": "score", "sft_ci_low": "ci_low", "sft_ci_high": "ci_high", "sft_train": "train", "rl": None,
           "control": None, "rl_minus_sft": "rl-sft", "rl_minus_sft_ci_low": None, "rl_minus_sft_ci_high": None,
           "rl_minus_control": "rl-ctrl", "rl_minus_control_ci_low": None, "rl_minus_control_ci_high": None}


def seed_rows(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """One row per finished seeds experiment of the task, with its headline numbers."""
    names = frame["Experiment"].fillna("").astype(str)
    matched = names.str.extract(NAME)
    rows = experiments.finished(frame, matched["task"] == task)
    table = matched.loc[rows.index, ["setting", "seed"]].assign(seed=lambda t: t.seed.astype(int))
    for name, key in COLUMNS.items():
        found = [c for c in frame.columns if key and c.endswith(f"metrics/{task}/headline.json:{key}")]
        table[name] = pd.to_numeric(rows[found[0]], errors="coerce").values if found else float("nan")
    return table.sort_values(["setting", "seed"]).reset_index(drop=True)


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", required=True, help="`dvc exp show --csv` of the seeds experiments")
    parser.add_argument("--metrics_dir", required=True, help="writes <metrics_dir>/<task>/seeds.csv per task")
    args = parser.parse_args()
    if not Path(args.csv).is_file():
        raise StorylabError(f"{args.csv} not found; run `make seeds` first")
    frame = pd.read_csv(args.csv)
    if "Experiment" not in frame:
        raise StorylabError(f"{args.csv}: no Experiment column; was it written by `dvc exp show --csv`?")
    tasks = sorted({m["task"] for name in frame["Experiment"].dropna() if (m := NAME.match(str(name)))})
    if not tasks:
        raise StorylabError(f"{args.csv} holds no finished seeds-<task>-<setting>-s<seed> experiments")
    for task in tasks:
        table = seed_rows(frame, task)
        out = Path(args.metrics_dir, task, "seeds.csv")
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False, float_format="%.4f")
        print(f"{task}:\n{table.to_markdown(index=False, floatfmt='.3f')}\n")
    return f"seeds of {', '.join(tasks)} -> {args.metrics_dir}/<task>/seeds.csv"


if __name__ == "__main__":
    run(main)
