"""The report's three plots, on the task's primary metric (the frame's `score` column) of the held-out split."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

FORMAT_COLOURS = {"chat": "tab:blue", "plain": "tab:orange"}


def _figure(plt, rows: int, width: float = 9.0):
    return plt.subplots(figsize=(width, max(3.0, 0.45 * rows + 1.5)))


def plot_accuracy_bar(test: pd.DataFrame, metric: str, chance: float | None, path: str) -> None:
    """The held-out score per evaluated model, with its 95% CI and the chance level where the task has one."""
    import matplotlib.pyplot as plt

    fig, ax = _figure(plt, len(test))
    errors = [test.score - test.score_ci_low, test.score_ci_high - test.score]
    ax.barh(test["eval"], test.score, xerr=errors, capsize=3,
            color=[FORMAT_COLOURS.get(f, "tab:gray") for f in test.eval_format])
    if chance is not None:
        ax.axvline(chance, color="black", linestyle=":", label=f"chance level ({chance:.3f})")
    ax.set(xlim=(0, 1), xlabel=f"held-out {metric} (95% CI)", ylabel="model",
           title=f"Held-out {metric} per model (colour: eval format)")
    ax.invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in FORMAT_COLOURS.values()]
    ax.legend(handles + ax.get_legend_handles_labels()[0],
              [f"eval: {f}" for f in FORMAT_COLOURS] + ax.get_legend_handles_labels()[1], loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_accuracy_grouped(test: pd.DataFrame, metric: str, path: str) -> None:
    """One group per trained model (labelled with its method and train format), one bar per eval format."""
    import matplotlib.pyplot as plt

    test = test.assign(group=[f"{Path(d).name} ({m})" if t == "-" else f"{Path(d).name} ({m}, trained {t})"
                              for d, m, t in zip(test.model_dir, test.method, test.train_format)])
    table = test.pivot_table(index="group", columns="eval_format", values="score", sort=False)
    fig, ax = _figure(plt, len(table) * max(1, len(table.columns)) * 0.6 + 1)
    height = 0.8 / len(table.columns)
    for index, fmt in enumerate(table.columns):
        positions = [row + index * height for row in range(len(table))]
        bars = ax.barh(positions, table[fmt].fillna(0), height=height, label=f"eval: {fmt}",
                       color=FORMAT_COLOURS.get(fmt, "tab:gray"))
        ax.bar_label(bars, labels=["" if pd.isna(v) else f"{v:.2f}" for v in table[fmt]], padding=2, fontsize=8)
    ax.set_yticks([row + 0.4 - height / 2 for row in range(len(table))], table.index)
    ax.set(xlim=(0, 1.08), xlabel=f"held-out {metric}", ylabel="model (training method, train format)",
           title=f"Held-out {metric} by training method and eval format")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_eval_template_scatter(test: pd.DataFrame, metric: str, path: str) -> None:
    """Each model evaluated both ways: the score with the chat template (y) against plain-text prompts (x)."""
    import matplotlib.pyplot as plt

    table = test.pivot_table(index="model_dir", columns="eval_format", values="score").dropna()
    fig, ax = plt.subplots(figsize=(6.5, 6))
    ax.plot([0, 1], [0, 1], color="gray", linestyle="--", label="same accuracy")
    markers = "osD^vP*Xh<>"
    for index, (model_dir, row) in enumerate(table.iterrows()):
        ax.scatter(row.get("plain"), row.get("chat"), s=70, marker=markers[index % len(markers)],
                   label=Path(model_dir).name, zorder=3)
    if table.empty:
        ax.text(0.5, 0.5, "no model was evaluated in both formats", ha="center", va="center")
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel=f"held-out {metric}, plain-text prompt",
           ylabel=f"held-out {metric}, chat template", title="Evaluation with vs without the chat template")
    ax.legend(loc="upper left", fontsize=8, title="model (train recipe)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_plots(test: pd.DataFrame, metric: str, chance: float | None, out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    plot_accuracy_bar(test, metric, chance, str(out_dir / "accuracy_bar.png"))
    plot_accuracy_grouped(test, metric, str(out_dir / "accuracy_grouped.png"))
    plot_eval_template_scatter(test, metric, str(out_dir / "eval_template_scatter.png"))
    return ["accuracy_bar.png", "accuracy_grouped.png", "eval_template_scatter.png"]
