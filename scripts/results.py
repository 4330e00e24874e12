"""One table of every task's results, from the reports the pipeline wrote (metrics/<task>/report/numbers.json):
the SFT model's held-out score with its 95% CI, and what RL bought against SFT and against the control (paired
bootstrap CIs). `make results` prints it; `make all` ends with it. With --pretrained, the pretrained pipeline's
tables instead (metrics/pretrained/<data>/: every evaluation with its recipe, the paired differences, and the tiny
model's held-out score on the same task beside them); `make pretrained` ends with them.

    python scripts/results.py [--metrics_dir metrics] [--pretrained | --variants | --arms TASK | --seeds TASK | --reports] [--readme README.md]

--readme writes the table between the document's `<!-- results:start -->` and `<!-- results:end -->` markers
(`make readme`), so the README's numbers are the committed metrics'. With --pretrained it writes the short form
into `<!-- pretrained:... -->` markers (README.md) and the full tables into `<!-- pretrained-tables:... -->` ones
(docs/results.md). With --variants, one table per task of the variants pipeline (metrics/variants/<task>/report/
comparison.csv: each recipe's score on every held-out split) into `<!-- variants-<task>:... -->` markers. With
--arms TASK, that task's models on every held-out split with their training cost (rollouts, tokens) and every paired
difference of its report, into `<!-- arms-TASK:... -->` markers. With --seeds TASK, that task over its data seeds
(storylab/reporting/seeds.py). With --reports, the head of every registered task's report (metrics/<task>/report/
summary.md: each model on the held-out split with its CI) into `<!-- report-<task>:... -->` markers (docs/results.md).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from storylab.config.loader import overlaid, read_yaml
from storylab.errors import StorylabError, run
from storylab.io import read_json
from storylab.markdown_blocks import replace_block
from storylab.reporting import provenance, seeds
from storylab.tasks import get_task
from storylab.tasks.registry import TASKS

OVERLAY = Path("configs/pretrained.yaml")
# Beside each task's held-out score: (column, subset of the held-out split, metric); "unseen:" reads that split.
EXTRAS = {
    "instruct": [("EM short", "short", "exact_match"), ("token F1", "all", "token_f1"), ("ROUGE-L", "all", "rouge_l")],
    "word_math": [("no ####", "all", "no_marker"), ("shows working", "all", "shows_working")],
    "story_qa": [("token F1", "all", "token_f1"), ("EM, train questions", "train:all", "exact_match"),
                 ("EM, people in no story", "unseen:all", "exact_match")],
    "spec_story": [("horror style", "all", "style"), ("repeated 4-grams", "all", "repeated_4gram"),
                   ("reference perplexity", "reference_ppl", "perplexity"), ("words", "all", "words")],
    "tag_story": [("tag coverage", "all", "coverage"), ("repeated 4-grams", "all", "repeated_4gram"),
                  ("reference perplexity", "reference_ppl", "perplexity"), ("words", "all", "words")],
}


def cell(block: dict | None, value: str = "difference") -> str:
    if not block:
        return "-"
    return f"{block[value]:+.3f} [{block['ci_low']:+.3f}, {block['ci_high']:+.3f}]"


def table(metrics_dir: Path) -> list[str]:
    rows = ["| task | metric | held-out (SFT) [95% CI] | train | RL - SFT [CI] | RL - control [CI] | "
            "RL - control over seeds [CI across seeds] |", "|---|---|---|---|---|---|---|"]
    for path in sorted(metrics_dir.glob("*/report/numbers.json")):
        found = read_json(path, required=("sft",))
        sft = found["sft"]
        score = next(value for key, value in sft.items() if key not in ("ci_low", "ci_high", "train"))
        train = f"{sft['train']:.3f}" if "train" in sft else "-"  # eval.splits may leave train out
        rows.append(f"| {path.parts[-3]} | {found.get('metric', '-')} | {score:.3f} [{sft['ci_low']:.3f}, "
                    f"{sft['ci_high']:.3f}] | {train} | {cell(found.get('rl_minus_sft'))} | "
                    f"{cell(found.get('rl_minus_control'))} | {over_seeds(metrics_dir, path.parts[-3])} |")
    return rows + ["", provenance.line("dvc.yaml", "make all")] if len(rows) > 2 else rows


def over_seeds(metrics_dir: Path, task: str) -> str:
    """RL minus control's mean over the task's seeds (seed 0 and `make seeds`), or '-' without seeds."""
    found = seeds.summary(seeds.seeds_frame(metrics_dir, task)).get("rl_minus_control")
    if not found:
        return "-"
    return f"{found['mean']:+.3f} [{found['ci_low']:+.3f}, {found['ci_high']:+.3f}], {found['n']} seeds"


def seeds_blocks(metrics_dir: Path, task: str) -> dict[str, list[str]]:
    """`seeds-TASK`: the claim and the across-seed summary of the headline differences (README); `seeds-TASK-runs`:
    every difference's summary, every seed's arms and paired differences, and GRPO's diagnostics (docs/results.md)."""
    frame = seeds.seeds_frame(metrics_dir, task)
    if len(frame) < 2:
        raise StorylabError(f"{metrics_dir}/{task}/seeds.csv: no seed besides 0; run make seeds")
    return {f"seeds-{task}": [seeds.claim(frame, task), "", *seeds.summary_table(frame, seeds.HEADLINE_PAIRS)],
            f"seeds-{task}-runs": [*seeds.summary_table(frame), "", *seeds.per_seed_table(frame), "",
                                   "GRPO's diagnostics per seed (metrics/<task>/train_rl.json of each run):", "",
                                   *seeds.diagnostics_table(frame)]}


