"""``python -m pipeline.evaluate``: trec_eval's measures on a run, via pytrec_eval.

pytrec_eval runs trec_eval's own C code in-process (0.3 s where Pyserini's trec_eval wrapper
starts a JVM and a binary, ~5 s), with the same tie order (score descending, docid descending).
The test suite checks that both give identical numbers on a real run.

Conventions, stated in every output:
- queries in the qrels but missing from the run score 0 (trec_eval ``-c``; MS MARCO's script
  does the same); ``--judged-queries-only`` averages over queries present in both instead;
- queries in the run but not in the qrels are ignored;
- ``-l N``: the minimum grade counted relevant by binary measures (MAP, MRR, recall), as
  trec_eval's ``-l``; nDCG uses the graded judgments;
- MRR@10 is trec_eval's ``recip_rank`` over the top 10 (``-M 10``); judged@10 is the fraction
  of the top 10 that has any judgment (a missing document counts as unjudged).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.cli import add_debug_flag, run_main
from pipeline.datasets import load_qrels
from pipeline.errors import PipelineError
from pipeline.paths import EVAL
from pipeline.qrels import Qrels
from pipeline.runs import Run, rank, read_run, truncate

DEFAULT_MEASURES = ("mrr@10", "ndcg@10", "map", "recall@100", "recall@1000", "judged@10")
# our name -> (trec_eval measure family, the key of its value in pytrec_eval's output)
_TREC_EVAL = {"ndcg@10": ("ndcg_cut", "ndcg_cut_10"), "ndcg@20": ("ndcg_cut", "ndcg_cut_20"),
              "ndcg@100": ("ndcg_cut", "ndcg_cut_100"), "map": ("map", "map"), "p@10": ("P", "P_10"),
              "recall@10": ("recall", "recall_10"), "recall@20": ("recall", "recall_20"),
              "recall@100": ("recall", "recall_100"), "recall@1000": ("recall", "recall_1000")}
MEASURES = ("mrr@10", "judged@10", *_TREC_EVAL)
_TREC_EVAL_NAMES = {key: ours for ours, (_, key) in _TREC_EVAL.items()}


def measure_name(name: str) -> str:
    """Our name for a measure given as ours (``ndcg@10``) or trec_eval's (``ndcg_cut_10``, ``ndcg_cut.10``)."""
    if name in MEASURES:
        return name
    ours = _TREC_EVAL_NAMES.get(name.replace(".", "_"))
    if ours is None:
        raise PipelineError(f"unknown measure {name!r}; known: {', '.join(MEASURES)} "
                            f"(or trec_eval's {', '.join(_TREC_EVAL_NAMES)})")
    return ours


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


def evaluate(run: Run, qrels: Qrels, measures: Sequence[str] = DEFAULT_MEASURES, relevance_level: int = 1,
             judged_queries_only: bool = False) -> Evaluation:
    """Score ``run`` against ``qrels`` with trec_eval's semantics (see the module docstring)."""
    import pytrec_eval

    measures = [measure_name(m) for m in measures]
    if not qrels:
        raise PipelineError("the qrels are empty")
    trec = {m: _TREC_EVAL[m] for m in measures if m in _TREC_EVAL}
    per_query: dict[str, dict[str, float]] = {q: {} for q in qrels if q in run or not judged_queries_only}
    if trec:
        families = {family for family, _ in trec.values()}
        results = pytrec_eval.RelevanceEvaluator(qrels, families, relevance_level=relevance_level).evaluate(run)
        for q in per_query:
            for m, (_, key) in trec.items():
                per_query[q][m] = results.get(q, {}).get(key, 0.0)
    if "mrr@10" in measures:
        results = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"},
                                                 relevance_level=relevance_level).evaluate(truncate(run, 10))
        for q in per_query:
            per_query[q]["mrr@10"] = results.get(q, {}).get("recip_rank", 0.0)
    if "judged@10" in measures:
        for q in per_query:
            top = rank(run.get(q, {}))[:10]
            per_query[q]["judged@10"] = sum(d in qrels[q] for d, _ in top) / 10
    n = len(per_query)
    aggregate = {m: (sum(v[m] for v in per_query.values()) / n if n else 0.0) for m in measures}
    convention = ("mean over queries in both run and qrels (trec_eval without -c)" if judged_queries_only
                  else "mean over all qrels queries, missing ones score 0 (trec_eval -c)")
    if relevance_level != 1:
        convention += f"; relevant means grade >= {relevance_level} (-l {relevance_level})"
    return Evaluation(list(measures), per_query, aggregate, n, relevance_level, convention)


def save(evaluation: Evaluation, path: Path, **context: object) -> None:
    """Write the evaluation (means, per-query values, convention) as JSON, atomically."""
    write_json(path, {**context, **asdict(evaluation)})


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.evaluate",
        description="Score a TREC run with trec_eval's measures (pytrec_eval).",
        epilog=__doc__.split("\n\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qrels", required=True, help="qrels file (TREC or BEIR TSV) or DATASET:SPLIT")
    parser.add_argument("--run", required=True, type=Path, help="run file (TREC 6 columns or MS MARCO 3; .gz ok)")
    parser.add_argument("-m", "--measures", nargs="+", default=list(DEFAULT_MEASURES), metavar="M",
                        help=f"measures (default: {' '.join(DEFAULT_MEASURES)}); known: {' '.join(MEASURES)}")
    parser.add_argument("-l", "--relevance-level", type=int, default=1,
                        help="minimum grade that counts as relevant for binary measures (trec_eval -l)")
    parser.add_argument("-q", "--per-query", action="store_true", help="also print per-query values")
    parser.add_argument("--judged-queries-only", action="store_true",
                        help="average over queries in both files (trec_eval without -c)")
    parser.add_argument("--output", type=Path, help="where to save the JSON (default: eval/<run name>.json)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    qrels = load_qrels(args.qrels)
    run = read_run(args.run)
    result = evaluate(run, qrels, args.measures, args.relevance_level, args.judged_queries_only)
    if args.per_query:
        for qid, values in result.per_query.items():
            for m in result.measures:
                print(f"{m}\t{qid}\t{values[m]:.4f}")
    print(result.table())
    out = args.output or EVAL / (args.run.name.removesuffix(".gz") + ".json")
    save(result, out, run=str(args.run), qrels=args.qrels)
    print(f"saved {out}", file=sys.stderr)
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
