"""The scorers against hand-computed cases (the seed's definitions, the GSM8K convention) and the rewards that
share them."""
from decimal import Decimal

import pytest

from storylab.metrics import numeric, stats, text
from storylab.rewards import trl_reward
from storylab.tasks import get_task


def test_normalize_lowercases_strips_punctuation_and_collapses_space():
    assert text.normalize("  Castle   Dunmere!! ") == "castle dunmere"
    assert text.normalize("St. Corwen - abbey") == "st corwen abbey"


@pytest.mark.parametrize("pred,gold,expected", [
    ("castle dunmere.", "Castle Dunmere", 1.0),
    ("Castle", "Castle Dunmere", 0.0),
    ("", "", 1.0),
])
def test_exact_match(pred, gold, expected):
    assert text.exact_match(pred, gold) == expected


def test_relaxed_match_containment_only_for_short_gold():
    assert text.relaxed_match("Castle", "Castle Dunmere", short_thresh=15) == 1.0
    assert text.relaxed_match("born in Castle Dunmere", "Castle Dunmere", short_thresh=15) == 1.0
    assert text.relaxed_match("Castle", "Castle Dunmere", short_thresh=1) == 0.0  # gold is 2 tokens
    assert text.relaxed_match("", "Castle Dunmere", short_thresh=15) == 0.0  # empty never counts
    assert text.relaxed_match("Eastwold", "Castle Dunmere", short_thresh=15) == 0.0


def test_token_f1_hand_computed():
    # pred 3 tokens, gold 2, overlap 1: P=1/3, R=1/2, F1=2*(1/6)/(5/6)=0.4
    assert text.token_f1("the old bridge", "great bridge") == pytest.approx(0.4)
    assert text.token_f1("a b", "c d") == 0.0


def test_rouge_l_hand_computed():
    # LCS("rebuilt the great bridge", "rebuilt the bridge") = 3; P=3/3, R=3/4 -> F=6/7
    assert text.rouge_l("rebuilt the bridge", "rebuilt the great bridge") == pytest.approx(6 / 7)


@pytest.mark.parametrize("completion,expected", [
    ("7+5=12\n12-3=9\n#### 9", Decimal(9)),
    ("#### 42.00", Decimal(42)),
    ("the answer is 41, no wait: 42", Decimal(42)),           # no marker: the last number
    ("#### 7 apples, then 8", Decimal(7)),                     # the first number after the last marker
    ("#### 1 #### 2", Decimal(2)),
    ("#### $1,234", Decimal(1234)),                            # currency sign and thousands separator ignored
    ("#### -$5", Decimal(-5)),
    ("no number here", None),
    ("#### none", None),                                       # a marker without a number commits to nothing
])
def test_extract_answer_gsm8k_convention(completion, expected):
    assert numeric.extract_answer(completion) == expected


def test_same_number_treats_42_and_42_00_alike():
    assert numeric.same_number("#### 42", "x=42\n#### 42.0") == 1.0
    assert numeric.same_number("so 42.00", "#### 42") == 1.0
    assert numeric.same_number("#### 43", "#### 42") == 0.0
    assert numeric.same_number("#### 42", "no number") == 0.0


def test_story_qa_score_all_and_short_subset():
    records = [{"gold": "Castle Dunmere", "prediction": "castle dunmere"},
               {"gold": "12 March 1143", "prediction": "12 March 1144"},
               {"gold": "one two three four", "prediction": "one two three four"}]
    task = get_task("story_qa")
    params = task.params["score"](short_thresh=3, rouge_thresh=0.6)
    result = task.score(records, params, resamples=200, seed=0)
    assert result["all"]["count"] == 3 and result["short"]["count"] == 2
    assert result["all"]["exact_match"]["mean"] == pytest.approx(2 / 3)
    assert result["short"]["exact_match"]["mean"] == pytest.approx(1 / 2)
    # ROUGE-L of the date pair is 2/3 >= 0.6, so every item passes Acc@ROUGE-L
    assert result["all"]["acc_at_rouge_l"]["mean"] == 1.0
    ci = result["all"]["exact_match"]
    assert ci["ci_low"] <= ci["mean"] <= ci["ci_high"]


def test_bootstrap_ci_is_reproducible_and_narrows_with_more_data():
    values = [1.0] * 90 + [0.0] * 10
    assert stats.bootstrap_ci(values, 500, seed=3) == stats.bootstrap_ci(values, 500, seed=3)
    wide = stats.bootstrap_ci(values, 500, seed=3)
    narrow = stats.bootstrap_ci(values * 10, 500, seed=3)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_paired_difference():
    result = stats.paired_difference_ci([1, 1, 1, 0], [1, 0, 1, 0], resamples=200, seed=0)
    assert result["difference"] == pytest.approx(0.25)
    assert result["ci_low"] <= 0.25 <= result["ci_high"]


def test_pass_at_k_unbiased_estimator():
    assert stats.pass_at_k(8, 0, 8) == 0.0 and stats.pass_at_k(8, 1, 8) == 1.0
    assert stats.pass_at_k(8, 2, 1) == pytest.approx(2 / 8)
    # n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert stats.pass_at_k(4, 1, 2) == pytest.approx(0.5)


def test_rewards_call_the_evaluation_check():
    """GRPO passes completions and the dataset's columns (here `gold`) plus TRL's own keywords."""
    story = get_task("story_qa")
    params = story.params["score"](short_thresh=15, rouge_thresh=0.5)
    completions = [" Castle Dunmere", "Eastwold", [{"role": "assistant", "content": "castle dunmere!"}]]
    trl_keywords = {"prompts": ["q"] * 3, "completion_ids": [[1]] * 3, "trainer_state": None}
    assert trl_reward(story, "exact_match", params)(completions, gold=["Castle Dunmere"] * 3, **trl_keywords) == [1.0, 0.0, 1.0]
    assert trl_reward(story, "token_f1", params)(completions, gold=["Castle Dunmere"] * 3) == [1.0, 0.0, 1.0]
    math = get_task("word_math")
    reward = trl_reward(math, "correct", math.params["score"]())
    golds = ["3+4=7\n#### 7"] * 3
    assert reward(["3+4=7\n#### 7", "#### 8", "I think 7"], gold=golds, **trl_keywords) == [1.0, 0.0, 1.0]
    for completion, gold in [("#### 7", golds[0]), ("#### 8", golds[0])]:
        assert reward([completion], gold=[gold])[0] == math.check(completion, gold, {})
