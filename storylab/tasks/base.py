"""What a task is. The stages are task-agnostic: they call these hooks, and a task folder fills them in; the files
build_qa writes are read by the functions at the end of this module (the TRL reward adapter: storylab/rewards.py).

Data layout a task's build_qa writes (and its other stages read), in `data/<task>/qa/`:
    <split>.jsonl              one record per question: `id`, `question` (the user's message), `answer` (the
                               target completion and the gold the scorer compares against), any task fields
    documents.jsonl            optional: plain texts trained on with the loss on every token (story_qa's stories)
    rl_pool.jsonl              optional: problems RL trains on, their answer the checkable final answer only
                               (word_math); without it RL trains on the train split. rl_pool_worked.jsonl: the same
                               problems with full solutions, for the upper-bound arm only
    preferences_<split>.jsonl  optional: DPO pairs `question`, `chosen`, `rejected`
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, ClassVar

from pydantic import Field

from storylab.config.schema import Section
from storylab.errors import StorylabError
from storylab.io import read_jsonl
from storylab.metrics.stats import mean_ci
from storylab.metrics.text import ANSWER_METRICS, answer_scores, exact_match, tokens


RECORD_FIELDS = ("id", "question", "answer")


class Task:
    """A task: its generator, prompts, answer check, metrics and reward. Subclasses set the class attributes and
    override `generate`, `build`, `score_item`; everything else has a default that fits most tasks."""

    name: ClassVar[str]
    metric_version: ClassVar[int]
    # The task's own params sections (tasks.<name>.<section> in params.yaml), validated by these models.
    params: ClassVar[dict[str, type[Section]]]
    splits: ClassVar[tuple[str, ...]] = ("train", "validation", "test")
    heldout_split: ClassVar[str] = "test"
    # Every held-out split (the first is the headline's): each gets eval.num_samples samples and a report table.
    heldout_splits: ClassVar[tuple[str, ...]] = ("test",)
    # Splits build_qa may leave out (their params ask for none); evaluation skips them where absent.
    optional_splits: ClassVar[tuple[str, ...]] = ()
    # The item metric of the headline, the binary check that is also the default GRPO reward ("correct").
    primary_metric: ClassVar[str] = "correct"
    # Whether standalone scoring needs a gold answer per line (`gold`, or `reference`); without one it scores "".
    gold_required: ClassVar[bool] = True
    # Item metrics that may serve as GRPO rewards (train_rl.grpo.rewards); each is in [0, 1].
    reward_metrics: ClassVar[tuple[str, ...]] = ("correct",)

    # -- data: generate_stories and build_qa ------------------------------------------------------------
    def generate(self, params, external_dir: Path) -> tuple[dict[str, list[dict]], dict]:
        """The raw data (file name -> records) from the task's generate_stories params, and the stats its metrics
        file records. external_dir: the folder of files users bring (data/external/, DVC-tracked), for tasks whose
        params name one (instruct's `source`)."""
        raise NotImplementedError

    def rewrite_targets(self, files: dict[str, list[dict]]) -> list[tuple[dict, str, list[str]]]:
        """What generate_stories' optional LLM backend (a `rewrite` block in the task's generate_stories params) may
        retell: (record, text field, phrases the retelling must keep word for word). None by default."""
        return []

    def keeps_facts(self, text: str, record: dict) -> bool:
        """Whether a retold text still carries everything the record's template text did (else it is discarded)."""
        raise NotImplementedError

    def build(self, params, raw_dir: Path) -> tuple[dict[str, list[dict]], dict]:
        """Everything training and evaluation read (file name -> records: the splits, `documents.jsonl`,
        `preferences_<split>.jsonl`), from the raw data and the task's build_qa params, and its stats."""
        raise NotImplementedError

    # -- scoring: one scorer for evaluation and the GRPO reward ------------------------------------------
    def check(self, prediction: str, gold: str, record: dict) -> float:
        """The task's binary check, 1.0 when the prediction is right: the primary metric of score_item, the default
        GRPO reward, and what model selection on the validation split maximises (it takes no params)."""
        raise NotImplementedError

    def score_item(self, prediction: str, gold: str, record: dict, params) -> dict[str, float]:
        """Per-item metrics of one prediction against the gold answer (and, where the task needs them, the
        record's other fields); params: the task's `score` section."""
        raise NotImplementedError

    def score(self, records: list[dict], params, resamples: int, seed: int) -> dict:
        """Metrics over records holding `gold` and `prediction`: {"all": {count, metric: {mean, ci_low, ci_high}}}.
        Tasks add subsets or breakdowns."""
        items = [self.score_item(r["prediction"], r["gold"], r, params) for r in records]
        return {"all": aggregate(items, resamples, seed)}

    def reward_columns(self, record: dict) -> dict:
        """The GRPO dataset's columns besides the prompt (storylab.rewards passes them back to score_item): the gold
        answer and what score_item reads of the record."""
        return {"gold": record["answer"]}

    def check_params(self, params, source: str) -> None:
        """Checks across the task's sections, after each is valid on its own (one line, naming the key)."""
        unknown = [name for name in params.train_rl.grpo.rewards if name not in self.reward_metrics]
        if unknown:
            raise StorylabError(f"{source}: train_rl.grpo.rewards (task {self.name}): unknown reward {unknown[0]!r}; "
                                f"allowed: {', '.join(self.reward_metrics)}")

    def record_from_fields(self, fields: dict, source: str) -> dict:
        """A prompt record (`question` and the task's fields) from structured fields, for `scripts/play.py --field`
        (spec_story: a spec). Tasks whose prompt is plain text have none."""
        raise StorylabError(f"{source}: task {self.name} takes a plain prompt (--prompt), not fields")

    def describe(self, prediction: str, record: dict) -> list[str]:
        """What `scripts/play.py` prints under a completion: the task's reading of it (word_math: the answer;
        spec_story: the constraints it met). record: the prompt's record (`question`, and the task's fields)."""
        return []

    # -- evaluation extras and the report ---------------------------------------------------------------
    def split_extras(self, split: str, records: list[dict], data_dir: str | Path) -> dict:
        """Task-specific numbers stored beside a split's metrics (story_qa: the unseen chance level)."""
        return {}

    def model_metrics(self, split: str, records: list[dict], data_dir: str | Path,
                      logprobs: Callable[[list[str], list[str]], list[tuple[float, int]]], resamples: int,
                      seed: int) -> dict:
        """Numbers that need the model itself, not only its generations (spec_story: the perplexity of the reference
        stories, preference accuracy by log-probability). logprobs(questions, completions): each completion's summed
        log-probability and token count (end token included), prompted as in evaluation."""
        return {}

    def report_sections(self, evals: list[dict], predictions: dict[str, dict[str, dict]], resamples: int,
                        seed: int) -> list[str]:
        """Task-specific markdown sections of the report, after the headline table. predictions: model -> record id
        -> its held-out prediction record; resamples, seed: eval.bootstrap_resamples and eval.seed, for any CI."""
        return []


class AnswerScoreParams(Section):
    short_thresh: int = Field(ge=1)
    rouge_thresh: float = Field(ge=0, le=1)


class ShortAnswerTask(Task):
    """A question with one short gold answer, scored by the seed's eval_accuracy_plus metrics (exact, relaxed,
    token F1, ROUGE-L, Acc@ROUGE-L >= t) over all questions, the short-answer subset, and per `breakdown` field
    (story_qa: fact type; instruct: category)."""
    primary_metric = "exact_match"
    reward_metrics = ANSWER_METRICS
    breakdown: ClassVar[str]

    def check(self, prediction, gold, record):
        return exact_match(prediction, gold)

    def score_item(self, prediction, gold, record, params):
        return answer_scores(prediction, gold, params.short_thresh, params.rouge_thresh)

    def score(self, records, params, resamples, seed):
        items = [self.score_item(r["prediction"], r["gold"], r, params) for r in records]
        short = [item for item, r in zip(items, records) if len(tokens(r["gold"])) <= params.short_thresh]
        result = {"all": _aggregate_answers(items, resamples, seed), "short": _aggregate_answers(short, resamples, seed)}
        if records and all(self.breakdown in r for r in records):
            groups: dict[str, list[float]] = {}
            for record, item in zip(records, items):
                groups.setdefault(record[self.breakdown], []).append(item["exact_match"])
            result[f"by_{self.breakdown}"] = {name: {"count": len(v), "exact_match": sum(v) / len(v)}
                                              for name, v in sorted(groups.items())}
        return result


def _aggregate_answers(items: list[dict], resamples: int, seed: int) -> dict:
    """aggregate(), with every metric present (None) even for an empty subset, as the seed script reported."""
    return {"count": len(items), **{m: None for m in ANSWER_METRICS}, **aggregate(items, resamples, seed)}


def aggregate(items: list[dict[str, float]], resamples: int, seed: int) -> dict:
    """Mean of each item metric with its 95% bootstrap CI."""
    names = list(items[0]) if items else []
    return {"count": len(items), **{name: mean_ci([item[name] for item in items], resamples, seed) for name in names}}


def reference_perplexity(records: list[dict], logprobs: Callable, resamples: int, seed: int) -> dict:
    """The perplexity of the records' reference answers given their prompts (end token included): mean negative
    log-likelihood per token with its CI, and the same exponentiated."""
    scored = logprobs([r["question"] for r in records], [r["answer"] for r in records])
    block = mean_ci([-total / count for total, count in scored], resamples, seed)
    return {"count": len(records), "nll_per_token": block,
            "perplexity": {name: math.exp(value) for name, value in block.items()}}


def format_ci(value: dict | None, digits: int = 3) -> str:
    """`mean [ci_low, ci_high]` for a report table; "-" where the metric is absent."""
    if not value:
        return "-"
    return f"{value['mean']:.{digits}f} [{value['ci_low']:.{digits}f}, {value['ci_high']:.{digits}f}]"


def side_by_side(predictions: dict[str, dict[str, dict]], count: int) -> list[str]:
    """The first `count` held-out prompts, each model's completion under it (one markdown block per prompt)."""
    names = list(predictions)
    blocks = []
    for record_id in sorted(predictions[names[0]])[:count]:
        lines = [f"### {record_id}", "```", predictions[names[0]][record_id]["question"], "```"]
        for name in names:
            lines += [f"**{name}:**", "", predictions[name][record_id]["prediction"], ""]
        blocks.append("\n".join(lines))
    return blocks


# -- the files build_qa writes -------------------------------------------------------------------------
def load_split(task, split: str, data_dir: str | Path) -> list[dict]:
    """The records of one of the task's splits (at least one)."""
    if split not in task.splits:
        raise ValueError(f"{task.name} has no split {split!r}; its splits: {', '.join(task.splits)}")
    path = Path(data_dir) / f"{split}.jsonl"
    records = read_jsonl(path, required=RECORD_FIELDS)
    if not records:
        raise StorylabError(f"{path}: no records; rerun build_qa (dvc repro) or check the task's build_qa params")
    return records


def load_pool(task, data_dir: str | Path, worked: bool = False) -> list[dict]:
    """The problems RL and expert iteration train on: rl_pool.jsonl (answers to check, no solutions), else the
    train split. worked: rl_pool_worked.jsonl, the same problems with full solutions (the upper-bound arm)."""
    path = Path(data_dir) / ("rl_pool_worked.jsonl" if worked else "rl_pool.jsonl")
    return read_jsonl(path, required=RECORD_FIELDS) if path.is_file() else load_split(task, "train", data_dir)


def load_documents(data_dir: str | Path) -> list[dict]:
    """Texts trained on with the loss on every token, besides the train split (none when there is no file)."""
    path = Path(data_dir) / "documents.jsonl"
    return read_jsonl(path, required=("text",)) if path.is_file() else []


def load_preferences(split: str, data_dir: str | Path) -> list[dict] | None:
    """The split's DPO pairs, None when build_qa wrote none."""
    path = Path(data_dir) / f"preferences_{split}.jsonl"
    return read_jsonl(path, required=("question", "chosen", "rejected")) if path.is_file() else None
