"""Generate a task's raw data: story_qa's biographies and the facts behind them, word_math's problems, ...
The story tasks may have a language model retell their template stories (generate_stories.rewrite: storylab/rewrite.py).

    python scripts/generate_stories.py --task story_qa --external_dir data/external --out_dir data/story_qa/raw \
        --metrics metrics/story_qa/generate_stories.json
--external_dir: where a task's params may point for a file the user brings (instruct's `source`).
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

from storylab.cli import stage_parser, stage_params
from storylab.errors import run
from storylab.io import check_outputs, write_files, write_json
from storylab.rewrite import rewrite_stories


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--external_dir", default="data/external", help="users' input files (DVC-tracked)")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--metrics", required=True, help="counts of what was generated (JSON)")
    args = parser.parse_args()
    task, params = stage_params(args, "generate_stories")
    check_outputs(dirs=[args.out_dir], files=[args.metrics])

    files, stats = task.generate(params.generate_stories, args.external_dir)
    rewrite = getattr(params.generate_stories, "rewrite", None)  # the story tasks' optional LLM retelling
    if rewrite is not None and rewrite.backend != "none":
        stats["rewrite"] = rewrite_stories(task, files, rewrite)
    write_files(args.out_dir, files)
    write_json(args.metrics, stats)
    counts = ", ".join(f"{len(records)} {name}" for name, records in files.items() if name.endswith(".jsonl"))
    return f"{task.name}: {counts} -> {args.out_dir}"


if __name__ == "__main__":
    run(main)
