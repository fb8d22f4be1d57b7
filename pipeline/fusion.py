"""Fusing runs: reciprocal rank fusion and normalised score interpolation.

Ranks come from trec_eval's order (:func:`pipeline.runs.rank`), so fusion agrees with how each
input run is evaluated. A document missing from a run contributes nothing to RRF and the run's
lowest normalised score (0 after min-max) to interpolation.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from pipeline.errors import PipelineError
from pipeline.runs import Run, rank

NORMALIZATIONS = ("minmax", "zscore", "none")


def normalize(docs: dict[str, float], method: str = "minmax") -> dict[str, float]:
    """One query's scores rescaled: ``minmax`` to [0, 1], ``zscore`` to mean 0 / sd 1, or ``none``."""
    if method == "none" or not docs:
        return dict(docs)
    values = list(docs.values())
    if method == "minmax":
        lo, hi = min(values), max(values)
        return {d: (s - lo) / (hi - lo) if hi > lo else 0.0 for d, s in docs.items()}
    if method == "zscore":
        mean, sd = statistics.fmean(values), statistics.pstdev(values)
        return {d: (s - mean) / sd if sd > 0 else 0.0 for d, s in docs.items()}
    raise PipelineError(f"unknown normalization {method!r}; known: {', '.join(NORMALIZATIONS)}")


def rrf(runs: Sequence[Run], k: float = 60.0, depth: int | None = None,
        weights: Sequence[float] | None = None) -> Run:
    """Reciprocal rank fusion (Cormack et al., 2009): ``score(d) = Σ_r w_r / (k + rank_r(d))``.

    Each run contributes its top ``depth`` (all when None) with weight ``w_r`` (1 when
    ``weights`` is None: plain RRF); queries are those of any run.
    """
    weights = [1.0] * len(runs) if weights is None else list(weights)
    if len(weights) != len(runs):
        raise PipelineError(f"{len(weights)} weights for {len(runs)} runs")
    fused: Run = {}
    for run, w in zip(runs, weights, strict=True):
        for qid, docs in run.items():
            out = fused.setdefault(qid, {})
            for i, (docid, _) in enumerate(rank(docs)[:depth] if depth else rank(docs), start=1):
                out[docid] = out.get(docid, 0.0) + w / (k + i)
    return fused


def interpolate(a: Run, b: Run, alpha: float, normalization: str = "minmax") -> Run:
    """``alpha · norm(a) + (1 - alpha) · norm(b)`` per query, over the union of their documents."""
    if not 0.0 <= alpha <= 1.0:
        raise PipelineError(f"alpha must be in [0, 1], got {alpha}")
    fused: Run = {}
    for qid in list(a) + [q for q in b if q not in a]:
        na, nb = normalize(a.get(qid, {}), normalization), normalize(b.get(qid, {}), normalization)
        floor_a, floor_b = min(na.values(), default=0.0), min(nb.values(), default=0.0)
        fused[qid] = {d: alpha * na.get(d, floor_a) + (1 - alpha) * nb.get(d, floor_b) for d in {**na, **nb}}
    return fused
