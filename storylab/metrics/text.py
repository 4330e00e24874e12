"""Text matching (the seed's eval_accuracy_plus definitions): both strings are normalised (lowercase,
punctuation removed, whitespace collapsed) before they are compared."""
from __future__ import annotations

import difflib
import re
from collections import Counter
from functools import lru_cache

from rouge_score import rouge_scorer, tokenizers


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


# A token: one CJK ideograph or kana (those scripts write no spaces between words), or a run of Unicode letters and
# digits. rouge-score's default tokenizer keeps only [a-z0-9], so two identical answers in Japanese, Russian or
# Greek score ROUGE-L 0.
_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
UNICODE_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


class UnicodeTokenizer(tokenizers.Tokenizer):
    """rouge-score's tokenizer interface with Unicode letters and digits kept; ASCII words of more than three letters
    are Porter-stemmed as rouge-score's default does, so English text tokenises exactly as before."""

    def __init__(self):
        from nltk.stem import porter

        self.stemmer = porter.PorterStemmer()

    def tokenize(self, text: str) -> list[str]:
        return [self.stemmer.stem(token) if len(token) > 3 and token.isascii() else token
                for token in UNICODE_TOKEN.findall(text.lower())]


@lru_cache(maxsize=1)
def _rouge() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=UnicodeTokenizer())


def rouge_l(prediction: str, gold: str) -> float:
    return _rouge().score(normalize(gold), normalize(prediction))["rougeL"].fmeasure


ANSWER_METRICS = ("exact_match", "relaxed_match", "token_f1", "rouge_l", "acc_at_rouge_l")


def answer_scores(prediction: str, gold: str, short_thresh: int, rouge_thresh: float) -> dict[str, float]:
    """The seed's eval_accuracy_plus metrics of one short answer (ANSWER_METRICS, each in [0, 1])."""
    rouge = rouge_l(prediction, gold)
    return {"exact_match": exact_match(prediction, gold),
            "relaxed_match": relaxed_match(prediction, gold, short_thresh),
            "token_f1": token_f1(prediction, gold),
            "rouge_l": rouge,
            "acc_at_rouge_l": float(rouge >= rouge_thresh)}


def difflib_ratio(prediction: str, gold: str) -> float:
    return difflib.SequenceMatcher(None, normalize(prediction), normalize(gold)).ratio()
