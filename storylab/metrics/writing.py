"""Metrics of generated prose, shared by the story-writing tasks: paragraphs, repetition, BLEU (sacrebleu) and
ROUGE-L (rouge-score) against a reference."""
from __future__ import annotations

import re

from sacrebleu.metrics import BLEU

from storylab.metrics.text import normalize, rouge_l

_BLEU = BLEU(effective_order=True)  # sentence-level BLEU: orders with no match are skipped, not zeroed


def paragraphs(text: str) -> list[str]:
    """Blocks separated by a blank line."""
    return [block.strip() for block in re.split(r"\n\s*\n", text.strip()) if block.strip()]


def words(text: str) -> list[str]:
    return normalize(text).split()


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def repeated_ngram_share(text: str, n: int = 4) -> float:
    """Share of a text's n-grams that already occurred earlier in it (0: no repetition; a looping tail -> 1)."""
    grams = ngrams(words(text), n)
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def distinct_n(text: str, n: int = 2) -> float:
    """Distinct n-grams over all n-grams of one text (Li et al. 2016); 0 for a text too short to have one."""
    grams = ngrams(words(text), n)
    return len(set(grams)) / len(grams) if grams else 0.0


def sentence_bleu(prediction: str, reference: str) -> float:
    """sacrebleu's sentence BLEU in [0, 1] (its default 13a tokenisation, on the raw texts)."""
    return _BLEU.sentence_score(prediction, [reference]).score / 100


def rouge_l_f(prediction: str, reference: str) -> float:
    return rouge_l(prediction, reference)


def overlap(prediction: str, reference: str) -> dict[str, float]:
    """A story's overlap with its reference: sentence BLEU and ROUGE-L F, each in [0, 1]."""
    return {"bleu": sentence_bleu(prediction, reference), "rouge_l": rouge_l_f(prediction, reference)}


def sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part]


def cut_repeated_tail(text: str) -> str:
    """The text up to the first sentence that repeats an earlier one (after normalisation): a model stuck in a loop
    says the same sentence again, and everything from there on is the loop. A text without a repeat is returned as it
    is; a cut one keeps its paragraph breaks."""
    seen, kept = set(), []
    for block in paragraphs(text):
        row = []
        for sentence in sentences(block):
            key = normalize(sentence)
            if key in seen:
                if row:
                    kept.append(" ".join(row))
                return "\n\n".join(kept)
            seen.add(key)
            row.append(sentence)
        kept.append(" ".join(row))
    return text
