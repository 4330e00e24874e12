"""Confidence intervals (percentile bootstrap, fixed seed, so an interval reproduces) and pass@k."""
from __future__ import annotations

from math import comb

import numpy as np
from scipy import stats


def bootstrap_ci(values, resamples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.all(values == values[0]):
        return float(values.mean()), float(values.mean())
    result = stats.bootstrap((values,), np.mean, n_resamples=resamples, confidence_level=level,
                             method="percentile", rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def mean_ci(values, resamples: int, seed: int) -> dict[str, float] | None:
    """{mean, ci_low, ci_high}, or None for no values."""
    if len(values) == 0:
        return None
    low, high = bootstrap_ci(values, resamples, seed)
    return {"mean": float(np.mean(values)), "ci_low": low, "ci_high": high}


def paired_difference_ci(after, before, resamples: int, seed: int, level: float = 0.95) -> dict[str, float]:
    """Mean of after-before over the same items, with a paired percentile bootstrap CI."""
    diff = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    low, high = bootstrap_ci(diff, resamples, seed, level)
    return {"difference": float(diff.mean()), "ci_low": low, "ci_high": high}


def pass_at_k(num_samples: int, num_correct: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if num_samples - num_correct < k:
        return 1.0
    return 1.0 - comb(num_samples - num_correct, k) / comb(num_samples, k)


def across_seeds(values, level: float = 0.95) -> dict[str, float] | None:
    """The mean of one figure over seeds with its Student-t CI (seeds are few: a bootstrap over 6 values would be
    too narrow), the range, and on how many seeds it is above 0; None for fewer than two values."""
    values = np.asarray([v for v in values if v == v], dtype=float)
    if len(values) < 2:
        return None
    spread = stats.sem(values)
    low, high = (stats.t.interval(level, len(values) - 1, loc=values.mean(), scale=spread) if spread > 0
                 else (values.mean(), values.mean()))
    return {"mean": float(values.mean()), "ci_low": float(low), "ci_high": float(high), "n": len(values),
            "min": float(values.min()), "max": float(values.max()), "above_zero": int((values > 0).sum())}