def value(result: dict, where: str, metric: str, split: str = "test") -> float | None:
    split, _, subset = where.rpartition(":") if ":" in where else (split, "", where)
    block = result.get(split, {}).get(subset, {}).get(metric)
    return block["mean"] if isinstance(block, dict) else block


def score_cell(result: dict, metric: str) -> str:
    held = result["test"]["all"][metric]
    return f"{held['mean']:.3f} [{held['ci_low']:.3f}, {held['ci_high']:.3f}]"


def sft_stage(result: dict) -> dict | None:
    """The SFT stage of an evaluated model's recipe (None: the untuned model)."""
    return next((stage for stage in result["recipe"] if stage["stage"] == "sft"), None)


def scale_pairs(params: dict, scale: str) -> list[str]:
    """The AFTER:BEFORE pairs a dataset's report compares (variants.scale.<name>.paired, comma-separated)."""
    return [pair for pair in params["variants"]["scale"][scale].get("paired", "").split(",") if pair]


def tiny_result(metrics_dir: Path, folder: Path, task: str) -> dict | None:
    """`make all`'s SFT evaluation of the same task, beside the dataset that has the task's name (not story_qa-naive)."""
    path = metrics_dir / task / "eval" / "sft.json"
    return read_json(path) if path.is_file() and folder.name == task else None


def extra_cells(result: dict, task: str) -> list[str]:
    found = [value(result, where, metric) for _, where, metric in EXTRAS.get(task, [])]
    return ["-" if number is None else f"{number:.3f}" if number < 10 else f"{number:.0f}" for number in found]


def pretrained_tables(metrics_dir: Path, params: dict) -> list[str]:
    """Per dataset of the pretrained pipeline: each evaluation (model, adapter, train recipe, eval format, steps,
    examples, held-out score with CI, the task's other numbers), the tiny model's SFT score on the same task
    (make all) below it, and the paired differences with how many questions got better, worse, stayed the same."""
    lora = params["model"]["lora"]
    adapter = f"LoRA r{lora['r']} {lora['target_modules']}" if lora["enabled"] else "full"
    lines = []
    for folder in sorted(path for path in (metrics_dir / "pretrained").iterdir() if (path / "eval").is_dir()):
        evals = [read_json(path) for path in sorted((folder / "eval").glob("*.json"))]
        if not evals:
            continue
        task = evals[0]["task"]
        metric = read_json(folder / "report/numbers.json")["metric"] if (folder / "report/numbers.json").is_file() else None
        metric = metric or next(iter(evals[0]["test"]["all"].keys() - {"count"}))
        batch = {**params["train_sft"], **(params["tasks"][task].get("train_sft") or {})}["per_device_train_batch_size"]
        extras = [name for name, _, _ in EXTRAS.get(task, [])]
        lines += [f"**{folder.name}** ({task}; {evals[0]['test']['all']['count']} held-out, "
                  f"`metrics/pretrained/{folder.name}/`)", "",
                  "| model | weights | trained | asked | steps | examples | " + " | ".join([metric, *extras]) + " |",
                  "|---" * (7 + len(extras)) + "|"]
        for result in evals:
            sft = sft_stage(result)
            trained = f"{sft['train_format']}, loss on {sft['qa_loss']}" if sft else "untuned"
            steps = sft["steps"] if sft else 0
            lines.append(f"| {result['model']} | SmolLM2-135M-Instruct{' + ' + adapter if sft else ''} | {trained} | "
                         f"{result['eval_format']} | {steps} | {steps * batch} | {score_cell(result, metric)} | "
                         + " | ".join(extra_cells(result, task)) + " |")
        result = tiny_result(metrics_dir, folder, task)
        if result:
            steps = result["recipe"][0]["steps"]
            lines.append(f"| tiny (make all, {result['test']['all']['count']} held-out) | from scratch, full | "
                         f"{result['recipe'][0]['train_format']} | {result['eval_format']} | {steps} | - | "
                         f"{score_cell(result, metric)} | " + " | ".join(extra_cells(result, task)) + " |")
        numbers = read_json(folder / "report/numbers.json") if (folder / "report/numbers.json").is_file() else {}
        lines.append("")
        for pair in scale_pairs(params, folder.name):
            found = numbers.get(pair.replace(":", "_minus_"))
            if found:
                lines.append(f"- {pair.replace(':', ' minus ')}: {found['difference']:+.3f} [{found['ci_low']:+.3f}, "
                             f"{found['ci_high']:+.3f}] (paired bootstrap); {found['better']} better, {found['worse']} "
                             f"worse, {found['same']} the same")
        lines.append("")
    return lines


