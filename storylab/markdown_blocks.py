"""Generated blocks in a markdown document, between `<!-- NAME:start -->` and `<!-- NAME:end -->`: the README's
results table (scripts/results.py) and the ablation table (scripts/ablation.py) are rewritten from metrics/ there,
so their numbers never go stale."""
from __future__ import annotations

import re
from pathlib import Path

from storylab.errors import StorylabError


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_block(path: str | Path, name: str, block: str) -> None:
    """The text between the document's NAME markers becomes `block` (the markers stay)."""
    start, end = markers(name)
    text = Path(path).read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise StorylabError(f"{path} has no {start} ... {end} markers for the {name} block; add them where it goes")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    Path(path).write_text(pattern.sub(lambda _: f"{start}\n{block.rstrip()}\n{end}", text), encoding="utf-8")
