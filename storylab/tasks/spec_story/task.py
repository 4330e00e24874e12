"""spec_story: a structured spec (title, setting, characters, object, taboo rule, twist, constraints) -> a 2-4
paragraph horror story. SFT learns the mapping (the loss on the story tokens only), DPO then prefers horror over a
wholesome rewrite (easy pairs) and a story that keeps every constraint over one that silently breaks one (hard pairs).

The check (`correct`, also the GRPO reward and the validation score) is every constraint at once: paragraph count
2-4 with each paragraph's length in the reference range, protagonist, supporting character, object, taboo rule and
twist present, and, where the record says how generation ended, stopped on the end token.
"""
from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
from pydantic import Field

from storylab.config.schema import RewriteParams, Section
from storylab.errors import StorylabError
from storylab.io import read_jsonl
from storylab.metrics.stats import mean_ci
from storylab.metrics.text import normalize
from storylab.metrics.writing import distinct_n, overlap, paragraphs, repeated_ngram_share, words
from storylab.tasks.base import Task, aggregate, load_preferences, reference_perplexity
from storylab.tasks.spec_story.generator import CONSTRAINTS as CONSTRAINT_TEXT, generate
from storylab.tasks.spec_story.report import report_sections
from storylab.tasks.spec_story.style import horror_score

SPEC_FIELDS = ("title", "setting", "protagonist", "supporting_character", "object", "taboo", "twist", "constraints")
# The constraints checked one by one; `correct` is all of them (and `stopped`, where known).
CONSTRAINTS = ("paragraphs", "protagonist", "supporting_character", "object", "taboo", "twist")
# Words per paragraph of the reference stories, shortest to longest over every template combination
# (tests/test_data.py checks the generator against it): a paragraph outside it breaks the paragraph constraint.
PARAGRAPH_WORDS = (21, 66)


class GenerateParams(Section):
    seed: int = Field(ge=0)
    num_specs: int = Field(ge=6)
    wholesome_fraction: float = Field(ge=0, le=1)
    rewrite: RewriteParams


class BuildParams(Section):
    seed: int = Field(ge=0)
    validation_specs: int = Field(ge=1)
    test_specs: int = Field(ge=1)


class ScoreParams(Section):
    """No knobs: the paragraph length range is the generator's (PARAGRAPH_WORDS)."""


def format_spec(spec: dict) -> str:
    """The user's message: one line per spec field."""
    return "Write a story for this spec.\n" + "\n".join(
        f"{field.replace('_', ' ').capitalize()}: {spec[field]}" for field in SPEC_FIELDS)


def check_constraints(text: str, spec: dict) -> dict[str, float]:
    """Each constraint of the spec, 1.0 when the story meets it (names and phrases matched after normalisation)."""
    story = f" {normalize(text)} "
    blocks = paragraphs(text)
    lengths_ok = all(PARAGRAPH_WORDS[0] <= len(words(block)) <= PARAGRAPH_WORDS[1] for block in blocks)
    present = {field: float(f" {normalize(spec[field])} " in story)
               for field in ("protagonist", "supporting_character", "taboo", "twist")}
    obj = normalize(spec["object"]).removeprefix("a ").removeprefix("an ")
    return {"paragraphs": float(2 <= len(blocks) <= 4 and lengths_ok), **present,
            "object": float(f" {obj} " in story)}


