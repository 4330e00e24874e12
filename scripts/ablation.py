"""Knowledge-augmentation ablation: table, plot and README section from `dvc exp show --csv`.

    dvc exp show --csv > metrics/ablation.csv          # written by `make sweep`
    python scripts/ablation.py --csv metrics/ablation.csv --png metrics/ablation.png \
        --md metrics/ablation.md --readme docs/results.md

Reads only the committed CSV, so the table and plot reproduce from the repo without rerunning the sweep.
Train-split EM measures memorisation (QA trained on), test-split EM extraction (QA never trained on).
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

import argparse
from pathlib import Path

import pandas as pd

from storylab import experiments
from storylab.errors import StorylabError, run
from storylab.markdown_blocks import replace_block

# Each key as `make sweep` writes it now (story_qa's params and headline), then as the committed CSV has it (it
# predates the task registry: top-level params, metrics/eval_sft.json).
KNOBS = {"stories": ("tasks.story_qa.generate_stories.stories_per_entity", "generate_stories.stories_per_entity"),
         "permute": ("tasks.story_qa.generate_stories.permute_sentences", "generate_stories.permute_sentences"),
         "mix_qa": ("tasks.story_qa.train_sft.mix_qa", "train_sft.mix_qa")}
SCORES = {"train EM": ("train", "train.all.exact_match.mean"), "test EM": ("score", "test.all.exact_match.mean"),
          "test CI low": ("ci_low", "test.all.exact_match.ci_low"),
          "test CI high": ("ci_high", "test.all.exact_match.ci_high")}
SCALE = [("tasks.story_qa.generate_stories.num_entities", "generate_stories.num_entities"),
         ("tasks.story_qa.train_sft.num_train_epochs", "train_sft.num_train_epochs"),
         ("model.tiny.hidden_size",), ("model.tiny.num_hidden_layers",),
         ("tasks.story_qa.train_rl.method", "train_rl.method")]
METRICS_FILES = ("metrics/story_qa/headline.json", "metrics/eval_sft.json")


def column(frame: pd.DataFrame, keys: tuple[str, ...], metrics_files: tuple[str, ...] = ()) -> pd.Series:
    """The `dvc exp show --csv` column for the first of the keys it has (a metric prefixed by its file when
    ambiguous)."""
    for key in keys:
        matches = [c for c in frame.columns if c == key or c.endswith(":" + key)]
        if metrics_files:
            matches = [c for c in matches if c.startswith(metrics_files) or c == key]
        if matches:
            return frame[matches[0]]
    raise StorylabError(f"ablation CSV has no column for {keys[0]!r}; was it written by `dvc exp show --csv`?")


def ablation_table(frame: pd.DataFrame, metrics_files: tuple[str, ...] = METRICS_FILES) -> pd.DataFrame:
    """One row per finished experiment: the three knobs, memorisation and extraction EM."""
    finished = experiments.finished(frame, frame["Experiment"].fillna("").astype(str).str.startswith("ablation-"))
    table = pd.DataFrame({name: column(finished, key).values for name, key in KNOBS.items()})
    for name, key in SCORES.items():
        table[name] = pd.to_numeric(column(finished, key, metrics_files).values)
    table["gap"] = table["train EM"] - table["test EM"]
    for name in ("permute", "mix_qa"):
        table[name] = table[name].astype(str).str.lower().map({"true": "on", "false": "off"})
    table["stories"] = pd.to_numeric(table["stories"]).astype(int)
    return table.sort_values(["stories", "permute", "mix_qa"]).reset_index(drop=True)


def scale_line(frame: pd.DataFrame) -> str:
    rows = frame[frame["typ"] == "branch_commit"]
    values = []
    for key in SCALE:
        try:
            found = column(rows, key).dropna().astype(str).unique()
        except StorylabError:
            continue
        values.append(f"{key[0].split('.')[-1]}={'/'.join(found)}")
    return "Sweep scale (every cell): " + ", ".join(values)


def markdown(table: pd.DataFrame, scale: str) -> str:
    shown = table.assign(**{c: table[c].map("{:.3f}".format) for c in ("train EM", "test EM", "gap")})
    shown["test 95% CI"] = [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(table["test CI low"], table["test CI high"])]
    shown = shown[["stories", "permute", "mix_qa", "train EM", "test EM", "test 95% CI", "gap"]]
    return f"{scale}\n\n{shown.to_markdown(index=False)}\n"


def plot(table: pd.DataFrame, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.stories} {'stories' if r.stories > 1 else 'story'}\nperm {r.permute}\nmix {r.mix_qa}"
              for r in table.itertuples()]
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(table)), 4.8))
    x = range(len(table))
    ax.bar([i - 0.2 for i in x], table["train EM"], 0.4, label="train split EM (memorisation)", color="#9ecae1")
    ax.bar([i + 0.2 for i in x], table["test EM"], 0.4, label="held-out split EM (extraction)", color="#08519c",
           yerr=[table["test EM"] - table["test CI low"], table["test CI high"] - table["test EM"]], capsize=2)
    ax.set_xticks(list(x), labels, fontsize=7)
    ax.set_ylim(0, 1.25)
    ax.set_ylabel("exact match")
    ax.set_xlabel("cell: stories per person, sentence permutation, QA mixing")
    ax.set_title("Knowledge augmentation ablation: stories per person x sentence permutation x QA mixing")
    ax.legend(loc="upper center", ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", required=True)
    parser.add_argument("--png", required=True)
    parser.add_argument("--md", required=True)
    parser.add_argument("--readme", help="README with ablation markers to update")
    args = parser.parse_args()
    if not Path(args.csv).is_file():
        raise StorylabError(f"{args.csv} not found; run `make sweep` first")
    frame = pd.read_csv(args.csv)
    table = ablation_table(frame)
    if table.empty:
        raise StorylabError(f"{args.csv} holds no finished experiments; see `dvc queue status`")
    block = markdown(table, scale_line(frame))
    Path(args.md).write_text(block)
    plot(table, args.png)
    if args.readme:
        replace_block(args.readme, "ablation", block)
    print(block)


if __name__ == "__main__":
    run(main)
