"""How much two rankings of the same query agree, whatever the relevance judgments say.

- :func:`overlap_at_k`: |top-k(A) ∩ top-k(B)| / min(k, max(|A|, |B|)): over k, or over the longer
  list's length when both are shorter than k, so identical lists give 1 however short they are.
- :func:`rbo`: rank-biased overlap (Webber, Moffat and Zobel, TOIS 2010), the extrapolated form
  RBO_ext of their eq. 32, which handles lists of different lengths. With ``X_d`` the overlap of
  the two prefixes of length ``d``, ``l`` the longer and ``s`` the shorter list's length::

      RBO_ext = (1-p)/p · ( Σ_{d=1..l} X_d/d · p^d + Σ_{d=s+1..l} X_s·(d-s)/(s·d) · p^d )
                + ( (X_l - X_s)/l + X_s/s ) · p^l

  1 for identical lists, 0 for disjoint ones; ``p`` sets how top-heavy it is (the expected
  depth a user reads is 1/(1-p): 10 for p = 0.9).
"""

from __future__ import annotations

from collections.abc import Sequence


def overlap_at_k(a: Sequence[str], b: Sequence[str], k: int = 10) -> float:
    """Documents in both top ``k``s over ``min(k, max(len(a), len(b)))``; 1 for two empty lists."""
    compared = min(k, max(len(a), len(b)))
    return len(set(a[:k]) & set(b[:k])) / compared if compared else 1.0


def rbo(a: Sequence[str], b: Sequence[str], p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap of two rankings (docids best first, no repeats)."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    longer, shorter = (a, b) if len(a) >= len(b) else (b, a)
    n_long, s = len(longer), len(shorter)
    seen_long: set[str] = set()
    seen_short: set[str] = set()
    overlap, total, x_s = 0, 0.0, 0
    for d in range(1, n_long + 1):
        x = longer[d - 1]
        if x in seen_short:
            overlap += 1
        seen_long.add(x)
        if d <= s:
            y = shorter[d - 1]
            if y in seen_long:
                overlap += 1
            seen_short.add(y)
            if d == s:
                x_s = overlap
        total += overlap / d * p ** d
        if d > s:
            total += x_s * (d - s) / (s * d) * p ** d
    return (1 - p) / p * total + ((overlap - x_s) / n_long + x_s / s) * p ** n_long
