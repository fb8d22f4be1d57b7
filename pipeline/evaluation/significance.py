"""Paired significance tests over per-query values, and corrections for testing many runs.

- :func:`paired_t_test`: Student's paired t-test, two-sided (scipy's ``ttest_rel``), the test
  most IR papers report. With identical values the difference is 0 and p is 1.
- :func:`randomization_test`: the paired randomization (permutation) test of Smucker, Allan and
  Carterette (CIKM 2007): under the null hypothesis each query's pair of values is exchangeable,
  so the sign of each per-query difference is flipped at random; p is the share of ``trials``
  whose |mean difference| is at least the observed one, with the observed labelling counted
  ((hits + 1) / (trials + 1)), so p is never 0. Seeded, so reruns agree.
- :func:`correct`: Bonferroni (p·m) and Holm's step-down (p₍ᵢ₎·(m − i + 1), made monotone) adjusted
  p-values for m tests, capped at 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.common.errors import PipelineError

CORRECTIONS = ("holm", "bonferroni", "none")


def _pair(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    if len(a) != len(b):
        raise PipelineError(f"paired tests need the same queries on both sides ({len(a)} vs {len(b)})")
    if len(a) < 2:
        raise PipelineError(f"paired tests need at least 2 queries, got {len(a)}")
    return np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Student's paired t-test of ``b`` against ``a`` (same query order)."""
    from scipy.stats import ttest_rel

    diff = _pair(a, b)
    if not diff.any():
        return 1.0
    return float(ttest_rel(b, a).pvalue)


def randomization_test(a: Sequence[float], b: Sequence[float], trials: int = 10_000, seed: int = 42) -> float:
    """Two-sided p-value of the paired randomization test (sign flips of the per-query differences)."""
    diff = _pair(a, b)
    observed = abs(diff.mean())
    rng = np.random.default_rng(seed)
    hits, done = 0, 0
    while done < trials:
        n = min(1000, trials - done)
        signs = rng.integers(0, 2, size=(n, diff.size), dtype=np.int8) * 2 - 1
        means = np.abs(signs @ diff) / diff.size
        hits += int(np.count_nonzero(means >= observed - 1e-12))
        done += n
    return (hits + 1) / (trials + 1)


def correct(pvalues: Sequence[float], method: str = "holm") -> list[float]:
    """Adjusted p-values for testing ``len(pvalues)`` hypotheses together (``holm``, ``bonferroni``, ``none``)."""
    m = len(pvalues)
    if method == "none":
        return list(pvalues)
    if method == "bonferroni":
        return [min(1.0, p * m) for p in pvalues]
    if method == "holm":
        order = sorted(range(m), key=lambda i: pvalues[i])
        adjusted, running = [0.0] * m, 0.0
        for step, i in enumerate(order):
            running = max(running, min(1.0, pvalues[i] * (m - step)))
            adjusted[i] = running
        return adjusted
    raise PipelineError(f"unknown correction {method!r}; known: {', '.join(CORRECTIONS)}")
