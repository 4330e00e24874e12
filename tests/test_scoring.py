"""The scorer against hand-computed cases (the seed's definitions), and the rewards that share it."""
import pytest

from storylab import scoring


def test_normalize_lowercases_strips_punctuation_and_collapses_space():
    assert scoring.normalize("  Castle   Dunmere!! ") == "castle dunmere"
    assert scoring.normalize("St. Corwen - abbey") == "st corwen abbey"


@pytest.mark.parametrize("pred,gold,expected", [
    ("castle dunmere.", "Castle Dunmere", 1.0),
    ("Castle", "Castle Dunmere", 0.0),
    ("", "", 1.0),
])
def test_exact_match(pred, gold, expected):
    assert scoring.exact_match(pred, gold) == expected


def test_relaxed_match_containment_only_for_short_gold():
    assert scoring.relaxed_match("Castle", "Castle Dunmere", short_thresh=15) == 1.0
    assert scoring.relaxed_match("born in Castle Dunmere", "Castle Dunmere", short_thresh=15) == 1.0
    assert scoring.relaxed_match("Castle", "Castle Dunmere", short_thresh=1) == 0.0  # gold is 2 tokens
    assert scoring.relaxed_match("", "Castle Dunmere", short_thresh=15) == 0.0  # empty never counts
    assert scoring.relaxed_match("Eastwold", "Castle Dunmere", short_thresh=15) == 0.0


def test_token_f1_hand_computed():
    # pred 3 tokens, gold 2, overlap 1: P=1/3, R=1/2, F1=2*(1/6)/(5/6)=0.4
    assert scoring.token_f1("the old bridge", "great bridge") == pytest.approx(0.4)
    assert scoring.token_f1("a b", "c d") == 0.0


def test_rouge_l_hand_computed():
    # LCS("rebuilt the great bridge", "rebuilt the bridge") = 3; P=3/3, R=3/4 -> F=6/7
    assert scoring.rouge_l("rebuilt the bridge", "rebuilt the great bridge") == pytest.approx(6 / 7)


def test_score_predictions_all_and_short_subset():
    records = [{"gold": "Castle Dunmere", "prediction": "castle dunmere"},
               {"gold": "12 March 1143", "prediction": "12 March 1144"},
               {"gold": "one two three four", "prediction": "one two three four"}]
    result = scoring.score_predictions(records, short_thresh=3, rouge_thresh=0.6, resamples=200, seed=0)
    assert result["all"]["count"] == 3 and result["short"]["count"] == 2
    assert result["all"]["exact_match"]["mean"] == pytest.approx(2 / 3)
    assert result["short"]["exact_match"]["mean"] == pytest.approx(1 / 2)
    # ROUGE-L of the date pair is 2/3 >= 0.6, so every item passes Acc@ROUGE-L
    assert result["all"]["acc_at_rouge_l"]["mean"] == 1.0
    ci = result["all"]["exact_match"]
    assert ci["ci_low"] <= ci["mean"] <= ci["ci_high"]


def test_bootstrap_ci_is_reproducible_and_narrows_with_more_data():
    values = [1.0] * 90 + [0.0] * 10
    assert scoring.bootstrap_ci(values, 500, seed=3) == scoring.bootstrap_ci(values, 500, seed=3)
    wide = scoring.bootstrap_ci(values, 500, seed=3)
    narrow = scoring.bootstrap_ci(values * 10, 500, seed=3)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_paired_difference():
    result = scoring.paired_difference_ci([1, 1, 1, 0], [1, 0, 1, 0], resamples=200, seed=0)
    assert result["difference"] == pytest.approx(0.25)
    assert result["ci_low"] <= 0.25 <= result["ci_high"]


def test_rewards_use_the_evaluation_scorer():
    completions = [" Castle Dunmere", "Eastwold", [{"role": "assistant", "content": "castle dunmere!"}]]
    answers = ["Castle Dunmere"] * 3
    assert scoring.REWARD_FUNCS["exact_match"](completions, answer=answers) == [1.0, 0.0, 1.0]
    assert scoring.REWARD_FUNCS["token_f1"](completions, answer=answers) == [1.0, 0.0, 1.0]
    assert 0 < scoring.REWARD_FUNCS["difflib_ratio"](["Castle Dunmore"], answer=answers[:1])[0] < 1