def pretrained_summary(metrics_dir: Path, params: dict) -> list[str]:
    """The README's short form: per compared pair of each dataset (tuned after untuned), both held-out scores, the
    paired difference and the tiny model's score; then every model asked in both prompt formats (the chat-template
    matrix), one row per model."""
    rows = ["| data | metric | before | after | before [95% CI] | after [95% CI] | after - before [paired CI] | "
            "better / worse / same | tiny model (make all) |", "|---" * 9 + "|"]
    matrix = []
    for folder in sorted(path for path in (metrics_dir / "pretrained").iterdir() if (path / "report/numbers.json").is_file()):
        numbers = read_json(folder / "report/numbers.json")
        evals = {path.stem: read_json(path) for path in sorted((folder / "eval").glob("*.json"))}
        metric = numbers["metric"]
        task = next(iter(evals.values()))["task"]
        tiny = tiny_result(metrics_dir, folder, task)
        tiny_cell = score_cell(tiny, metric) if tiny else "-"
        for pair in scale_pairs(params, folder.name):
            after, before = pair.split(":")
            found = numbers.get(pair.replace(":", "_minus_"))
            if found and after in evals and before in evals:
                rows.append(f"| {folder.name} | {metric} | {before} | {after} | {score_cell(evals[before], metric)} | "
                            f"{score_cell(evals[after], metric)} | {found['difference']:+.3f} [{found['ci_low']:+.3f}, "
                            f"{found['ci_high']:+.3f}] | {found['better']} / {found['worse']} / {found['same']} | {tiny_cell} |")
        by_model: dict[str, dict[str, dict]] = {}
        for result in evals.values():
            by_model.setdefault(result["model_dir"], {})[result["eval_format"]] = result
        both = {model: cells for model, cells in by_model.items() if {"chat", "plain"} <= set(cells)}
        if both:
            matrix += [f"**{folder.name}: the chat-template matrix** ({metric}, held-out [95% CI]; rows: how the model "
                       "was trained, columns: how it was asked)", "",
                       "| model | trained | asked with the chat template | asked in plain text |", "|---|---|---|---|"]
            for model, cells in both.items():
                sft = sft_stage(cells["chat"])
                trained = f"LoRA SFT, {sft['train_format']}, loss on {sft['qa_loss']}, {sft['steps']} steps" if sft else "untuned"
                matrix.append(f"| {Path(model).name} | {trained} | {score_cell(cells['chat'], metric)} | "
                              f"{score_cell(cells['plain'], metric)} |")
            matrix.append("")
    return rows + [""] + matrix if len(rows) > 2 else []


def score_ci(row: pd.Series) -> str:
    return f"{row['score']:.3f} [{row['score_ci_low']:.3f}, {row['score_ci_high']:.3f}]"


