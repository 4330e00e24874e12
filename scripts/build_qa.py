"""Build a task's training and evaluation records from its raw data: the splits (held-out records share
nothing with train: story_qa splits by person, word_math by arithmetic), optional documents and DPO pairs.

    python scripts/build_qa.py --task story_qa --raw_dir data/story_qa/raw --out_dir data/story_qa/qa \
        --metrics metrics/story_qa/build_qa.json
"""
from __future__ import annotations

import storylab  # noqa: F401  first: pins the CPU math libraries and the progress bars before torch loads

from storylab.cli import stage_parser, stage_params
from storylab.errors import run
from storylab.io import check_outputs, write_files, write_json


def main() -> str:
    parser = stage_parser(__doc__)
    parser.add_argument("--raw_dir", required=True, help="what generate_stories wrote")
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--metrics", required=True, help="counts per split (JSON)")
    args = parser.parse_args()
    task, params = stage_params(args, "build_qa")
    check_outputs(dirs=[args.out_dir], files=[args.metrics])

    files, stats = task.build(params.build_qa, args.raw_dir)
    write_files(args.out_dir, files)
    write_json(args.metrics, stats)
    # an optional split (word_math's test_harder) is written only when its params ask for it
    counts = ", ".join(f"{split} {len(files[name])}" for split in task.splits if (name := f"{split}.jsonl") in files)
    return f"{task.name}: {counts} -> {args.out_dir}"


if __name__ == "__main__":
    run(main)
