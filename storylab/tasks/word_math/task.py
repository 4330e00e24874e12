"""word_math: GSM8K-style word problems, generated offline, scored by the number the answer commits to.

The check (numeric.same_number: the number after the last `####`, else the last number) is the evaluation's
`correct` and the binary GRPO reward. Held-out problems share no arithmetic (start, operations, operands) with
train problems. Metrics: greedy pass@1 with a 95% CI, pass@k from k samples (eval.num_samples), the share of
answers with no `####` and the share that shows working (an `=` line), per number of operations.

The setting where RL with a verifiable reward pays: worked solutions are scarce, problems with a checkable answer
are plenty. build_qa keeps `demonstrations` worked solutions as the train split (what SFT imitates) and puts every
other train problem into `rl_pool.jsonl` with its final answer only (what GRPO and expert iteration read); the
generator's working for those problems goes to `rl_pool_worked.jsonl`, read only by the upper-bound arm. Problems
with more than `demo_max_ops` operations are never demonstrated: they form `test_harder` and part of the pool (the
edge of competence, where RL is said to generalise and SFT to memorise).
"""
from __future__ import annotations

import random
from collections import Counter
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
    harder_test_problems: int = Field(ge=0)
    demonstrations: int = Field(ge=1)
    demo_max_ops: int = Field(ge=1)


class ScoreParams(Section):
    """The check has no knobs: a number is right or not."""


