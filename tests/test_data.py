"""Story generator and QA builder: determinism, ground truth in the text, split by entity, no leakage."""
import random

import pytest

from storylab.qa import QUESTION_TEMPLATES, build_pairs, find_leaks, preference_pairs
from storylab.stories import DISTRACTOR_SURNAMES, FACT_TYPES, PLACES, generate, make_entities, write_story

ARGS = dict(seed=1, num_entities=30, num_unseen_entities=5, stories_per_entity=3, permute_sentences=True,
            distractors_per_story=2, pronoun_fraction=0.25)


def test_same_seed_same_corpus_and_other_seed_differs():
    assert generate(**ARGS)[1] == generate(**ARGS)[1]
    assert generate(**{**ARGS, "seed": 2})[1] != generate(**ARGS)[1]


def test_every_story_states_every_fact_of_its_entity():
    entities, stories = generate(**ARGS)
    facts = {e.entity_id: e.facts for e in entities}
    assert len(FACT_TYPES) >= 6
    for story in stories:
        for value in facts[story["entity_id"]].values():
            assert value in story["text"]


def test_unseen_entities_have_no_story_and_names_are_unique():
    entities, stories = generate(**ARGS)
    unseen = {e.entity_id for e in entities if not e.has_story}
    assert len(unseen) == 5
    assert not unseen & {s["entity_id"] for s in stories}
    assert len({e.name for e in entities}) == len(entities)
    assert len(stories) == 30 * 3


def test_no_person_shares_a_surname_with_a_distractor_or_a_place():
    """Distractor sentences name other people and places; a shared surname would pin facts on the wrong one."""
    entities = make_entities(random.Random(0), 600, 100)
    surnames = {e.name.split()[-1] for e in entities}
    assert not surnames & (set(DISTRACTOR_SURNAMES) | set(PLACES))


def test_paraphrases_differ_and_permutation_changes_fact_order():
    entity = make_entities(random.Random(0), 1, 0)[0]
    rng = random.Random(0)
    fixed = [write_story(rng, entity, permute=False, num_distractors=0, pronoun_fraction=0.25) for _ in range(5)]
    shuffled = [write_story(rng, entity, permute=True, num_distractors=0, pronoun_fraction=0.25) for _ in range(5)]
    assert len(set(fixed)) > 1  # templates vary per story

    def order(text):
        return tuple(sorted(FACT_TYPES, key=lambda f: text.index(entity.facts[f])))

    assert len({order(t) for t in fixed}) == 1
    assert len({order(t) for t in shuffled}) > 1


def test_qa_split_by_entity_with_phrasings():
    entities, _ = generate(**ARGS)
    records = [e.to_record() for e in entities]
    pairs = build_pairs(records, test_fraction=0.3, train_phrasings_per_fact=2, seed=0)
    split_of = {}
    for pair in pairs:
        assert split_of.setdefault(pair["entity_id"], pair["split"]) == pair["split"]  # one split per entity
        assert pair["answer"] == next(e.facts for e in entities if e.entity_id == pair["entity_id"])[pair["fact_type"]]
    splits = list(split_of.values())
    assert splits.count("test") == 9 and splits.count("train") == 21 and splits.count("unseen") == 5
    train = [p for p in pairs if p["split"] == "train"]
    assert len(train) == 21 * len(FACT_TYPES) * 2
    assert len({p["id"] for p in pairs}) == len(pairs)
    assert set(QUESTION_TEMPLATES) == set(FACT_TYPES)


def test_leakage_check_finds_an_injected_leak_and_none_in_real_training_data():
    entities, stories = generate(**ARGS)
    pairs = build_pairs([e.to_record() for e in entities], 0.3, 2, seed=0)
    heldout = [p for p in pairs if p["split"] != "train"]
    records = [e.to_record() for e in entities]
    preferences = [p for p in preference_pairs(pairs, records, seed=0) if p["split"] == "train"]
    training_texts = ([s["text"] for s in stories] + [p["question"] + " " + p["answer"] for p in pairs
                                                      if p["split"] == "train"]
                      + [f"{p['question']} {p['chosen']} {p['rejected']}" for p in preferences])
    assert preferences and find_leaks(training_texts, heldout) == []
    leaked = heldout[0]["question"] + " " + heldout[0]["answer"]
    assert find_leaks(training_texts + [leaked], heldout) == [heldout[0]]


def test_preference_pairs_reject_another_persons_value_of_the_same_fact():
    entities, _ = generate(**ARGS)
    records = [e.to_record() for e in entities]
    pairs = build_pairs(records, 0.3, 2, seed=0)
    preferences = preference_pairs(pairs, records, seed=0)
    assert {p["split"] for p in preferences} == {"train", "test"}  # unseen people get none
    assert len(preferences) == sum(p["split"] != "unseen" for p in pairs)
    values = {(fact, e["facts"][fact]) for e in records if e["has_story"] for fact in e["facts"]}
    for pref in preferences:
        assert pref["chosen"] != pref["rejected"] and (pref["fact_type"], pref["rejected"]) in values
