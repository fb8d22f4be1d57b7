"""``python -m pipeline.diff``: what changed between two runs, query by query.

Prints the means, B's wins/ties/losses against A, a paired t-test and a randomization test,
overlap@k and rank-biased overlap of the two lists, the per-query deltas (largest first) and,
for the biggest movers, where the relevant documents went (the best-ranked 10, and how many
more). ``--html`` also writes one self-contained page with the two ranked lists side by side
(snippets from the collection when ``--index`` or a ``DATASET:SPLIT`` qrels gives one).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.collection.datasets import dataset_split, load_qrels
from pipeline.common.atomic import write_text
from pipeline.common.cli import add_debug_flag, run_main
from pipeline.common.errors import PipelineError
from pipeline.evaluation.diff import diff_runs
from pipeline.evaluation.measures import MEASURE_SPELLING, measure_name
from pipeline.runfiles.trec import read_run


def _texts(args: argparse.Namespace):
    """``(docid -> text, {qid: query})`` for the HTML page, from --index or a DATASET:SPLIT qrels."""
    from pipeline.indexing.passages import Passages

    named = dataset_split(args.qrels)
    dataset, queries = (named[0], named[0].topics_for(named[1])) if named else (None, None)
    if args.index:
        if not args.index.is_dir():
            raise PipelineError(f"--index {args.index}: no such index directory")
        return Passages(index=args.index).get, queries
    if dataset:
        return Passages(docs=dataset.docs()).get, queries
    return None, None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.diff", description="Compare two runs query by query.",
        epilog=__doc__.split("\n\n", 1)[1] + "\nexample:\n  python -m pipeline.diff runs/scifact.test.bm25.trec "
        "runs/scifact.test.teacher.trec --qrels scifact:test --html eval/diff.html",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_a", type=Path, help="run A, the reference (TREC or MS MARCO; .gz ok)")
    parser.add_argument("run_b", type=Path, help="run B, compared against A")
    parser.add_argument("--qrels", required=True, help="qrels file or DATASET:SPLIT")
    parser.add_argument("-m", "--measure", default="ndcg@10",
                        help=f"measure: {MEASURE_SPELLING} (default: ndcg@10 = nDCG@10 = ndcg_cut_10)")
    parser.add_argument("-l", "--relevance-level", type=int, default=1, help="as trec_eval -l")
    parser.add_argument("--top", type=int, default=20, help="per-query rows printed (default: 20)")
    parser.add_argument("--movers", type=int, default=5, help="biggest movers detailed (default: 5; 10 in HTML)")
    parser.add_argument("--overlap-k", type=int, default=10,
                        help="k of overlap@k (default: 10); where both lists are shorter than k, the overlap "
                             "is over the longer one's length, so identical lists give 1")
    parser.add_argument("--rbo-p", type=float, default=0.9, help="RBO persistence (default: 0.9)")
    parser.add_argument("--trials", type=int, default=10_000, help="randomization test trials (default: 10000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--html", type=Path, help="also write a self-contained HTML page here")
    parser.add_argument("--depth", type=int, default=10, help="documents shown per list in the HTML (default: 10)")
    parser.add_argument("--index", type=Path, help="Lucene index for passage snippets in the HTML")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if not 0 < args.rbo_p < 1:
        raise PipelineError("--rbo-p must be between 0 and 1")
    for name in ("top", "movers", "overlap_k", "trials", "depth"):
        if getattr(args, name) < 1:
            raise PipelineError(f"--{name.replace('_', '-')} must be at least 1")
    measure_name(args.measure)
    qrels = load_qrels(args.qrels)
    run_a, run_b = read_run(args.run_a), read_run(args.run_b)
    diff = diff_runs(run_a, run_b, qrels, args.measure, str(args.run_a), str(args.run_b), args.overlap_k,
                     args.rbo_p, args.trials, args.seed, args.relevance_level)
    print(diff.table(args.top, args.movers))
    if args.html:
        from pipeline.evaluation.diff_html import render

        text, queries = _texts(args)
        page = render(diff, text, queries, depth=args.depth, movers=max(args.movers, 10),
                      title=f"{args.run_b.name} vs {args.run_a.name}")
        write_text(args.html, page)
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