class WordMath(Task):
    name = "word_math"
    metric_version = 1
    params = {"generate_stories": GenerateParams, "build_qa": BuildParams, "score": ScoreParams}
    splits = ("train", "validation", "test", "test_harder")
    heldout_splits = ("test", "test_harder")
    optional_splits = ("test_harder",)  # build_qa writes it only with harder_test_problems > 0
    primary_metric = "correct"
    reward_metrics = ("correct",)

    def generate(self, params, external_dir):
        try:
            problems = generate(**params.model_dump())
        except ValueError as exc:
            raise StorylabError(f"tasks.{self.name}.generate_stories: {exc}; lower num_problems or widen the ranges")
        stats = {"problems": len(problems), "by_num_ops": _ops(problems),
                 "answer_max": max(p["number"] for p in problems)}
        return {"problems.jsonl": problems}, stats

    def build(self, params, raw_dir):
        """Held-out splits first, in draw order (problems are distinct by key, so no held-out key is trained on):
        test and validation from the problems of at most demo_max_ops operations, test_harder from the others. The
        demonstrations are a seeded draw of the easy problems left (kept in draw order); every problem left over
        joins the answer-only RL pool. No pool or harder split is written where none is left."""
        problems = read_jsonl(Path(raw_dir, "problems.jsonl"),
                              required=("id", "question", "working", "number", "key", "num_ops"))
        where = f"tasks.{self.name}.build_qa"
        easy = [p for p in problems if p["num_ops"] <= params.demo_max_ops]
        hard = [p for p in problems if p["num_ops"] > params.demo_max_ops]
        held = params.test_problems + params.validation_problems
        if held + params.demonstrations > len(easy):
            raise StorylabError(f"{where}: test_problems + validation_problems + demonstrations ({held} + "
                                f"{params.demonstrations}) exceed the {len(easy)} problems of at most demo_max_ops "
                                f"({params.demo_max_ops}) operations; lower them or raise generate_stories.num_problems")
        if params.harder_test_problems > len(hard):
            raise StorylabError(f"{where}: harder_test_problems {params.harder_test_problems}, but only {len(hard)} "
                                f"problems have more than demo_max_ops ({params.demo_max_ops}) operations; raise "
                                "generate_stories.max_ops above demo_max_ops, or num_problems")
        left = easy[held:]
        chosen = set(random.Random(params.seed).sample(range(len(left)), params.demonstrations))
        parts = {"test": easy[:params.test_problems], "validation": easy[params.test_problems:held],
                 "train": [p for i, p in enumerate(left) if i in chosen],
                 "test_harder": hard[:params.harder_test_problems]}
        pool_ids = {p["id"] for i, p in enumerate(left) if i not in chosen} | \
            {p["id"] for p in hard[params.harder_test_problems:]}
        pool = [p for p in problems if p["id"] in pool_ids]  # easy and hard mixed, in draw order
        files = {f"{split}.jsonl": [self._record(p, worked=True) for p in part] for split, part in parts.items() if part}
        if pool:
            files["rl_pool.jsonl"] = [self._record(p, worked=False) for p in pool]
            files["rl_pool_worked.jsonl"] = [self._record(p, worked=True) for p in pool]
        stats = {split: {"problems": len(part), "ops": _ops(part)} for split, part in {**parts, "rl_pool": pool}.items()}
        trained = {p["key"] for p in parts["train"] + pool}
        shared = trained & {p["key"] for p in parts["test"] + parts["validation"] + parts["test_harder"]}
        if shared:
            raise StorylabError(f"held-out problem shares its arithmetic with a train problem: {sorted(shared)[0]}")
        return files, stats

    @staticmethod
    def _record(problem: dict, worked: bool) -> dict:
        """A split record; without working (the RL pool) the answer is `#### <n>` alone: the gold the check reads."""
        return {"id": problem["id"], "question": problem["question"],
                "answer": solution(problem["working"], problem["number"], answer_only=not worked),
                "key": problem["key"], "num_ops": problem["num_ops"]}

    def check_params(self, params, source):
        """The difficulty split and the pool, from the params alone (before any stage works)."""
        super().check_params(params, source)
        gen, build, rl = params.generate_stories, params.build_qa, params.train_rl
        where = f"{source}: tasks.{self.name}.build_qa"
        if build.demo_max_ops < gen.min_ops:
            raise StorylabError(f"{where}.demo_max_ops {build.demo_max_ops}: below generate_stories.min_ops "
                                f"({gen.min_ops}), so there is nothing to demonstrate; raise it")
        if build.harder_test_problems and build.demo_max_ops >= gen.max_ops:
            raise StorylabError(f"{where}.demo_max_ops {build.demo_max_ops}: test_harder needs problems of more "
                                f"operations than any demonstration, but generate_stories.max_ops is {gen.max_ops}; "
                                "lower demo_max_ops or raise max_ops (or set harder_test_problems: 0)")
        pool = gen.num_problems - build.test_problems - build.validation_problems - build.harder_test_problems \
            - build.demonstrations
        prompts = rl.prompts_per_step
        if pool < 0 or 0 < pool < prompts:  # no pool at all: RL trains on the demonstrations
            raise StorylabError(f"{where}: the RL pool would hold {pool} problems (generate_stories.num_problems minus "
                                f"the splits and demonstrations), fewer than one GRPO step's {prompts} prompts; raise "
                                "num_problems or lower the splits")

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

    def report_sections(self, evals, predictions, resamples, seed):
        sections = []
        for split in self.heldout_splits:
            rows = []
            for result in evals:
                if split not in result["splits"]:
                    continue
                block = result[split]["all"]
                rows.append({"model": result["model"], "pass@1 (greedy)": _fmt(block["correct"]),
                             **{f"pass@{k}": _fmt(block[f"pass_at_{k}"]) for k in _ks(block)},
                             "sampled accuracy": _fmt(block.get("sampled_correct")),
                             "no ####": _fmt(block["no_marker"]), "shows working": _fmt(block["shows_working"]),
                             **{f"pass@1, {name.split('_')[1]} ops": _fmt(result[split][name]["correct"])
                                for name in result[split] if name.startswith("ops_")}})
            if rows:
                sections += [f"## Held-out problems, {split}: pass@k, format and working",
                             pd.DataFrame(rows).to_markdown(index=False)]
        return sections + [
            "test: problems of as many operations as the demonstrations; test_harder: more operations than any "
            "demonstration (build_qa.demo_max_ops). pass@k: share of problems with at least one right answer among k "
            "samples at eval.sample_temperature. no ####: answers without the marker (the check then takes the last "
            "number). shows working: answers with an `=` line."]


def _ops(problems: list[dict]) -> dict[str, int]:
    return {str(k): v for k, v in sorted(Counter(p["num_ops"] for p in problems).items())}


def _ks(block: dict) -> list[int]:
    return sorted(int(name.split("_")[-1]) for name in block if name.startswith("pass_at_"))


def _fmt(value: dict | None) -> str:
    if not value:
        return "-"
    return f"{value['mean']:.3f} [{value['ci_low']:.3f}, {value['ci_high']:.3f}]"


TASK = WordMath()
