"""One-line errors for bad input: the user sees what is wrong and how to fix it, never a traceback."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable


class StorylabError(Exception):
    """Bad input the user can fix (params, files, model names). Printed as one line, exit code 2."""


def run(main: Callable[[], object]) -> None:
    """Call a stage's main(), log its wall time; turn a StorylabError into `error: <message>` and exit 2."""
    start = time.perf_counter()
    try:
        main()
    except StorylabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"[{Path(sys.argv[0]).stem}] wall time {time.perf_counter() - start:.1f} s", file=sys.stderr)
