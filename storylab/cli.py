"""The preamble every stage script shares: its flags, its params (the whole file validated first), and bad
flags reported in one line like every other input error."""
from __future__ import annotations

import argparse

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
