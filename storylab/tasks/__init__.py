"""Tasks: each is one folder (storylab/tasks/<name>/) with a `TASK` object, registered in registry.py.
Imported lazily by name, so a stage of one task never imports another task's code."""
from __future__ import annotations

import importlib
from functools import cache

from storylab.errors import StorylabError
from storylab.tasks.base import Task
from storylab.tasks.registry import TASKS


def registered() -> list[str]:
    return list(TASKS)


@cache
def get_task(name: str) -> Task:
    if name not in TASKS:
        raise StorylabError(f"--task {name}: unknown task; registered tasks: {', '.join(TASKS)}")
    return importlib.import_module(TASKS[name]).TASK
