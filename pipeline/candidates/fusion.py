"""Fusing runs: reciprocal rank fusion, normalised score interpolation, and Bayes-fuse.

Ranks come from trec_eval's order (:func:`pipeline.runfiles.trec.rank`), so fusion agrees with how each
input run is evaluated. A document missing from a run contributes nothing to RRF, the run's
lowest normalised score (0 after min-max) to interpolation, and the run's fitted log-odds for
"not retrieved" to Bayes-fuse.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.collection.qrels import Qrels
from pipeline.common.errors import PipelineError
from pipeline.runfiles.trec import Run, rank

#: Upper rank of each bin Bayes-fuse estimates a probability for (1, 2, 3, 4-5, 6-10, ...).
RANK_BINS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 300, 500, 700, 1000)

NORMALIZATIONS = ("minmax", "zscore", "none")
METHODS = ("rrf", "interpolation", "bayes")


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


def check_queries(runs: Sequence[Run], names: Sequence[str], allow_partial: bool = False) -> None:
    """Refuse to fuse runs of different topics: their query sets must be equal.

    With ``allow_partial``, sets that differ are fine, but a run sharing no query with the
    other runs is still refused (most likely another collection's run).
    """
    for i, (run, name) in enumerate(zip(runs, names, strict=True)):
        others = {q for j, other in enumerate(runs) if j != i for q in other}
        if run and others.isdisjoint(run):
            rest = " or ".join(n for j, n in enumerate(names) if j != i)
            raise PipelineError(f"{name} shares no query with {rest} (e.g. {next(iter(run))!r} is only in {name}): "
                                "runs of different topics cannot be fused")
    if allow_partial:
        return
    every = list(dict.fromkeys(q for run in runs for q in run))
    for run, name in zip(runs, names, strict=True):
        missing = [q for q in every if q not in run]
        if missing:
            raise PipelineError(f"the runs' query sets differ: {name} lacks {len(missing)} of the {len(every)} "
                                f"queries (e.g. {missing[0]!r}); --allow-partial-overlap fuses them anyway, "
                                "over the union")


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


@dataclass(frozen=True)
class RankOdds:
    """One run's log-odds of relevance by rank bin, fitted on training queries (see :func:`fit_rank_odds`).

    ``log_odds[i]`` is for ranks ``edges[i-1]+1 .. edges[i]``; the last entry is for a document the
    run did not retrieve within ``edges[-1]``.
    """

    edges: tuple[int, ...]
    log_odds: tuple[float, ...]
    relevant: tuple[int, ...]
    documents: tuple[int, ...]

    def at(self, rank_: int | None) -> float:
        """Log-odds for a document at 1-based ``rank_`` (None: not retrieved)."""
        if rank_ is not None:
            for i, edge in enumerate(self.edges):
                if rank_ <= edge:
                    return self.log_odds[i]
        return self.log_odds[-1]

    def as_dict(self) -> dict:
        """JSON-ready, for run sidecars."""
        return {"edges": list(self.edges), "log_odds": [round(x, 6) for x in self.log_odds],
                "relevant": list(self.relevant), "documents": list(self.documents)}


def fit_rank_odds(run: Run, qrels: Qrels, n_docs: int, edges: Sequence[int] = RANK_BINS) -> RankOdds:
    """Estimate ``P(relevant | rank bin)`` for one run from judged training queries (Bayes-fuse).

    Over the queries with a relevant document, counts the documents ``n_b`` and relevant ones
    ``r_b`` in each bin, the bin past the last edge being every other document of the
    ``n_docs``-document collection; ``log_odds_b = logit((r_b + 0.5) / (n_b + 1))``, and a bin
    without training documents takes the log-odds of the bin above it.
    """
    edges = tuple(sorted(edges))
    rel, tot = [0] * (len(edges) + 1), [0] * (len(edges) + 1)
    for qid, docs in run.items():
        relevant = {d for d, grade in qrels.get(qid, {}).items() if grade > 0}
        if not relevant:
            continue
        ranked = [d for d, _ in rank(docs)]
        for i, docid in enumerate(ranked[:edges[-1]], start=1):
            b = next(j for j, edge in enumerate(edges) if i <= edge)
            tot[b] += 1
            rel[b] += docid in relevant
        top = set(ranked[:edges[-1]])
        tot[-1] += max(n_docs - len(top), 0)
        rel[-1] += len(relevant - top)
    if not any(rel):
        raise PipelineError("no relevant documents among the training queries to fit Bayes-fuse on")
    log_odds: list[float] = []
    for r, n in zip(rel, tot, strict=True):  # a bin no training list reached takes the odds of the bin above
        log_odds.append(math.log((r + 0.5) / (n - r + 0.5)) if n or not log_odds else log_odds[-1])
    return RankOdds(edges, tuple(log_odds), tuple(rel), tuple(tot))


def bayes_fuse(runs: Sequence[Run], odds: Sequence[RankOdds]) -> Run:
    """Bayes-fuse (Aslam & Montague, SIGIR 2001): ``score(d) = Σ_r log_odds_r(rank_r(d))``.

    The naive-Bayes log-odds of relevance given each run's rank, up to a constant; a document a
    run missed gets that run's "not retrieved" log-odds, so a run that rarely misses relevant
    documents (a deep dense run) outweighs one that often does (a short BM25 list), and the other
    way round at the top of the lists.
    """
    if len(odds) != len(runs):
        raise PipelineError(f"{len(odds)} fitted odds for {len(runs)} runs")
    ranks: list[Mapping[str, dict[str, int]]] = [
        {qid: {d: i for i, (d, _) in enumerate(rank(docs), start=1)} for qid, docs in run.items()} for run in runs]
    fused: Run = {}
    for qid in dict.fromkeys(q for run in runs for q in run):
        per_run = [r.get(qid, {}) for r in ranks]
        docs = dict.fromkeys(d for r in per_run for d in r)
        fused[qid] = {d: sum(o.at(r.get(d)) for r, o in zip(per_run, odds, strict=True)) for d in docs}
    return fused


def fuse(method: str, runs: Sequence[Run], k: float = 60.0, weights: Sequence[float] | None = None,
         depth: int | None = None, alpha: float = 0.5, normalization: str = "minmax",
         odds: Sequence[RankOdds] | None = None) -> Run:
    """``runs`` fused by ``method`` (one of :data:`METHODS`): :func:`rrf` (``k``, ``weights``, ``depth``),
    :func:`interpolate` of exactly two runs (``alpha``, ``normalization``), or :func:`bayes_fuse`
    with each run's fitted ``odds``."""
    if method == "rrf":
        return rrf(runs, k=k, depth=depth, weights=weights)
    if method == "interpolation":
        if len(runs) != 2:
            raise PipelineError(f"interpolation combines exactly 2 runs, got {len(runs)}")
        return interpolate(runs[0], runs[1], alpha, normalization)
    if method == "bayes":
        if odds is None or len(odds) != len(runs):
            raise PipelineError("bayes needs the fitted rank odds of every run")
        return bayes_fuse(runs, odds)
    raise PipelineError(f"unknown fusion {method!r}: expected one of {', '.join(METHODS)}")
