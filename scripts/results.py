"""One table of every task's results, from the reports the pipeline wrote (metrics/<task>/report/numbers.json):
the SFT model's held-out score with its 95% CI, and what RL bought against SFT and against the control (paired
bootstrap CIs). `make results` prints it; `make all` ends with it.

    python scripts/results.py [--metrics_dir metrics] [--readme README.md]

--readme writes the table between the document's `<!-- results:start -->` and `<!-- results:end -->` markers
(`make readme`), so the README's numbers are the committed metrics'.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from storylab.errors import StorylabError, run
from storylab.io import read_json
from storylab.markdown_blocks import replace_block


def cell(block: dict | None, value: str = "difference") -> str:
    if not block:
        return "-"
    return f"{block[value]:+.3f} [{block['ci_low']:+.3f}, {block['ci_high']:+.3f}]"


def table(metrics_dir: Path) -> list[str]:
    rows = ["| task | metric | held-out (SFT) [95% CI] | train | RL - SFT [CI] | RL - control [CI] |",
            "|---|---|---|---|---|---|"]
    for path in sorted(metrics_dir.glob("*/report/numbers.json")):
        found = read_json(path, required=("sft",))
        sft = found["sft"]
        score = next(value for key, value in sft.items() if key not in ("ci_low", "ci_high", "train"))
        rows.append(f"| {path.parts[-3]} | {found.get('metric', '-')} | {score:.3f} [{sft['ci_low']:.3f}, {sft['ci_high']:.3f}] | "
                    f"{sft['train']:.3f} | {cell(found.get('rl_minus_sft'))} | {cell(found.get('rl_minus_control'))} |")
    return rows


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metrics_dir", default="metrics")
    parser.add_argument("--readme", help="a markdown file with results markers to write the table into")
    args = parser.parse_args()
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
