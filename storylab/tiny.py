"""The tiny params: configs/tiny.yaml merged over a params file, so every stage of every task runs in seconds. The
tests and `make demo` share it (one source). `only` keeps some of the tasks, and with them only their pipeline
entries and variants recipes, so the params of any subset of tasks are valid on their own."""
from __future__ import annotations

from pathlib import Path

from storylab.config.loader import REPO_ROOT, overlaid, read_yaml
from storylab.errors import StorylabError

TINY = REPO_ROOT / "configs" / "tiny.yaml"
RECIPE_KINDS = ("sft", "rl", "eval")


def tiny_params(params: dict, only: tuple[str, ...] | None = None, tiny: Path = TINY) -> dict:
    """`params` (a params.yaml mapping) with the tiny overlay merged in key by key; its `variants` replace the
    file's (a few recipes instead of the full list)."""
    result = overlaid(params, read_yaml(tiny))
    if only is None:
        return result
    unknown = [task for task in only if task not in result.get("tasks", {})]
    if unknown:
        raise StorylabError(f"tiny params: task {unknown[0]!r} is not in the tasks section "
                            f"({', '.join(result.get('tasks', {}))})")
    result["tasks"] = {name: result["tasks"][name] for name in only}
    result["pipeline"] = {kind: {key: entry for key, entry in entries.items() if entry["task"] in only}
                          for kind, entries in result["pipeline"].items()}
    variants = result.pop("variants", None)
    if variants and set(variants["scale"]) & set(only):
        result["variants"] = {"scale": {task: s for task, s in variants["scale"].items() if task in only},
                              **{kind: {name: recipe for name, recipe in variants[kind].items() if recipe["task"] in only}
                                 for kind in RECIPE_KINDS}}
    return result