def heldout_scores(frame: pd.DataFrame, task: str) -> tuple[pd.DataFrame, list[str]]:
    """A report's comparison.csv cut to whole splits, indexed by (eval, split), and the task's held-out splits in it."""
    splits = [split for split in get_task(task).heldout_splits if split in set(frame["split"])]
    return frame[frame["subset"] == "all"].set_index(["eval", "split"]), splits


def variants_table(csv: Path) -> list[str]:
    """Each variant's recipe and its score [CI] on every held-out split of its task, in the report's order."""
    frame = pd.read_csv(csv)
    scores, splits = heldout_scores(frame, csv.parts[-3])
    recipes = frame.drop_duplicates("eval").set_index("eval")
    columns = ["method", "train_format", "qa_loss", "sft_steps", "rl_steps", "eval_format"]
    rows = ["| model | " + " | ".join(columns) + " | " + " | ".join(f"{split} [95% CI]" for split in splits) + " |",
            "|---" * (1 + len(columns) + len(splits)) + "|"]
    for name, recipe in recipes.iterrows():
        cells = [score_ci(scores.loc[(name, split)]) if (name, split) in scores.index else "-" for split in splits]
        rows.append(f"| {name} | " + " | ".join(str(recipe[column]) for column in columns) + " | "
                    + " | ".join(cells) + " |")
    return rows


def millions(count: int | None) -> str:
    return f"{count / 1e6:.2f} M" if count else "0"


def arms_tables(metrics_dir: Path, task: str) -> list[str]:
    """A task's arms side by side: each evaluated model on every held-out split (pass@1 [CI], pass@k and no-marker
    share where the task scores them) with what its training cost (metrics/<task>/train_<run>.json), then every
    paired difference of the report on every split."""
    csv, numbers = metrics_dir / task / "report/comparison.csv", metrics_dir / task / "report/numbers.json"
    if not csv.is_file() or not numbers.is_file():
        raise StorylabError(f"{metrics_dir}/{task}/report: no report yet (comparison.csv, numbers.json); run make all")
    frame, splits = heldout_scores(pd.read_csv(csv), task)
    extras = [(column, name) for column, name in (("pass_at_8", "pass@8"), ("no_marker", "no ####"))
              if column in frame and frame[column].notna().any()]
    columns = [head for split in splits for head in [f"{split} pass@1 [95% CI]"] + [name for _, name in extras]]
    columns += ["rollouts", "generated + trained tokens"]
    rows = ["| model | " + " | ".join(columns) + " |", "|---" * (1 + len(columns)) + "|"]
    for name in dict.fromkeys(frame.index.get_level_values("eval")):
        cells = []
        for split in splits:
            row = frame.loc[(name, split)]
            cells += [score_ci(row)] + [f"{row[column]:.3f}" if pd.notna(row[column]) else "-" for column, _ in extras]
        cost = metrics_dir / task / f"train_{name}.json"
        spent = read_json(cost) if cost.is_file() else {}
        tokens = (f"{millions(spent.get('generated_tokens'))} + {millions(spent.get('trained_tokens'))}"
                  if spent.get("trained_tokens") else "-")
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {spent.get('rollouts', '-')} | {tokens} |")
    found, heldout = read_json(numbers), get_task(task).heldout_split
    pairs = [key for key in found if "_minus_" in key and "@" not in key]
    rows += ["", "| paired difference | " + " | ".join(f"{split} [95% CI]" for split in splits) + " |",
             "|---" * (1 + len(splits)) + "|"]
    for pair in pairs:
        # report.py keys the headline split's difference `after_minus_before`, any other split's with `@split`
        cells = [cell(found.get(pair if split == heldout else f"{pair}@{split}")) for split in splits]
        rows.append(f"| {pair.replace('_minus_', ' − ')} | " + " | ".join(cells) + " |")
    return rows


def write_variants(metrics_dir: Path, readme: str | None) -> None:
    reports = sorted(metrics_dir.glob("variants/*/report/comparison.csv"))
    if not reports:
        raise StorylabError(f"{metrics_dir}/variants: no report yet (*/report/comparison.csv); run make variants")
    made = provenance.line("variants/dvc.yaml", "make variants")
    for csv in reports:
        task, rows = csv.parts[-3], [*variants_table(csv), "", made]
        print(f"{task}:", *rows, "", sep="\n")
        if readme:
            replace_block(readme, f"variants-{task}", "\n".join(rows))  # it names missing markers


