"""word_math: GSM8K-style word problems, generated offline, scored by the number the answer commits to.

The check (numeric.same_number: the number after the last `####`, else the last number) is the evaluation's
`correct` and the binary GRPO reward. Held-out problems share no arithmetic (start, operations, operands) with
train problems. Metrics: greedy pass@1 with a 95% CI, pass@k from k samples (eval.num_samples), the share of
answers with no `####` and the share that shows working (an `=` line), per number of operations.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field, model_validator

from storylab.config.schema import Section
from storylab.errors import StorylabError
from storylab.io import read_jsonl
from storylab.metrics.numeric import extract_answer, has_marker, same_number
from storylab.tasks.base import Task, aggregate
from storylab.tasks.word_math.generator import generate, solution


class GenerateParams(Section):
    seed: int = Field(ge=0)
    num_problems: int = Field(ge=3)
    min_ops: int = Field(ge=1)
    max_ops: int = Field(ge=1)
    max_start: int = Field(ge=2)
    max_operand: int = Field(ge=1)
    max_value: int = Field(ge=4)
    operations: list[Literal["add", "sub", "mul"]] = Field(min_length=1)

    @model_validator(mode="after")
    def _ranges(self):
        if self.min_ops > self.max_ops:
            raise ValueError("min_ops must be <= max_ops")
        if self.max_start > self.max_value:
            raise ValueError("max_start must be <= max_value")
        return self


class BuildParams(Section):
    seed: int = Field(ge=0)
    validation_problems: int = Field(ge=1)
    test_problems: int = Field(ge=1)
    answer_only_fraction: float = Field(ge=0, le=1)


class ScoreParams(Section):
    """The check has no knobs: a number is right or not."""


class WordMath(Task):
    name = "word_math"
    metric_version = 1
    params = {"generate_stories": GenerateParams, "build_qa": BuildParams, "score": ScoreParams}
    splits = ("train", "validation", "test")
    primary_metric = "correct"
    reward_metrics = ("correct",)

    def generate(self, params, external_dir):
        try:
            problems = generate(**params.model_dump())
        except ValueError as exc:
            raise StorylabError(f"tasks.{self.name}.generate_stories: {exc}; lower num_problems or widen the ranges")
        by_ops = pd.Series([p["num_ops"] for p in problems]).value_counts().sort_index()
        stats = {"problems": len(problems), "by_num_ops": {str(k): int(v) for k, v in by_ops.items()},
                 "answer_max": max(p["number"] for p in problems)}
        return {"problems.jsonl": problems}, stats

    def build(self, params, raw_dir):
        """Held-out splits first, in draw order (problems are distinct by key, so no held-out key is trained on);
        train solutions give the working except for a seeded answer_only_fraction of them."""
        problems = read_jsonl(Path(raw_dir, "problems.jsonl"), required=("id", "question", "working", "number", "key"))
        held = params.validation_problems + params.test_problems
        if held >= len(problems):
            raise StorylabError(f"tasks.{self.name}.build_qa: validation_problems + test_problems ({held}) leave no "
                                f"train problems of the {len(problems)} generated; raise generate_stories.num_problems")
        rng = random.Random(params.seed)
        parts = {"test": problems[:params.test_problems], "validation": problems[params.test_problems:held],
                 "train": problems[held:]}
        files, stats = {}, {}
        for split, part in parts.items():
            records = []
            for problem in part:
                answer_only = split == "train" and rng.random() < params.answer_only_fraction
                records.append({"id": problem["id"], "question": problem["question"],
                                "answer": solution(problem["working"], problem["number"], answer_only),
                                "key": problem["key"], "num_ops": problem["num_ops"],
                                "style": "answer_only" if answer_only else "working"})
            files[f"{split}.jsonl"] = records
            stats[split] = {"problems": len(records), "answer_only": sum(r["style"] == "answer_only" for r in records)}
        shared = {p["key"] for p in parts["train"]} & {p["key"] for p in parts["test"] + parts["validation"]}
        if shared:
            raise StorylabError(f"held-out problem shares its arithmetic with a train problem: {sorted(shared)[0]}")
        return files, stats

    def imitable(self, record):
        """SFT imitates worked solutions only: a target without working teaches the model to skip it (half the train
        targets answer-only dropped greedy pass@1 from 0.88 to 0.17); GRPO's reward needs only the number."""
        return record.get("style", "working") == "working"

    def check(self, prediction, gold, record):
        return same_number(prediction, gold)

    def score_item(self, prediction, gold, record, params):
        return {"correct": self.check(prediction, gold, record), "no_marker": 1.0 - has_marker(prediction),
                "shows_working": float("=" in prediction)}

    def describe(self, prediction, record):
        answer = extract_answer(prediction)
        marker = "after ####" if has_marker(prediction) else "no ####: the last number"
        return [f"answer: {answer} ({marker})" if answer is not None else "answer: none (no number in the text)"]

    def score(self, records, params, resamples, seed):
        """All problems, and per number of operations where the records carry it."""
        items = [self.score_item(r["prediction"], r["gold"], r, params) for r in records]
        result = {"all": aggregate(items, resamples, seed)}
        if records and all("num_ops" in r for r in records):
            for ops in sorted({r["num_ops"] for r in records}):
                subset = [item for item, r in zip(items, records) if r["num_ops"] == ops]
                result[f"ops_{ops}"] = aggregate(subset, resamples, seed)
        return result

    def report_sections(self, evals, predictions):
        rows = []
        for result in evals:
            block = result["test"]["all"]
            rows.append({"model": result["model"], "pass@1 (greedy)": _fmt(block["correct"]),
                         **{f"pass@{k}": _fmt(block[f"pass_at_{k}"]) for k in _ks(block)},
                         "sampled accuracy": _fmt(block.get("sampled_correct")),
                         "no ####": _fmt(block["no_marker"]), "shows working": _fmt(block["shows_working"]),
                         **{f"pass@1, {name.split('_')[1]} ops": _fmt(result["test"][name]["correct"])
                            for name in result["test"] if name.startswith("ops_")}})
        return ["## Held-out problems: pass@k, format and working",
                pd.DataFrame(rows).to_markdown(index=False),
                "pass@k: share of problems with at least one right answer among k samples at eval.sample_temperature. "
                "no ####: answers without the marker (the check then takes the last number). shows working: answers "
                "with an `=` line."]


def _ks(block: dict) -> list[int]:
    return sorted(int(name.split("_")[-1]) for name in block if name.startswith("pass_at_"))


def _fmt(value: dict | None) -> str:
    if not value:
        return "-"
    return f"{value['mean']:.3f} [{value['ci_low']:.3f}, {value['ci_high']:.3f}]"


TASK = WordMath()
