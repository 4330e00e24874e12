"""The preamble every stage script shares: its flags, its params (the whole file validated first), and bad
flags reported in one line like every other input error."""
from __future__ import annotations

import argparse
import os
import runpy
import sys
from pathlib import Path

from storylab.config.loader import load_file, load_params, source_name
from storylab.config.variants import variant_overrides
from storylab.errors import StorylabError


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage and exits on a bad flag; here it is one line like any other input error."""

    def error(self, message: str):
        raise StorylabError(f"{self.prog}: {message} (see --help)")


def stage_parser(doc: str) -> OneLineParser:
    """--params, --task, --variant and --set, the same in every stage script."""
    parser = OneLineParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    parser.add_argument("--overlay", metavar="FILE",
                        help="a partial params file merged over --params (configs/pretrained.yaml: make pretrained)")
    parser.add_argument("--task", default="story_qa", help="a registered task (storylab/tasks/registry.py)")
    parser.add_argument("--variant", metavar="KIND.NAME",
                        help="apply a recipe of the params' variants section: scale.TASK, sft.NAME, rl.NAME, eval.NAME")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one param of the task (YAML value); repeatable, applied after --variant")
    return parser


def stage_params(args, *sections: str):
    """(task, params): the task object and the sections this stage reads, validated, with the --variant recipe and
    --set overrides applied (params.model, params.train_sft, ...)."""
    from storylab.tasks import get_task

    task = get_task(args.task)
    data = load_file(args.params, args.overlay)
    source = source_name(args.params, args.overlay)
    overrides = variant_overrides(data, source, args.variant, args.task) if args.variant else []
    return task, load_params(args.params, args.task, sections, overrides + list(args.overrides), args.overlay)


def run_in_process(script: str | Path, *args: str, cwd: str | Path) -> int:
    """A stage script run inside this process from `cwd` (the repo root, as dvc runs it), as `python script args`
    would: its exit code. A chain of stages pays the ~8 s of importing torch / transformers / TRL once."""
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    sys.argv = [str(script), *args]
    os.chdir(cwd)
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1 if exc.code else 0
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    return 0
