"""instruct: instruction tuning on Dolly-layout data (instruction, context, response, category), scored with the
seed's eval_accuracy_plus metrics before (the untuned model) and after SFT, per category.

The offline default generates open-book questions whose context is a biography (closed_qa and
information_extraction, as in Dolly); `generate_stories.source` reads the user's own file instead (data/external/,
JSONL / CSV / Parquet through `datasets`, columns mapped by `generate_stories.columns`). Splits are by `group`
(a generated person, or a file row), seeded. scripts/open_book.py asks the trained model story_qa's held-out
questions with a BM25-retrieved story, the gold story and no story (open-book vs closed-book).
"""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from storylab.config.schema import Section
from storylab.errors import StorylabError
from storylab.io import read_jsonl
from storylab.biographies import MAX_PEOPLE
from storylab.tasks.base import AnswerScoreParams, ShortAnswerTask
from storylab.tasks.instruct.data import BUILDERS, FIELDS, cut_context, open_book_records, prompt, read_instructions


class Columns(BaseModel):
    """Dolly field -> the column of the user's file that holds it."""
    model_config = ConfigDict(extra="forbid")
    instruction: str = "instruction"
    context: str = "context"
    response: str = "response"
    category: str = "category"


class GenerateStoriesParams(Section):
    seed: int = Field(ge=0)
    source: str
    columns: Columns
    num_people: int = Field(ge=3, le=MAX_PEOPLE)
    closed_qa_per_person: int = Field(ge=0, le=7)
    extraction_per_person: int = Field(ge=0, le=7)
    distractors_per_story: int = Field(ge=0, le=6)

    @field_validator("source")
    @classmethod
    def known_file_type(cls, value: str) -> str:
        if value and Path(value).suffix.lower() not in BUILDERS:
            raise ValueError(f"{value!r}: use a {', '.join(BUILDERS)} file, or '' for the generated open-book data")
        return value


class BuildQAParams(Section):
    seed: int = Field(ge=0)
    train_examples: int = Field(ge=1)
    validation_examples: int = Field(ge=1)
    test_examples: int = Field(ge=1)
    max_context_words: int = Field(ge=0)


class OpenBookParams(Section):
    recall_at: list[int] = Field(min_length=1)
    context_stories: int = Field(ge=1)


def split_groups(records: list[dict], sizes: dict[str, int], seed: int) -> dict[str, list[dict]]:
    """Whole groups to test, then validation, until each holds its size; train: a seeded sample of the rest."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(record["group"], []).append(record)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    splits: dict[str, list[dict]] = {"test": [], "validation": [], "train": []}
    for name in order:
        split = next((s for s in ("test", "validation") if len(splits[s]) < sizes[s]), "train")
        splits[split].extend(groups[name])
    if not splits["train"]:
        raise StorylabError(f"build_qa: {len(records)} examples leave none for train after "
                            f"{sizes['test']} test + {sizes['validation']} validation; lower them or add data")
    if len(splits["train"]) > sizes["train"]:
        keep = sorted(random.Random(seed).sample(range(len(splits["train"])), sizes["train"]))
        splits["train"] = [splits["train"][i] for i in keep]
    return splits


class Instruct(ShortAnswerTask):
    name = "instruct"
    metric_version = 2  # 2: ROUGE-L tokenises Unicode letters and digits (1: rouge-score's [a-z0-9] only)
    params = {"generate_stories": GenerateStoriesParams, "build_qa": BuildQAParams, "score": AnswerScoreParams,
              "open_book": OpenBookParams}
    breakdown = "category"

    def generate(self, params, external_dir):
        if params.source:
            source, inside = Path(params.source), Path(external_dir).resolve()
            if inside not in source.resolve().parents:
                raise StorylabError(f"generate_stories.source {params.source}: must lie in {external_dir}/ (the stage "
                                    "depends on that folder); move the file there and `dvc add` it")
            records = read_instructions(source, params.columns.model_dump())
        else:
            records = open_book_records(params.seed, params.num_people, params.closed_qa_per_person,
                                        params.extraction_per_person, params.distractors_per_story)
        words = [len(r["context"].split()) for r in records]
        stats = {"source": params.source or "generated open-book", "examples": len(records),
                 "groups": len({r["group"] for r in records}),
                 "by_category": dict(sorted(Counter(r["category"] for r in records).items())),
                 "context_words": {"mean": round(sum(words) / len(words), 2), "max": max(words)}}
        return {"instructions.jsonl": records}, stats

    def build(self, params, raw_dir):
        rows = read_jsonl(Path(raw_dir, "instructions.jsonl"), required=(*FIELDS, "group"))
        sizes = {"train": params.train_examples, "validation": params.validation_examples, "test": params.test_examples}
        files, stats = {}, {}
        for split, split_rows in split_groups(rows, sizes, params.seed).items():
            records = []
            for index, row in enumerate(split_rows):
                context, cut = cut_context(row["context"], params.max_context_words)
                records.append({"id": f"{split}-{index:05d}", "question": prompt(row["instruction"], context),
                                "answer": row["response"], "category": row["category"], "group": row["group"],
                                "context_cut": cut})
            files[f"{split}.jsonl"] = records
            stats[split] = {"examples": len(records), "groups": len({r["group"] for r in records}),
                            "contexts_cut": sum(r["context_cut"] for r in records),
                            "by_category": dict(sorted(Counter(r["category"] for r in records).items()))}
        return files, stats

    def record_from_fields(self, fields, source):
        if "instruction" not in fields:
            raise StorylabError(f"{source}: instruct needs --field instruction=... (and optionally context=...)")
        return {"question": prompt(fields["instruction"], fields.get("context", ""))}


TASK = Instruct()
