"""One scorer for evaluation and RL rewards (as in the seed's eval_accuracy_plus.py).

Both strings are normalised (lowercase, punctuation removed, whitespace collapsed). Per item:
exact match, relaxed match (gold of <= short_thresh tokens: correct if either string contains the
other), token F1, ROUGE-L F (rouge_score, stemmed), and ROUGE-L >= rouge_thresh. Each metric is
reported over all items and over the short-answer subset. Bump METRIC_VERSION when any of this changes.
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from functools import lru_cache

import numpy as np
from rouge_score import rouge_scorer
from scipy import stats

METRIC_VERSION = 1
METRICS = ("exact_match", "relaxed_match", "token_f1", "rouge_l", "acc_at_rouge_l")


def normalize(text: str) -> str:
    text = re.sub(r"[^\w\s]", "", text.lower())
    return re.sub(r"\s+", " ", text).strip()


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize(prediction) == normalize(gold))


def relaxed_match(prediction: str, gold: str, short_thresh: int) -> float:
    """Exact match, or for a short gold answer, containment either way (an empty prediction never counts)."""
    pred, ref = normalize(prediction), normalize(gold)
    if pred == ref:
        return 1.0
    if not pred or not ref or len(ref.split()) > short_thresh:
        return 0.0
    return float(ref in pred or pred in ref)


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = tokens(prediction), tokens(gold)
    if not pred and not ref:
        return 1.0
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


@lru_cache(maxsize=1)
def _rouge() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, gold: str) -> float:
    return _rouge().score(normalize(gold), normalize(prediction))["rougeL"].fmeasure


def difflib_ratio(prediction: str, gold: str) -> float:
    return difflib.SequenceMatcher(None, normalize(prediction), normalize(gold)).ratio()


def score_item(prediction: str, gold: str, short_thresh: int, rouge_thresh: float) -> dict[str, float]:
    rouge = rouge_l(prediction, gold)
    return {"exact_match": exact_match(prediction, gold),
            "relaxed_match": relaxed_match(prediction, gold, short_thresh),
            "token_f1": token_f1(prediction, gold),
            "rouge_l": rouge,
            "acc_at_rouge_l": float(rouge >= rouge_thresh)}


def bootstrap_ci(values, resamples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (fixed seed, so the interval reproduces)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.all(values == values[0]):
        return float(values.mean()), float(values.mean())
    result = stats.bootstrap((values,), np.mean, n_resamples=resamples, confidence_level=level,
                             method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def paired_difference_ci(after, before, resamples: int, seed: int, level: float = 0.95) -> dict[str, float]:
    """Mean of after-before over the same questions, with a paired percentile bootstrap CI."""
    diff = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    low, high = bootstrap_ci(diff, resamples, seed, level)
    return {"difference": float(diff.mean()), "ci_low": low, "ci_high": high}


def aggregate(items: list[dict[str, float]], resamples: int, seed: int) -> dict:
    """Mean of each metric with its 95% bootstrap CI."""
    summary = {"count": len(items)}
    for metric in METRICS:
        values = [item[metric] for item in items]
        if not values:
            summary[metric] = None
            continue
        low, high = bootstrap_ci(values, resamples, seed)
        summary[metric] = {"mean": float(np.mean(values)), "ci_low": low, "ci_high": high}
    return summary


def score_predictions(records: list[dict], short_thresh: int, rouge_thresh: float,
                      resamples: int = 1000, seed: int = 0) -> dict:
    """Metrics over all records and over the short-answer subset; records carry `gold` and `prediction`."""
    items = [score_item(r["prediction"], r["gold"], short_thresh, rouge_thresh) for r in records]
    short = [item for item, r in zip(items, records) if len(tokens(r["gold"])) <= short_thresh]
    return {"all": aggregate(items, resamples, seed), "short": aggregate(short, resamples, seed)}


# GRPO rewards: TRL passes completions plus every dataset column (here `answer`) as keyword arguments.
def _reward(metric):
    def reward(completions: list, answer: list[str], **kwargs) -> list[float]:
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        return [metric(text.strip(), gold) for text, gold in zip(texts, answer)]

    reward.__name__ = metric.__name__
    return reward


REWARD_FUNCS = {
    "exact_match": _reward(exact_match),
    "token_f1": _reward(token_f1),
    "rouge_l": _reward(rouge_l),
    "difflib_ratio": _reward(difflib_ratio),
}
