"""One-line errors for bad input: the user sees what is wrong and how to fix it, never a traceback."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable


# Under storylab.launch, the file this variable names receives the exit code (accelerate itself would report 1).
EXIT_FILE = "STORYLAB_EXIT_FILE"


class StorylabError(Exception):
    """Bad input the user can fix (params, files, model names, flags). Printed as one line, exit code 2."""


def run(main: Callable[[], str | None], name: str | None = None) -> None:
    """Call a stage's main() and end with one summary line (what it wrote, wall time); a StorylabError becomes
    `error: <message>` and exit code 2."""
    start = time.perf_counter()
    try:
        summary = main()
    except StorylabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if os.environ.get(EXIT_FILE):
            Path(os.environ[EXIT_FILE]).write_text("2\n")
        sys.exit(2)
    done = f"{summary} " if summary else ""
    print(f"[{name or Path(sys.argv[0]).stem}] {done}({time.perf_counter() - start:.1f} s)", file=sys.stderr)
