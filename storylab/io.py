"""JSON / JSONL reading and writing with errors that name the file and line."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Iterable

from storylab.errors import StorylabError


def _existing_file(path: Path) -> None:
    if path.is_dir():
        raise StorylabError(f"{path}: is a directory; expected a file there (fix the path)")
    if not path.is_file():
        raise StorylabError(f"{path}: file not found; run the stage that writes it (dvc repro) or fix the path")


def read_jsonl(path: str | Path, required: Iterable[str] = ()) -> list[dict]:
    path = Path(path)
    _existing_file(path)
    required = tuple(required)
    records = []
    with path.open(encoding="utf-8-sig") as handle:  # -sig: a byte-order mark (Excel, Notepad) is skipped
        try:
            lines = list(handle)
        except UnicodeDecodeError as exc:
            raise StorylabError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise StorylabError(f"{path}:{line_no}: malformed JSON ({exc.msg}); fix or delete that line") from None
            if not isinstance(record, dict):
                raise StorylabError(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}")
            missing = [key for key in required if key not in record]
            if missing:
                raise StorylabError(f"{path}:{line_no}: missing field(s) {', '.join(missing)}; every line needs {', '.join(required)}")
            records.append(record)
    return records


def check_outputs(dirs=(), files=()) -> None:
    """Before any expensive work: each output dir and file can be written where it is to go. Refused: a dir path that
    is a file, a file path that is a dir, a path under a file, a place this process cannot create files in (probed
    with a temporary file, which also catches read-only mounts that permission bits do not show)."""
    for path, is_dir in [(Path(d), True) for d in dirs] + [(Path(f), False) for f in files]:
        if path.exists() and path.is_dir() != is_dir:
            wanted, found = ("a directory", "a file") if is_dir else ("a file", "a directory")
            raise StorylabError(f"{path}: is {found}, but {wanted} is written there; fix the path or move it away")
        parent = path if is_dir and path.exists() else path.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise StorylabError(f"{path}: {parent} is a file, so nothing can be written under it; fix the path")
        try:
            tempfile.TemporaryFile(dir=parent).close()
        except OSError as exc:
            raise StorylabError(f"{path}: cannot write in {parent} ({exc.strerror or exc}); choose a writable place "
                                "or fix its permissions") from None


def write_jsonl(path: str | Path, records: Iterable[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_json(path: str | Path, required: Iterable[str] = ()):
    """A JSON document; with `required`, it must be an object holding those keys (read_jsonl's check)."""
    path = Path(path)
    _existing_file(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise StorylabError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise StorylabError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    required = tuple(required)
    if required:
        if not isinstance(document, dict):
            raise StorylabError(f"{path}: expected a JSON object, got {type(document).__name__}")
        missing = [key for key in required if key not in document]
        if missing:
            raise StorylabError(f"{path}: missing field(s) {', '.join(missing)}; regenerate it with the stage that "
                                "writes it (dvc repro)")
    return document


def write_json(path: str | Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def write_files(out_dir: str | Path, files: dict) -> None:
    """A task's data: `name.jsonl` -> records, `name.json` -> any JSON document."""
    for name, content in files.items():
        (write_jsonl if name.endswith(".jsonl") else write_json)(Path(out_dir, name), content)


RECIPE_FILE = "storylab_recipe.json"


def read_recipe(model_dir: str | Path) -> list[dict]:
    """The training stages a model went through, oldest first ([] for an untuned or outside model)."""
    path = Path(model_dir, RECIPE_FILE)
    return read_json(path) if path.is_file() else []
