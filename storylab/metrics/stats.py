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
