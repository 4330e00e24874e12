"""Question-answer pairs from entity facts, split by entity so held-out QA tests knowledge extraction."""
from __future__ import annotations

import random

from storylab.biographies import QUESTION_TEMPLATES

SPLITS = ("train", "test", "unseen")  # unseen: people with no story anywhere (a chance-level control)


def split_entities(entity_ids: list[str], test_fraction: float, rng: random.Random) -> dict[str, str]:
    """entity_id -> "train" | "test"; at least one entity on each side."""
    shuffled = sorted(entity_ids)
    rng.shuffle(shuffled)
    num_test = min(max(1, round(len(shuffled) * test_fraction)), len(shuffled) - 1)
    return {entity_id: ("test" if index < num_test else "train") for index, entity_id in enumerate(shuffled)}


def build_pairs(entities: list[dict], test_fraction: float, train_phrasings_per_fact: int,
                seed: int) -> list[dict]:
    """QA records for every entity: train entities get several phrasings per fact, held-out ones one."""
    rng = random.Random(seed)
    with_story = [e["entity_id"] for e in entities if e["has_story"]]
    split_of = split_entities(with_story, test_fraction, rng)
    pairs = []
    for entity in entities:
        split = split_of.get(entity["entity_id"], "unseen")
        for fact_type, answer in entity["facts"].items():
            templates = QUESTION_TEMPLATES[fact_type]
            count = min(train_phrasings_per_fact, len(templates)) if split == "train" else 1
            for template in rng.sample(templates, count):
                pairs.append({"id": f"{entity['entity_id']}-{fact_type}-{templates.index(template)}",
                              "entity_id": entity["entity_id"], "split": split, "fact_type": fact_type,
                              "question": template.format(name=entity["name"]), "answer": answer})
    return pairs


def preference_pairs(pairs: list[dict], entities: list[dict], seed: int) -> list[dict]:
    """DPO pairs for train and test questions: chosen = the true answer, rejected = the same fact of another
    storied person (a plausible wrong answer of the right type, never the true one)."""
    rng = random.Random(seed)
    values: dict[str, set[str]] = {}
    for entity in entities:
        if entity["has_story"]:
            for fact_type, value in entity["facts"].items():
                values.setdefault(fact_type, set()).add(value)
    preferences = []
    for pair in pairs:
        wrong = sorted(values.get(pair["fact_type"], set()) - {pair["answer"]})
        if pair["split"] == "unseen" or not wrong:
            continue
        preferences.append({"id": pair["id"], "entity_id": pair["entity_id"], "split": pair["split"],
                            "fact_type": pair["fact_type"], "question": pair["question"],
                            "chosen": pair["answer"], "rejected": rng.choice(wrong)})
    return preferences


def find_leaks(training_texts: list[str], heldout_pairs: list[dict]) -> list[dict]:
    """Held-out pairs whose question and answer both appear in one training text."""
    by_question: dict[str, list[dict]] = {}
    for pair in heldout_pairs:
        by_question.setdefault(pair["question"], []).append(pair)
    leaks = []
    for text in training_texts:
        for question, pairs in by_question.items():
            if question in text:
                leaks.extend(pair for pair in pairs if pair["answer"] in text)
    return leaks