class SpecStory(Task):
    name = "spec_story"
    metric_version = 2  # 2: ROUGE-L tokenises Unicode letters and digits (1: rouge-score's [a-z0-9] only)
    params = {"generate_stories": GenerateParams, "build_qa": BuildParams, "score": ScoreParams}
    splits = ("train", "validation", "test")
    primary_metric = "correct"
    reward_metrics = ("correct", *CONSTRAINTS, "style")
    constraints = CONSTRAINTS  # the report's columns
    gold_required = False  # standalone scoring: `reference` is optional (BLEU / ROUGE-L need it)

    def generate(self, params, external_dir):
        try:
            records = generate(params.seed, params.num_specs, params.wholesome_fraction)
        except ValueError as exc:
            raise StorylabError(f"tasks.{self.name}.generate_stories: {exc}; lower num_specs")
        counts = pd.Series([len(paragraphs(r["story"])) for r in records]).value_counts().sort_index()
        lengths = [len(words(block)) for r in records for block in paragraphs(r["horror"])]
        return {"specs.jsonl": records}, {
            "specs": len(records), "wholesome_references": sum(r["register"] == "wholesome" for r in records),
            "by_paragraphs": {str(k): int(v) for k, v in counts.items()},
            "paragraph_words": [min(lengths), max(lengths)],
            "story_words_mean": round(sum(len(words(r["story"])) for r in records) / len(records), 1)}

    def rewrite_targets(self, files):
        """The SFT references (`story`) only: the preference pairs stay templated, so chosen and rejected keep their
        matched lengths."""
        return [(r, "story", [r["spec"][field] for field in CONSTRAINTS[1:]]) for r in files["specs.jsonl"]]

    def keeps_facts(self, text, record):
        return all(check_constraints(text, record["spec"]).values())

    def build(self, params, raw_dir):
        """Split by spec (specs are distinct): held-out first, in draw order. Train references are in their drawn
        register; held-out references, and every chosen story, are horror. Each spec gives an easy and a hard pair."""
        specs = read_jsonl(Path(raw_dir, "specs.jsonl"),
                           required=("id", "spec", "story", "horror", "wholesome", "hard_broken", "hard_rejected"))
        held = params.validation_specs + params.test_specs
        if held >= len(specs):
            raise StorylabError(f"tasks.{self.name}.build_qa: validation_specs + test_specs ({held}) leave no train "
                                f"specs of the {len(specs)} generated; raise generate_stories.num_specs")
        parts = {"test": specs[:params.test_specs], "validation": specs[params.test_specs:held], "train": specs[held:]}
        rng = random.Random(params.seed)
        files, stats = {}, {}
        for split, part in parts.items():
            files[f"{split}.jsonl"] = [{"id": s["id"], "question": format_spec(s["spec"]),
                                        "answer": s["story"] if split == "train" else s["horror"], "spec": s["spec"],
                                        "register": s["register"] if split == "train" else "horror"} for s in part]
            pairs = []
            for s in part:
                easy = {"kind": "easy", "broken": "style", "rejected": s["wholesome"]}
                hard = {"kind": "hard", "broken": s["hard_broken"], "rejected": s["hard_rejected"]}
                for pair in rng.sample([easy, hard], 2):
                    pairs.append({"id": f"{s['id']}-{pair['kind']}", "question": format_spec(s["spec"]),
                                  "chosen": s["horror"], **pair})
            if split != "validation":
                files[f"preferences_{split}.jsonl"] = pairs
            stats[split] = {"specs": len(part), "preference_pairs": len(pairs),
                            "hard_broken": dict(sorted(pd.Series([s["hard_broken"] for s in part]).value_counts()
                                                       .items()))}
        keys = {split: {format_spec(s["spec"]) for s in part} for split, part in parts.items()}
        if keys["train"] & (keys["test"] | keys["validation"]):
            raise StorylabError("a held-out spec is also a train spec; the generator's specs must be distinct")
        return files, stats

    def check(self, prediction, gold, record):
        return float(all(check_constraints(prediction, record["spec"]).values()) and record.get("stopped", True))

    def score_item(self, prediction, gold, record, params):
        met = check_constraints(prediction, record["spec"])
        stopped = {"stopped": float(record["stopped"])} if "stopped" in record else {}
        return {"correct": float(all(met.values()) and record.get("stopped", True)), **met, **stopped,
                "repeated_4gram": repeated_ngram_share(prediction), "distinct_2": distinct_n(prediction),
                "style": horror_score(prediction), "words": float(len(words(prediction)))}

    def reward_columns(self, record):
        return {"gold": record["answer"], "spec": record["spec"]}

    def score(self, records, params, resamples, seed):
        """All stories; their overlap with the reference (BLEU, ROUGE-L) where there is one; and the references
        themselves (their repetition and style: the yardsticks of the targets)."""
        for line, record in enumerate(records, start=1):
            if not isinstance(record.get("spec"), dict) or set(SPEC_FIELDS) - set(record["spec"]):
                raise StorylabError(f"record {line}: `spec` must be an object with the fields "
                                    f"{', '.join(SPEC_FIELDS)}")
        result = {"all": aggregate([self.score_item(r["prediction"], r["gold"], r, params) for r in records],
                                   resamples, seed)}
        referenced = [r for r in records if r["gold"]]
        if referenced:
            result["overlap"] = aggregate([overlap(r["prediction"], r["gold"]) for r in referenced], resamples, seed)
            result["reference"] = aggregate([{"repeated_4gram": repeated_ngram_share(r["gold"]),
                                              "distinct_2": distinct_n(r["gold"]), "style": horror_score(r["gold"]),
                                              "words": float(len(words(r["gold"])))} for r in referenced],
                                            resamples, seed)
        return result

    def record_from_fields(self, fields, source):
        """A spec: every field but `constraints` (default: the task's fixed constraints) is required, text only."""
        spec = {"constraints": CONSTRAINT_TEXT, **fields}
        missing = [field for field in SPEC_FIELDS if not str(spec.get(field) or "").strip()]
        unknown = sorted(set(spec) - set(SPEC_FIELDS))
        if missing or unknown:
            problem = f"missing {', '.join(missing)}" if missing else f"unknown field {unknown[0]!r}"
            raise StorylabError(f"{source}: spec {problem}; a spec has {', '.join(SPEC_FIELDS)}")
        spec = {field: str(spec[field]).strip() for field in SPEC_FIELDS}
        return {"question": format_spec(spec), "spec": spec}

    def describe(self, prediction, record):
        if "spec" not in record:
            return ["(a raw --prompt: no spec to check the constraints against)"]
        met = check_constraints(prediction, record["spec"])
        failed = [name for name, ok in met.items() if not ok]
        return [f"paragraphs: {len(paragraphs(prediction))}, words: {len(words(prediction))}, "
                f"style (horror share of lexicon words): {horror_score(prediction):.2f}",
                "constraints: all met" if not failed else f"constraints missed: {', '.join(failed)}"]

    def model_metrics(self, split, records, data_dir, logprobs, resamples, seed):
        """The perplexity of the held-out reference stories, and on the held-out preference pairs whether the model
        gives the chosen story the higher log-probability (easy and hard pairs apart). Only the pairs of the specs
        evaluated: eval.max_per_split caps the pairs with the stories (two long completions each to score)."""
        if split != self.heldout_split:
            return {}
        result = {"reference_ppl": reference_perplexity(records, logprobs, resamples, seed)}
        scored = {r["question"] for r in records}
        pairs = [p for p in load_preferences(split, data_dir) or [] if p["question"] in scored]
        if pairs:
            chosen = logprobs([p["question"] for p in pairs], [p["chosen"] for p in pairs])
            rejected = logprobs([p["question"] for p in pairs], [p["rejected"] for p in pairs])
            for kind in ("easy", "hard"):
                rows = [(c[0], r[0]) for p, c, r in zip(pairs, chosen, rejected) if p.get("kind") == kind]
                if rows:
                    result[f"pairs_{kind}"] = {
                        "count": len(rows), "logprob_accuracy": mean_ci([float(c > r) for c, r in rows], resamples, seed),
                        "logprob_margin": mean_ci([c - r for c, r in rows], resamples, seed)}
        return result

    def report_sections(self, evals, predictions, resamples, seed):
        return report_sections(self, evals, predictions, resamples, seed)


TASK = SpecStory()
