"""``python -m pipeline.evaluate``: any measure by name, via ir_measures, computed by pytrec_eval.

Measures are named as ir_measures names them (``nDCG@10``, ``P@5``, ``'P(rel=2)@10'``, ``RR@10``,
``AP``, ``R@1000``, ``Rprec``, ``Bpref``, ``Judged@10``), as trec_eval does (``ndcg_cut_10``,
``ndcg_cut.10``, ``P_5``, ``recip_rank``, ``map``, ``recall_1000``, ``bpref``; ``R-prec`` as old
trec_eval printed it) or as this project prints them: ``ndcg@k``, ``mrr@k``, ``p@k``, ``recall@k``,
``judged@k`` and ``map`` for those measures whatever the spelling, ir_measures' name for the rest.

pytrec_eval runs trec_eval's own C code in-process (0.3 s where Pyserini's trec_eval wrapper
starts a JVM and a binary, ~5 s), with the same tie order (score descending, docid descending).
The test suite checks that both give identical numbers on a real run.

Conventions, stated in every output:
- queries in the qrels but missing from the run score 0 (trec_eval ``-c``; MS MARCO's script
  does the same); ``--judged-queries-only`` averages over queries present in both instead;
- queries in the run but not in the qrels are ignored;
- ``-l N``: the minimum grade counted relevant by binary measures (MAP, MRR, recall, P, ...), as
  trec_eval's ``-l``, unless a measure sets its own (``'P(rel=2)@10'``); nDCG uses the graded judgments;
- MRR@k (``RR@k``) is trec_eval's ``recip_rank`` over the top k (``-M k``); judged@k is the fraction
  of the top k that has any judgment, in trec_eval's tie order and over k even where fewer are
  retrieved (ir_measures' own Judged@k differs on both); other measures ir_measures knows but
  pytrec_eval does not compute (ERR, RBP, alpha-nDCG, ...) are refused.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.collection.datasets import load_qrels
from pipeline.common.cli import add_debug_flag, run_main
from pipeline.common.paths import EVAL
from pipeline.evaluation.measures import DEFAULT_MEASURES, MEASURE_SPELLING, evaluate, save
from pipeline.runfiles.trec import read_run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.evaluate",
        description="Score a TREC run with any measure by name (ir_measures), computed by pytrec_eval.",
        epilog=__doc__.split("\n\n", 1)[1] + "\nexample:\n  python -m pipeline.evaluate --qrels scifact:test "
        "--run runs/scifact.test.bm25.trec -m ndcg@10 P@5 RR@100 Rprec 'P(rel=2)@10' Judged@20",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qrels", required=True, help="qrels file (TREC or BEIR TSV) or DATASET:SPLIT")
    parser.add_argument("--run", required=True, type=Path, help="run file (TREC 6 columns or MS MARCO 3; .gz ok)")
    parser.add_argument("-m", "--measures", nargs="+", default=list(DEFAULT_MEASURES), metavar="M",
                        help=f"measures: {MEASURE_SPELLING} (default: {' '.join(DEFAULT_MEASURES)})")
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
