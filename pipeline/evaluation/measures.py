"""Measures by name (ir_measures' spellings, trec_eval's and ours), computed by pytrec_eval with
trec_eval's semantics: the library half of ``python -m pipeline.evaluate``, whose help states the
conventions (``-c``, ``-l``, judged@k, tie order).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.collection.qrels import Qrels
from pipeline.common.atomic import write_json
from pipeline.common.errors import PipelineError
from pipeline.runfiles.trec import Run, truncate

if TYPE_CHECKING:
    from ir_measures import Measure

DEFAULT_MEASURES = ("mrr@10", "ndcg@10", "map", "recall@100", "recall@1000", "judged@10")


#: How to spell a measure, for ``--help`` and for the error a name nobody knows gets.
MEASURE_SPELLING = ("any ir_measures name (nDCG@10, P@5, RR@100, AP, R@1000, Rprec, Bpref, Judged@20, "
                    "'P(rel=2)@10'), trec_eval's (ndcg_cut_10, P_5, recip_rank, map, recall_1000, bpref) "
                    "or ours (ndcg@10, mrr@10, map, recall@100, p@10, judged@10)")


# our family name -> ir_measures' measure, for family@k
_FAMILIES = {"ndcg": "nDCG", "mrr": "RR", "p": "P", "recall": "R", "judged": "Judged"}
_OURS = {theirs: ours for ours, theirs in _FAMILIES.items()}


def _parse(name: str) -> Measure:
    """The ir_measures measure ``name`` spells: ours, ir_measures' or trec_eval's (``pipeline.evaluate --help``)."""
    import ir_measures
    import pytrec_eval

    ours = re.fullmatch(r"(ndcg|mrr|p|recall|judged)@([0-9]+)", name)
    text = f"{_FAMILIES[ours[1]]}@{int(ours[2])}" if ours else {"R-prec": "Rprec"}.get(name, name)
    try:
        return ir_measures.parse_measure(text)
    except (NameError, ValueError, TypeError):
        pass
    if name in pytrec_eval.supported_nicknames:
        raise PipelineError(f"measure {name!r} is trec_eval's name for a set of measures; name them one by one "
                            f"({MEASURE_SPELLING})")
    try:
        found = ir_measures.parse_trec_measure(name)
    except ValueError:
        found = []
    if len(found) != 1:
        many = f" (trec_eval's {name!r} is {len(found)} measures)" if found else ""
        raise PipelineError(f"unknown measure {name!r}{many}; a measure is {MEASURE_SPELLING}")
    return found[0]


def _our_name(measure: Measure) -> str:
    """``ndcg@10``, ``mrr@10``, ``map``, ... for the measures this project names, ir_measures' name for the rest."""
    import ir_measures

    if measure == ir_measures.AP:
        return "map"
    cutoff = measure.params.get("cutoff")
    if measure.NAME in _OURS and cutoff is not None and measure == ir_measures.measures.registry[measure.NAME] @ cutoff:
        return f"{_OURS[measure.NAME]}@{cutoff}"
    return str(measure)


def _pytrec_eval_form(measure: Measure, name: str) -> tuple[Measure, int | None, bool]:
    """How pytrec_eval computes ``measure``: the measure it is given, the depth the run is cut to first
    (``None``: not cut) and whether every judged document counts as relevant (for Judged@k)."""
    import ir_measures

    missing = [p for p, info in measure.SUPPORTED_PARAMS.items() if info.required and p not in measure.params]
    if measure.NAME == "Judged" and "cutoff" not in measure.params:
        missing = ["cutoff"]
    if missing:
        raise PipelineError(f"measure {name!r} needs its {missing[0]} ({measure.NAME}@...)")
    try:
        measure.validate_params()
    except AssertionError as e:
        raise PipelineError(f"measure {name!r}: {e}") from None
    params = measure.params
    counts = [params[p] for p in ("cutoff", "rel") if p in params]
    whole = [*counts, *params.get("gains", {}).values()]
    if any(type(v) is not int for v in whole) or min(counts, default=1) < 1 or not 0 <= params.get("recall", 0) <= 1:
        raise PipelineError(f"measure {name!r}: a cutoff and rel (-l) must be whole numbers of at least 1, gains "
                            "whole numbers, IPrec's recall in [0, 1]")
    if measure.NAME == "Judged":
        return ir_measures.P @ measure["cutoff"], None, True
    depth = None
    if measure.NAME == "RR" and "cutoff" in measure.params and not measure["judged_only"]:
        depth = measure["cutoff"]
        measure = ir_measures.RR(**{k: v for k, v in measure.params.items() if k != "cutoff"})
    if not ir_measures.pytrec_eval.supports(measure):
        supported = ir_measures.pytrec_eval.SUPPORTED_MEASURES
        forms = [str(m) for m in supported if m.NAME == measure.NAME]
        computed = sorted({m.NAME for m in supported} | {"Judged"}, key=str.lower)
        raise PipelineError(f"measure {name!r} ({measure}) is not computed by pytrec_eval, which computes "
                            + (f"{measure.NAME} only as {' or '.join(forms)}" if forms else ", ".join(computed)))
    return measure, depth, False


