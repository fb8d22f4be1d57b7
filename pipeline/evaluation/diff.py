"""What changed between two runs of the same queries: per-query deltas, tests, movers, overlap.

:func:`diff_runs` computes a :class:`RunDiff`; presentation lives apart (``table`` here for the
terminal, :mod:`pipeline.evaluation.diff_html` for the browser). Per-query values follow
:func:`pipeline.evaluation.measures.evaluate` (trec_eval's semantics; every qrels query counts, a query a
run lacks scores 0), so the means equal ``python -m pipeline.evaluate`` on each run. "Win"
means run B scores higher than run A on a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.collection.qrels import Qrels
from pipeline.evaluation.measures import evaluate, measure_name
from pipeline.evaluation.overlap import overlap_at_k, rbo
from pipeline.evaluation.significance import paired_t_test, randomization_test
from pipeline.runfiles.trec import Run, rank

TIE = 1e-9
#: Relevant documents listed per mover in :meth:`RunDiff.table` (the rest are counted).
MOVES_SHOWN = 10


@dataclass
class QueryDelta:
    """One query: the measure under A and B, B − A, and how much the two top lists agree."""

    qid: str
    a: float
    b: float
    overlap: float
    rbo: float

    @property
    def delta(self) -> float:
        return self.b - self.a


@dataclass
class RunDiff:
    """Two runs compared on one measure (see the module docstring)."""

    name_a: str
    name_b: str
    measure: str
    queries: list[QueryDelta]
    p_t_test: float
    p_randomization: float
    trials: int
    seed: int
    overlap_k: int
    rbo_p: float
    convention: str
    run_a: Run = field(repr=False)
    run_b: Run = field(repr=False)
    qrels: Qrels = field(repr=False)

    @property
    def mean_a(self) -> float:
        return sum(q.a for q in self.queries) / len(self.queries)

    @property
    def mean_b(self) -> float:
        return sum(q.b for q in self.queries) / len(self.queries)

    def counts(self) -> tuple[int, int, int]:
        """(wins, ties, losses) of B against A."""
        wins = sum(q.delta > TIE for q in self.queries)
        losses = sum(q.delta < -TIE for q in self.queries)
        return wins, len(self.queries) - wins - losses, losses

    def mean_overlap(self) -> float:
        return sum(q.overlap for q in self.queries) / len(self.queries)

    def mean_rbo(self) -> float:
        return sum(q.rbo for q in self.queries) / len(self.queries)

    def movers(self, n: int = 10) -> list[QueryDelta]:
        """The ``n`` queries whose value changed most (largest |B − A|, ties by qid); none unchanged."""
        return [q for q in self.queries if abs(q.delta) > TIE][:n]

    def ranking(self, side: str, qid: str) -> list[str]:
        """Query ``qid``'s docids in run ``side`` (``"a"`` or ``"b"``), in trec_eval's order."""
        return [d for d, _ in rank((self.run_a if side == "a" else self.run_b).get(qid, {}))]

    def relevant_moves(self, qid: str) -> list[tuple[str, int, int | None, int | None]]:
        """``(docid, grade, rank in A, rank in B)`` of each relevant document (``None``: not retrieved),
        best-ranked first."""
        pos_a = {d: i for i, d in enumerate(self.ranking("a", qid), start=1)}
        pos_b = {d: i for i, d in enumerate(self.ranking("b", qid), start=1)}
        moves = [(d, g, pos_a.get(d), pos_b.get(d)) for d, g in self.qrels.get(qid, {}).items() if g > 0]
        return sorted(moves, key=lambda m: (min(m[2] or 10**9, m[3] or 10**9), m[0]))

    def summary(self) -> str:
        """The headline numbers, a few lines."""
        wins, ties, losses = self.counts()
        return "\n".join([
            f"A: {self.name_a}\nB: {self.name_b}",
            f"{self.measure} over {len(self.queries)} queries ({self.convention})",
            f"mean A {self.mean_a:.4f}  B {self.mean_b:.4f}  B-A {self.mean_b - self.mean_a:+.4f}",
            f"B vs A: {wins} wins, {ties} ties, {losses} losses",
            f"paired t-test p = {self.p_t_test:.4g}; randomization test p = {self.p_randomization:.4g} "
            f"({self.trials:,} trials, seed {self.seed})",
            f"overlap@{self.overlap_k} {self.mean_overlap():.4f}; RBO (p={self.rbo_p}) {self.mean_rbo():.4f}"])

    def table(self, top: int = 20, movers: int = 5) -> str:
        """Summary, the ``top`` largest per-query deltas, and the relevant documents' moves in the top movers
        (the best-ranked :data:`MOVES_SHOWN` of each, and how many more)."""
        width = max(5, *(len(q.qid) for q in self.queries[:top]))
        lines = [self.summary(), "", f"per-query {self.measure}, largest |B-A| first "
                 f"({min(top, len(self.queries))} of {len(self.queries)}):",
                 f"{'query':<{width}}  {'A':>6}  {'B':>6}  {'B-A':>7}  {'ov@' + str(self.overlap_k):>6}  {'rbo':>5}"]
        for q in self.queries[:top]:
            lines.append(f"{q.qid:<{width}}  {q.a:6.4f}  {q.b:6.4f}  {q.delta:+7.4f}  {q.overlap:6.2f}  {q.rbo:5.3f}")
        picked = self.movers(movers)
        if picked:
            lines += ["", "relevant documents in the biggest movers (rank in A -> rank in B; - not retrieved):"]
            for q in picked:
                moved = self.relevant_moves(q.qid)
                shown = [f"{d} (grade {g}) {ra or '-'} -> {rb or '-'}" for d, g, ra, rb in moved[:MOVES_SHOWN]]
                if len(moved) > MOVES_SHOWN:
                    shown.append(f"... and {len(moved) - MOVES_SHOWN} more")
                lines.append(f"{q.qid} ({q.delta:+.4f}): {', '.join(shown) or 'no relevant documents'}")
        return "\n".join(lines)


def diff_runs(run_a: Run, run_b: Run, qrels: Qrels, measure: str = "ndcg@10", name_a: str = "A",
              name_b: str = "B", overlap_k: int = 10, rbo_p: float = 0.9, trials: int = 10_000,
              seed: int = 42, relevance_level: int = 1) -> RunDiff:
    """Compare ``run_b`` against ``run_a`` on ``measure`` over every query in ``qrels``."""
    measure = measure_name(measure)
    eval_a = evaluate(run_a, qrels, [measure], relevance_level)
    eval_b = evaluate(run_b, qrels, [measure], relevance_level)
    queries = []
    for qid in eval_a.per_query:
        top_a = [d for d, _ in rank(run_a.get(qid, {}))]
        top_b = [d for d, _ in rank(run_b.get(qid, {}))]
        queries.append(QueryDelta(qid, eval_a.per_query[qid][measure], eval_b.per_query[qid][measure],
                                  overlap_at_k(top_a, top_b, overlap_k), rbo(top_a, top_b, rbo_p)))
    queries.sort(key=lambda q: (-abs(q.delta), q.qid))
    a = [q.a for q in queries]
    b = [q.b for q in queries]
    return RunDiff(name_a, name_b, measure, queries, paired_t_test(a, b), randomization_test(a, b, trials, seed),
                   trials, seed, overlap_k, rbo_p, eval_a.convention, run_a, run_b, qrels)
