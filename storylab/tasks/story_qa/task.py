"""story_qa: generated biographies -> questions about their facts, split by person.

QA of `train` people is trained on; QA of `test` people is held out although their stories are trained on (can
the model *extract* knowledge it only read?); `unseen` people have no story anywhere (a control that must sit at
chance level). Scoring is the seed's eval_accuracy_plus: exact, relaxed, token F1, ROUGE-L, Acc@ROUGE-L >= t,
over all questions and the short-answer subset.
"""
from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path

import pandas as pd
from pydantic import Field

from storylab.biographies import generate
from storylab.config.schema import Section
from storylab.errors import StorylabError
from storylab.io import read_jsonl
from storylab.metrics.text import exact_match
from storylab.tasks.base import AnswerScoreParams, ShortAnswerTask, load_split
from storylab.tasks.story_qa.qa import SPLITS, build_pairs, find_leaks, preference_pairs


class GenerateStoriesParams(Section):
    seed: int = Field(ge=0)
    num_entities: int = Field(ge=4)
    num_unseen_entities: int = Field(ge=0)
    stories_per_entity: int = Field(ge=1)
    permute_sentences: bool
    distractors_per_story: int = Field(ge=0, le=6)
    pronoun_fraction: float = Field(ge=0, le=1)


class BuildQAParams(Section):
    seed: int = Field(ge=0)
    test_fraction: float = Field(gt=0, lt=1)
    train_phrasings_per_fact: int = Field(ge=1)


class StoryQA(ShortAnswerTask):
    name = "story_qa"
    metric_version = 2  # 2: ROUGE-L tokenises Unicode letters and digits (1: rouge-score's [a-z0-9] only)
    params = {"generate_stories": GenerateStoriesParams, "build_qa": BuildQAParams, "score": AnswerScoreParams}
    splits = SPLITS
    breakdown = "fact_type"

    def generate(self, params, external_dir):
        entities, stories = generate(**params.model_dump())
        story_map = {}
        for story in stories:  # plotline (one person's life) -> the stories that tell it
            story_map.setdefault(story["entity_id"], []).append(story["story_id"])
        words = [len(story["text"].split()) for story in stories]
        stats = {"entities_with_story": sum(e.has_story for e in entities),
                 "entities_without_story": sum(not e.has_story for e in entities), "stories": len(stories),
                 "words_per_story": {"mean": round(statistics.mean(words), 2), "min": min(words), "max": max(words)}}
        return {"entities.jsonl": [e.to_record() for e in entities], "stories.jsonl": stories,
                "story_map.json": story_map}, stats

    def build(self, params, raw_dir):
        entities = read_jsonl(Path(raw_dir, "entities.jsonl"), required=("entity_id", "name", "facts", "has_story"))
        stories = read_jsonl(Path(raw_dir, "stories.jsonl"), required=("story_id", "text"))
        pairs = build_pairs(entities, params.test_fraction, params.train_phrasings_per_fact, params.seed)
        by_split = {split: [p for p in pairs if p["split"] == split] for split in SPLITS}
        preferences = preference_pairs(pairs, entities, params.seed)
        train_texts = [p["question"] + " " + p["answer"] for p in by_split["train"]]
        train_texts += [f"{p['question']} {p['chosen']} {p['rejected']}" for p in preferences if p["split"] == "train"]
        leaks = find_leaks(train_texts, by_split["test"] + by_split["unseen"])
        if leaks:
            raise StorylabError(f"held-out question leaked into train QA: {leaks[0]['question']!r}")
        files = {f"{split}.jsonl": split_pairs for split, split_pairs in by_split.items()}
        files["qa_pairs.json"] = pairs
        for split in ("train", "test"):
            files[f"preferences_{split}.jsonl"] = [p for p in preferences if p["split"] == split]
        # The stories are trained on with the loss on every token, beside the train QA.
        files["documents.jsonl"] = [{"id": s["story_id"], "text": s["text"]} for s in stories]
        stats = {split: {"questions": len(split_pairs), "entities": len({p["entity_id"] for p in split_pairs}),
                         "by_fact_type": dict(sorted(Counter(p["fact_type"] for p in split_pairs).items()))}
                 for split, split_pairs in by_split.items()}
        return files, stats

    def check_params(self, params, source):
        super().check_params(params, source)
        people, fraction = params.generate_stories.num_entities, params.build_qa.test_fraction
        held_out = round(people * fraction)
        if not 1 <= held_out < people:
            raise StorylabError(f"{source}: tasks.{self.name}.build_qa.test_fraction {fraction} holds out {held_out} of "
                                f"{people} people: it must leave at least one on each side")

    def split_extras(self, split, records, data_dir):
        if split != "unseen":
            return {}
        return {"chance_exact_match": chance_exact_match(records, load_split(self, "train", data_dir))}

    def report_sections(self, evals, predictions, resamples, seed):
        return ["## Memorisation vs extraction", split_table(evals).to_markdown(index=False),
                "Unseen: people with no story anywhere; their EM should sit at the chance level of answering the "
                "most common train answer of each fact type.",
                "## Held-out exact match per fact type", fact_type_table(evals).to_markdown(index=False, floatfmt=".3f")]


def chance_exact_match(unseen: list[dict], train_qa: list[dict]) -> float:
    """EM of always answering the most common train answer of the fact type (the best blind guess)."""
    common = {}
    for fact in {p["fact_type"] for p in train_qa}:
        common[fact] = Counter(p["answer"] for p in train_qa if p["fact_type"] == fact).most_common(1)[0][0]
    hits = [exact_match(common.get(r["fact_type"], ""), r["gold"]) for r in unseen]
    return sum(hits) / len(hits) if hits else 0.0


def _cell(result: dict, split: str) -> str:
    """EM with its CI, or "-" for a split the evaluation did not score (eval.splits)."""
    if split not in result:
        return "-"
    em = result[split]["all"]["exact_match"]
    return f"{em['mean']:.3f} [{em['ci_low']:.3f}, {em['ci_high']:.3f}]"


def split_table(evals: list[dict]) -> pd.DataFrame:
    """Memorisation (train) beside extraction (test) and the no-story control (unseen) with its chance level."""
    return pd.DataFrame({"model": [r["model"] for r in evals],
                         **{f"{split} EM": [_cell(r, split) for r in evals] for split in ("train", "test", "unseen")},
                         "unseen chance": [f"{r['unseen']['chance_exact_match']:.3f}" if "unseen" in r else "-"
                                           for r in evals]})


def fact_type_table(evals: list[dict]) -> pd.DataFrame:
    """Held-out EM per fact type (rows) and model (columns): which kinds of fact are extracted."""
    return pd.DataFrame({r["model"]: {fact: v["exact_match"] for fact, v in r["test"]["by_fact_type"].items()}
                         for r in evals}).rename_axis("fact type").reset_index()


TASK = StoryQA()
