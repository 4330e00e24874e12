"""tag_story: a reader's tags (name, character traits, setting, plot preferences, tone) -> a short story that uses
every one of them. SFT learns the mapping (loss on the story only); GRPO then rewards the share of tags the sampled
story uses (`coverage`, the evaluation's own metric).

The check (`correct`, the headline and the validation score) is every tag used, and, where the record says how
generation ended, stopped on the end token. A tag is used when it appears word for word (after normalisation, a leading article aside);
a tone when one of its marker words appears (generator.TONES).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from pydantic import Field

from storylab.config.schema import RewriteParams, Section
from storylab.errors import StorylabError
from storylab.io import read_jsonl
from storylab.metrics.text import normalize
from storylab.metrics.writing import distinct_n, overlap, repeated_ngram_share, words
from storylab.tasks.base import Task, aggregate, format_ci, reference_perplexity, side_by_side
from storylab.tasks.tag_story.generator import TAG_FIELDS, TONES, generate

LIST_FIELDS = ("traits", "plots")


class GenerateParams(Section):
    seed: int = Field(ge=0)
    num_sets: int = Field(ge=6)
    rewrite: RewriteParams


class BuildParams(Section):
    seed: int = Field(ge=0)
    validation_sets: int = Field(ge=1)
    test_sets: int = Field(ge=1)


class ScoreParams(Section):
    """No knobs: a tag is used or not; a tone's markers are the generator's."""


def format_tags(tags: dict) -> str:
    """The user's message: one line per tag field, lists comma-separated."""
    return ("Write a short story for a reader with these tags.\n"
            f"Name: {tags['name']}\nTraits: {', '.join(tags['traits'])}\nSetting: {tags['setting']}\n"
            f"Plot: {', '.join(tags['plots'])}\nTone: {tags['tone']}")


def tag_list(tags: dict) -> list[tuple[str, str]]:
    """Every tag as (field, value): a set of 5 to 7."""
    return [(field, value) for field in TAG_FIELDS
            for value in (tags[field] if field in LIST_FIELDS else [tags[field]])]


def tag_used(text: str, field: str, value: str) -> bool:
    """Word for word after normalisation, a leading article aside ("the hidden treasure" uses "a hidden treasure");
    a tone by one of its marker words."""
    if field == "tone":
        return bool(set(words(text)) & set(TONES[value][0]))
    phrase = re.sub(r"^(a|an|the) ", "", normalize(value))
    return f" {phrase} " in f" {normalize(text)} "


def check_tags(text: str, tags: dict) -> dict[str, float]:
    """Per field, the share of its tags the story uses; `coverage`: the share of all tags."""
    used = [(field, float(tag_used(text, field, value))) for field, value in tag_list(tags)]
    per_field = {field: sum(u for f, u in used if f == field) / sum(f == field for f, _ in used) for field in TAG_FIELDS}
    return {"coverage": sum(u for _, u in used) / len(used), **per_field}