def report_blocks(metrics_dir: Path) -> dict[str, list[str]]:
    """`report-TASK`: the first section of each registered task's report as the report stage wrote it (every model
    on the held-out split with its CI), its heading in bold, with the core pipeline's provenance line."""
    made = provenance.line("dvc.yaml", "make all")
    blocks = {}
    for task in TASKS:
        path = metrics_dir / task / "report" / "summary.md"
        if not path.is_file():
            continue
        sections = re.split(r"^## ", path.read_text(encoding="utf-8"), flags=re.M)
        if len(sections) < 2:
            raise StorylabError(f"{path}: no `## ` section; rerun its report stage (dvc repro report@{task})")
        heading, *body = sections[1].strip().splitlines()
        blocks[f"report-{task}"] = [f"**{heading}**, the head of `{path}`:", *body, "", made]
    if not blocks:
        raise StorylabError(f"{metrics_dir}: no report yet (<task>/report/summary.md); run make all")
    return blocks


def write_blocks(readme: str, blocks: dict[str, list[str]]) -> None:
    """Each block into the document's markers of its name; the document holds some of them (README the short form,
    docs/results.md the full tables), and none is an error."""
    text = Path(readme).read_text(encoding="utf-8")
    names = [name for name in blocks if f"<!-- {name}:start -->" in text]
    if not names:
        raise StorylabError(f"{readme} has no {' or '.join(f'<!-- {name}:start -->' for name in blocks)} markers; "
                            "add them where the tables go")
    for name in names:
        replace_block(readme, name, "\n".join(blocks[name]))


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics_dir", default="metrics")
    parser.add_argument("--readme", help="a markdown file with results markers to write the table into")
    parser.add_argument("--pretrained", action="store_true",
                        help="the pretrained pipeline's tables (metrics/pretrained/), with configs/pretrained.yaml")
    parser.add_argument("--variants", action="store_true",
                        help="the variants pipeline's tables (metrics/variants/<task>/report/comparison.csv)")
    parser.add_argument("--arms", metavar="TASK",
                        help="one task's models on every held-out split with their training cost, and its paired "
                             "differences (into `<!-- arms-TASK:... -->` markers)")
    parser.add_argument("--seeds", metavar="TASK",
                        help="that task over its data seeds: the claim and the across-seed summary (into `<!-- "
                             "seeds-TASK:... -->` markers) and every seed's arms (`<!-- seeds-TASK-runs:... -->`)")
    parser.add_argument("--reports", action="store_true",
                        help="the head of each task's report (into `<!-- report-<task>:... -->` markers)")
    args = parser.parse_args()
    if args.reports or args.seeds:
        blocks = report_blocks(Path(args.metrics_dir)) if args.reports else seeds_blocks(Path(args.metrics_dir), args.seeds)
        print("\n\n".join("\n".join(rows) for rows in blocks.values()))
        if args.readme:
            write_blocks(args.readme, blocks)
        return None
    if args.arms:
        rows = arms_tables(Path(args.metrics_dir), args.arms)
        print("\n".join(rows))
        if args.readme:
            replace_block(args.readme, f"arms-{args.arms}", "\n".join(rows))
        return None
    if args.variants:
        return write_variants(Path(args.metrics_dir), args.readme)
    if args.pretrained:
        params = overlaid(read_yaml(Path("params.yaml")), read_yaml(OVERLAY))
        blocks = {"pretrained": pretrained_summary(Path(args.metrics_dir), params),
                  "pretrained-tables": pretrained_tables(Path(args.metrics_dir), params)}
        if not blocks["pretrained-tables"]:
            raise StorylabError(f"{args.metrics_dir}/pretrained: no evaluation yet; run make pretrained")
        made = ["", provenance.line("pretrained/dvc.yaml", "make pretrained")]
        blocks = {name: rows + made for name, rows in blocks.items() if rows}
        print("\n".join(blocks.get("pretrained") or blocks["pretrained-tables"]))
        if args.readme:
            write_blocks(args.readme, blocks)
        return None
    rows = table(Path(args.metrics_dir))
    if len(rows) == 2:
        raise StorylabError(f"{args.metrics_dir}: no report yet (*/report/numbers.json); run make all (or make demo)")
    print("\n".join(rows))
    if args.readme:
        replace_block(args.readme, "results", "\n".join(rows))
    print(f"\nEach task's report: {args.metrics_dir}/<task>/report/summary.md; every number: comparison.csv; "
          "`dvc metrics show` for the headlines.")
    return None


if __name__ == "__main__":
    run(main)