def _at_level(measure: Measure, name: str, relevance_level: int) -> Measure:
    """``measure`` with ``rel`` set to ``-l`` where it takes one and does not set its own."""
    if "rel" not in measure.SUPPORTED_PARAMS:
        return measure
    if "rel" not in measure.params:
        return measure(rel=relevance_level)
    if relevance_level not in (1, measure.params["rel"]):
        raise PipelineError(f"measure {name!r} sets rel={measure.params['rel']} but -l gives {relevance_level}; "
                            "give one")
    return measure


def measure_name(name: str) -> str:
    """Our name for a measure given by any name (``nDCG@10``, ``ndcg_cut_10`` -> ``ndcg@10``); an error for a
    name nobody knows or a measure pytrec_eval does not compute."""
    measure = _parse(name)
    _pytrec_eval_form(measure, name)
    return _our_name(measure)


@dataclass
class Evaluation:
    """Per-query values and their means, with the averaging convention that produced them."""

    measures: list[str]
    per_query: dict[str, dict[str, float]]
    aggregate: dict[str, float]
    queries: int
    relevance_level: int
    convention: str

    def table(self) -> str:
        """The means as a small aligned text table."""
        width = max(len(m) for m in self.measures)
        lines = [f"{m:<{width}}  {self.aggregate[m]:.4f}" for m in self.measures]
        return "\n".join(lines + [f"({self.queries} queries; {self.convention})"])

    def to_frame(self, per_query: bool = False):
        """A pandas DataFrame: one row of the means, a column per measure (as a row of PyTerrier's
        ``Experiment``); with ``per_query``, one row per query and measure in PyTerrier's long form
        (``qid``, ``measure``, ``value``), the queries in qrels order."""
        import pandas as pd

        if per_query:
            rows = [(q, m, values[m]) for q, values in self.per_query.items() for m in self.measures]
            return pd.DataFrame(rows, columns=["qid", "measure", "value"]).astype({"qid": str, "value": float})
        return pd.DataFrame([[self.aggregate[m] for m in self.measures]], columns=self.measures)


def evaluate(run: Run, qrels: Qrels, measures: Sequence[str] = DEFAULT_MEASURES, relevance_level: int = 1,
             judged_queries_only: bool = False) -> Evaluation:
    """Score ``run`` against ``qrels`` with trec_eval's semantics (see ``python -m pipeline.evaluate --help``)."""
    import ir_measures

    names = [measure_name(m) for m in measures]
    if not qrels:
        raise PipelineError("the qrels are empty")
    per_query: dict[str, dict[str, float]] = {q: {} for q in qrels if q in run or not judged_queries_only}
    # one pytrec_eval evaluation per (depth the run is cut to, judged documents as relevant)
    groups: dict[tuple[int | None, bool], dict[Measure, str]] = {}
    for name in dict.fromkeys(names):
        measure, depth, judged = _pytrec_eval_form(_at_level(_parse(name), name, relevance_level), name)
        groups.setdefault((depth, judged), {})[measure] = name
    for (depth, judged), wanted in groups.items():
        graded = {q: dict.fromkeys(docs, 1) for q, docs in qrels.items()} if judged else qrels
        for metric in ir_measures.pytrec_eval.iter_calc(list(wanted), graded, truncate(run, depth) if depth else run):
            if metric.query_id in per_query:
                per_query[metric.query_id][wanted[metric.measure]] = metric.value
    for q, values in per_query.items():  # -c: a query the run lacks scores 0, in the order asked
        per_query[q] = {m: values.get(m, 0.0) for m in dict.fromkeys(names)}
    n = len(per_query)
    aggregate = {m: (sum(v[m] for v in per_query.values()) / n if n else 0.0) for m in names}
    convention = ("mean over queries in both run and qrels (trec_eval without -c)" if judged_queries_only
                  else "mean over all qrels queries, missing ones score 0 (trec_eval -c)")
    if relevance_level != 1:
        convention += f"; relevant means grade >= {relevance_level} (-l {relevance_level})"
    return Evaluation(names, per_query, aggregate, n, relevance_level, convention)


def save(evaluation: Evaluation, path: Path, **context: object) -> None:
    """Write the evaluation (means, per-query values, convention) as JSON, atomically."""
    write_json(path, {**context, **asdict(evaluation)})