class TagStory(Task):
    name = "tag_story"
    metric_version = 2  # 2: ROUGE-L tokenises Unicode letters and digits (1: rouge-score's [a-z0-9] only)
    params = {"generate_stories": GenerateParams, "build_qa": BuildParams, "score": ScoreParams}
    primary_metric = "correct"
    reward_metrics = ("correct", "coverage")
    gold_required = False  # standalone scoring: `reference` is optional (BLEU / ROUGE-L need it)

    def generate(self, params, external_dir):
        try:
            records = generate(params.seed, params.num_sets)
        except ValueError as exc:
            raise StorylabError(f"tasks.{self.name}.generate_stories: {exc}; lower num_sets")
        sizes = pd.Series([len(tag_list(r["tags"])) for r in records]).value_counts().sort_index()
        return {"tag_sets.jsonl": records}, {
            "tag_sets": len(records), "by_tag_count": {str(k): int(v) for k, v in sizes.items()},
            "story_words_mean": round(sum(len(words(r["story"])) for r in records) / len(records), 1)}

    def rewrite_targets(self, files):
        return [(r, "story", [value for field, value in tag_list(r["tags"]) if field != "tone"])
                for r in files["tag_sets.jsonl"]]

    def keeps_facts(self, text, record):
        return check_tags(text, record["tags"])["coverage"] == 1.0

    def build(self, params, raw_dir):
        """Split by tag set (the sets are distinct, so every held-out combination is new; each single tag is
        seen in train): held-out first, in draw order."""
        sets = read_jsonl(Path(raw_dir, "tag_sets.jsonl"), required=("id", "tags", "story"))
        held = params.validation_sets + params.test_sets
        if held >= len(sets):
            raise StorylabError(f"tasks.{self.name}.build_qa: validation_sets + test_sets ({held}) leave no train "
                                f"tag sets of the {len(sets)} generated; raise generate_stories.num_sets")
        parts = {"test": sets[:params.test_sets], "validation": sets[params.test_sets:held], "train": sets[held:]}
        files = {f"{split}.jsonl": [{"id": s["id"], "question": format_tags(s["tags"]), "answer": s["story"],
                                     "tags": s["tags"]} for s in part] for split, part in parts.items()}
        seen = {format_tags(s["tags"]) for s in parts["train"]}
        if any(format_tags(s["tags"]) in seen for s in parts["test"] + parts["validation"]):
            raise StorylabError("a held-out tag set is also a train tag set; the generator's sets must be distinct")
        return files, {split: {"tag_sets": len(part)} for split, part in parts.items()}

    def check(self, prediction, gold, record):
        return float(check_tags(prediction, record["tags"])["coverage"] == 1.0 and record.get("stopped", True))

    def score_item(self, prediction, gold, record, params):
        used = check_tags(prediction, record["tags"])
        stopped = {"stopped": float(record["stopped"])} if "stopped" in record else {}
        return {"correct": float(used["coverage"] == 1.0 and record.get("stopped", True)), **used, **stopped,
                "repeated_4gram": repeated_ngram_share(prediction), "distinct_2": distinct_n(prediction),
                "words": float(len(words(prediction)))}

    def reward_columns(self, record):
        return {"gold": record["answer"], "tags": record["tags"]}

    def score(self, records, params, resamples, seed):
        """All stories, and their overlap with the reference (BLEU, ROUGE-L) where there is one."""
        for line, record in enumerate(records, start=1):
            self._valid_tags(record.get("tags"), f"record {line}")
        result = {"all": aggregate([self.score_item(r["prediction"], r["gold"], r, params) for r in records],
                                   resamples, seed)}
        referenced = [r for r in records if r["gold"]]
        if referenced:
            result["overlap"] = aggregate([overlap(r["prediction"], r["gold"]) for r in referenced], resamples, seed)
        return result

    def _valid_tags(self, tags, source: str) -> None:
        if not isinstance(tags, dict) or set(TAG_FIELDS) - set(tags):
            raise StorylabError(f"{source}: `tags` must be an object with the fields {', '.join(TAG_FIELDS)}")
        if tags["tone"] not in TONES:
            raise StorylabError(f"{source}: tags.tone {tags['tone']!r} is not a known tone; known: {', '.join(TONES)}")
        if not all(isinstance(tags[field], list) and tags[field] for field in LIST_FIELDS):
            raise StorylabError(f"{source}: tags.traits and tags.plots must be non-empty lists")

    def record_from_fields(self, fields, source):
        """Tags: name, setting and tone as text; traits and plots as lists or comma-separated text."""
        unknown = sorted(set(fields) - set(TAG_FIELDS))
        if unknown:
            raise StorylabError(f"{source}: unknown tag field {unknown[0]!r}; the tags are {', '.join(TAG_FIELDS)}")
        tags = {field: ([part.strip() for part in value.split(",") if part.strip()]
                        if field in LIST_FIELDS and isinstance(value, str) else value)
                for field, value in fields.items()}
        self._valid_tags(tags, source)
        return {"question": format_tags(tags), "tags": tags}

    def describe(self, prediction, record):
        if "tags" not in record:
            return ["(a raw --prompt: no tags to check against)"]
        missed = [value for field, value in tag_list(record["tags"]) if not tag_used(prediction, field, value)]
        return [f"words: {len(words(prediction))}",
                "tags: all used" if not missed else f"tags missed: {', '.join(missed)}"]

    def model_metrics(self, split, records, data_dir, logprobs, resamples, seed):
        if split != self.heldout_split:
            return {}
        return {"reference_ppl": reference_perplexity(records, logprobs, resamples, seed)}

    def report_sections(self, evals, predictions, resamples, seed):
        split = self.heldout_split
        rows = []
        for result in evals:
            block, overlap = result[split]["all"], result[split]["overlap"]
            rows.append({"model": result["model"], "tag coverage": format_ci(block["coverage"]),
                         **{field: format_ci(block[field]) for field in TAG_FIELDS},
                         "all tags": format_ci(block["correct"]), "stopped": format_ci(block.get("stopped")),
                         "BLEU": format_ci(overlap["bleu"]), "ROUGE-L": format_ci(overlap["rouge_l"]),
                         "reference perplexity": format_ci(result[split]["reference_ppl"]["perplexity"], 2),
                         "repeated 4-grams": format_ci(block["repeated_4gram"])})
        return ["## Tags used on held-out tag sets (greedy)", pd.DataFrame(rows).to_markdown(index=False),
                "Tag coverage: share of a set's tags the story uses (word for word; a tone by one of its marker words). "
                "`all tags`: every tag used and stopped on the end token (read from the token ids). Reference "
                "perplexity: of the held-out reference stories given their tags (end token included).",
                "## Sample stories (the first held-out tag sets, greedy)", *side_by_side(predictions, 5)]


TASK = TagStory()
