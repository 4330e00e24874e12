"""The tasks' generators: story_qa (determinism, ground truth in the text, split by entity, no leakage) and
word_math (the arithmetic is right, held-out problems share no arithmetic with train)."""
import random
import re

import pytest

from storylab.errors import StorylabError
from storylab.tasks import get_task
from storylab.tasks.base import load_pool
from storylab.tasks.story_qa.qa import QUESTION_TEMPLATES, build_pairs, find_leaks, preference_pairs
from storylab.biographies import DISTRACTOR_SURNAMES, FACT_TYPES, PLACES, generate, make_entities, write_story
from storylab.tasks.word_math import generator as math_generator

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


MATH = dict(seed=3, num_problems=400, min_ops=2, max_ops=4, max_start=20, max_operand=20, max_value=99,
            operations=["add", "sub", "mul"])


def test_word_math_working_is_correct_arithmetic_and_ends_with_the_answer():
    for problem in math_generator.generate(**MATH):
        value = int(problem["key"].split()[0])
        assert f"has {value} " in problem["question"]
        for line, step in zip(problem["working"], problem["key"].split()[1:]):
            left, symbol, operand, result = re.fullmatch(r"(\d+)([-+*])(\d+)=(\d+)", line).groups()
            assert int(left) == value and symbol + operand == step
            value = {"+": value + int(operand), "-": value - int(operand), "*": value * int(operand)}[symbol]
            assert int(result) == value and 1 <= value <= MATH["max_value"]
        assert value == problem["number"] and 2 <= problem["num_ops"] <= 4


def test_word_math_splits_scarce_demonstrations_an_answer_only_pool_and_a_harder_test(tmp_path):
    from storylab.io import write_jsonl

    task = get_task("word_math")
    problems = math_generator.generate(**{**MATH, "max_ops": 5})
    assert len({p["key"] for p in problems}) == len(problems)
    write_jsonl(tmp_path / "problems.jsonl", problems)
    build = task.params["build_qa"](seed=0, validation_problems=50, test_problems=50, harder_test_problems=40,
                                    demonstrations=30, demo_max_ops=3)
    files, stats = task.build(build, tmp_path)
    splits = {name: files[f"{name}.jsonl"] for name in ("train", "validation", "test", "test_harder")}
    assert {name: len(records) for name, records in splits.items()} == \
        {"train": 30, "validation": 50, "test": 50, "test_harder": 40}
    pool, worked = files["rl_pool.jsonl"], files["rl_pool_worked.jsonl"]
    assert len(pool) == len(problems) - 170 == stats["rl_pool"]["problems"]
    # Every problem in exactly one place; nothing held out shares its arithmetic with what is trained on
    ids = [r["id"] for records in [*splits.values(), pool] for r in records]
    assert len(ids) == len(set(ids)) == len(problems)
    trained = {r["key"] for r in splits["train"] + pool}
    for name in ("validation", "test", "test_harder"):
        assert not trained & {r["key"] for r in splits[name]}
    # Demonstrations and held-out golds show their working; the pool has the final answer only
    for records in splits.values():
        assert all(r["answer"].count("=") == r["num_ops"] for r in records)
    assert all(re.fullmatch(r"#### \d+", r["answer"]) for r in pool)
    assert [r["id"] for r in worked] == [r["id"] for r in pool]
    assert all(w["answer"].endswith(p["answer"]) and w["answer"].count("=") == w["num_ops"] for w, p in zip(worked, pool))
    # Demonstrations cover 2-3 operations; test_harder and part of the pool 4-5
    assert {r["num_ops"] for name in ("train", "validation", "test") for r in splits[name]} == {2, 3}
    assert {r["num_ops"] for r in splits["test_harder"]} == {4, 5}
    assert {4, 5} <= {r["num_ops"] for r in pool}
    # The seed redraws the split, the same seed gives the same bytes
    assert task.build(build, tmp_path)[0] == files
    other, _ = task.build(build.model_copy(update={"seed": 1}), tmp_path)
    assert [r["id"] for r in other["train.jsonl"]] != [r["id"] for r in splits["train"]]
    with pytest.raises(StorylabError, match="exceed the .* problems of at most demo_max_ops"):
        task.build(build.model_copy(update={"demonstrations": len(problems)}), tmp_path)
    with pytest.raises(StorylabError, match="harder_test_problems"):
        task.build(build.model_copy(update={"demo_max_ops": 5}), tmp_path)


def test_word_math_rl_pool_is_read_by_rl_and_absent_pools_fall_back_to_train(tmp_path):
    from storylab.io import write_jsonl

    task = get_task("word_math")
    write_jsonl(tmp_path / "train.jsonl", [{"id": "t", "question": "q", "answer": "1+1=2\n#### 2"}])
    assert [r["id"] for r in load_pool(task, tmp_path)] == ["t"]
    write_jsonl(tmp_path / "rl_pool.jsonl", [{"id": "p", "question": "q", "answer": "#### 3"}])
    write_jsonl(tmp_path / "rl_pool_worked.jsonl", [{"id": "p", "question": "q", "answer": "1+2=3\n#### 3"}])
    assert load_pool(task, tmp_path)[0]["answer"] == "#### 3"
    assert load_pool(task, tmp_path, worked=True)[0]["answer"] == "1+2=3\n#### 3"


def test_word_math_says_when_the_difficulty_has_too_few_problems():
    with pytest.raises(ValueError, match="distinct problems exist"):
        math_generator.generate(**{**MATH, "num_problems": 5000, "max_start": 3, "max_operand": 2, "max_ops": 2,
                                   "operations": ["add"]})
