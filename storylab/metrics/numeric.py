"""Numeric answers, the GSM8K convention: the number after the last `####` if there is one, otherwise the
last number in the text. Thousands separators and a leading currency sign are ignored; 42, 42.0 and 42.00
are the same answer."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

NUMBER = re.compile(r"(-?)\s*[$€£]?\s*(\d[\d,]*(?:\.\d+)?)")
MARKER = "####"


def extract_answer(text: str) -> Decimal | None:
    """The answer a completion commits to, or None when it names no number."""
    if MARKER in text:
        found = NUMBER.findall(text.rsplit(MARKER, 1)[1])[:1]
    else:
        found = NUMBER.findall(text)[-1:]
    if not found:
        return None
    sign, digits = found[0]
    try:
        return Decimal(sign + digits.replace(",", ""))
    except InvalidOperation:
        return None


def same_number(prediction: str, gold: str) -> float:
    """1.0 when both texts commit to the same number (42 == 42.00), else 0.0; a gold without one never matches."""
    answer, expected = extract_answer(prediction), extract_answer(gold)
    return float(expected is not None and answer == expected)


def has_marker(text: str) -> float:
    return float(MARKER in text)
