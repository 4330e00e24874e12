"""Instruction data in the Dolly layout (instruction, context, response, category): the offline default generated
here (open-book questions whose context is a biography), or the user's JSONL / CSV / Parquet read with `datasets`."""
from __future__ import annotations

import random
import re
from pathlib import Path

from storylab.biographies import QUESTION_TEMPLATES, generate
from storylab.errors import StorylabError
from storylab.io import read_jsonl

FIELDS = ("instruction", "context", "response", "category")
OPTIONAL = ("context", "category")
BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
# Information extraction (Dolly's category): the fact named by a label, not asked as a question.
FACT_LABELS = {"birth_date": "birth date", "birthplace": "birthplace", "title": "title", "spouse": "spouse",
               "patron": "patron", "deed": "deed remembered", "death_place": "place of death"}


def open_book_records(seed: int, num_people: int, closed_qa_per_person: int, extraction_per_person: int,
                      distractors_per_story: int) -> list[dict]:
    """One biography per person as the context; questions about its facts (closed_qa, story_qa's phrasings) and
    label-style extraction requests (information_extraction). `group`: the person, so splits never share a story."""
    rng = random.Random(seed)
    entities, stories = generate(seed, num_people, 0, 1, True, distractors_per_story, 0.0)
    story_of = {story["entity_id"]: story["text"] for story in stories}
    records = []
    for entity in entities:
        facts = rng.sample(list(entity.facts), closed_qa_per_person + extraction_per_person)
        for index, fact in enumerate(facts):
            if index < closed_qa_per_person:
                instruction = rng.choice(QUESTION_TEMPLATES[fact]).format(name=entity.name)
                category = "closed_qa"
            else:
                instruction = f"From the passage, give the {FACT_LABELS[fact]} of {entity.name}."
                category = "information_extraction"
            records.append({"instruction": instruction, "context": story_of[entity.entity_id],
                            "response": entity.facts[fact], "category": category, "group": entity.entity_id})
    return records


def read_instructions(path: Path, columns: dict[str, str]) -> list[dict]:
    """Rows of a JSONL / CSV / Parquet file as Dolly records; columns: Dolly field -> the file's column. A row's
    `group` is its line, so the split is by row."""
    from datasets import load_dataset

    builder = BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise StorylabError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(BUILDERS)}")
    if not path.is_file():
        raise StorylabError(f"{path}: file not found; put the file in data/external/ (and `dvc add` it) or fix "
                            "generate_stories.source")
    if builder == "json":
        read_jsonl(path)  # one line per record: a malformed line is named by its number
    try:
        table = load_dataset(builder, data_files=str(path), split="train")
    except Exception as exc:  # noqa: BLE001  datasets / pandas / arrow raise many types; one line names the file
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorylabError(f"{path}: cannot read as {builder} ({message}); fix the file") from None
    missing = [f"{field} (column {columns[field]!r})" for field in FIELDS
               if field not in OPTIONAL and columns[field] not in table.column_names]
    if missing:
        raise StorylabError(f"{path}: no column for {', '.join(missing)}; the file has {', '.join(table.column_names)}: "
                            "set generate_stories.columns to map them")
    records = []
    for line, row in enumerate(table, start=1):
        record = {field: str(row.get(columns[field]) or "").strip() for field in FIELDS}
        if not record["instruction"] or not record["response"]:
            raise StorylabError(f"{path}: row {line}: empty {'instruction' if not record['instruction'] else 'response'}; "
                                "fill it or drop the row")
        records.append({**record, "category": record["category"] or "none", "group": f"row{line:06d}"})
    return records


def cut_context(context: str, max_words: int) -> tuple[str, bool]:
    """The context cut to at most max_words words, at the last sentence end that fits (else at a word): the
    instruction is never cut, so a long context cannot push the question out of the prompt. 0: no limit."""
    words = context.split()
    if not max_words or len(words) <= max_words:
        return context, False
    kept = " ".join(words[:max_words])
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", kept)]
    return (kept[:ends[-1]] if ends else kept), True


def prompt(instruction: str, context: str) -> str:
    """The user's message: the context (if any), a blank line, the instruction (Dolly's closed_qa layout)."""
    return f"{context}\n\n{instruction}" if context else instruction
