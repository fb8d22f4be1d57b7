"""``python -m pipeline.fuse``: combine runs by reciprocal rank fusion, score interpolation or Bayes-fuse."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipeline.candidates.fusion import METHODS, NORMALIZATIONS, check_queries, fit_rank_odds, fuse
from pipeline.collection.qrels import read_qrels
from pipeline.common.cli import add_debug_flag, run_main
from pipeline.common.errors import PipelineError
from pipeline.runfiles.trec import OUTPUT_FORMATS, read_run, validate_tag, write_run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.fuse",
        description="Combine TREC runs of the same queries into one.\n\nThe runs must hold the same queries "
                    "(--allow-partial-overlap: fuse the union of\nthe queries); a run sharing no query with the "
                    "others is refused even so.",
        epilog="examples:\n  python -m pipeline.fuse runs/a.trec runs/b.trec --output runs/rrf.trec --tag rrf\n"
               "  python -m pipeline.fuse runs/ce.trec runs/bm25.trec --method interpolation --alpha 0.7 "
               "--output runs/mix.trec --tag mix\n"
               "  python -m pipeline.fuse runs/bm25.test.trec runs/dense.test.trec --method bayes --fit-runs "
               "runs/bm25.train.trec runs/dense.train.trec --fit-qrels train.qrels --collection-size 5183 "
               "--output runs/bayes.trec --tag bayes", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="2 or more run files (TREC or MS MARCO; .gz ok)")
    parser.add_argument("--allow-partial-overlap", action="store_true",
                        help="fuse runs whose query sets differ: the output has the union of their queries, "
                             "each fused from the runs that hold it")
    parser.add_argument("--method", choices=METHODS, default="rrf",
                        help="rrf (default), interpolation of normalised scores, or bayes: Bayes-fuse, each run's "
                             "log-odds of relevance by rank bin, fitted on --fit-runs and --fit-qrels")
    parser.add_argument("--k", type=float, default=60.0, help="RRF constant (default: 60)")
    parser.add_argument("--weights", type=float, nargs="+", help="RRF weight of each run, in order (default: all 1)")
    parser.add_argument("--alpha", type=float, default=0.5, help="interpolation weight of the first run")
    parser.add_argument("--normalization", choices=NORMALIZATIONS, default="minmax",
                        help="per-query score normalisation before interpolating (default: minmax)")
    parser.add_argument("--fit-runs", type=Path, nargs="+",
                        help="bayes: the same systems' runs on judged training queries, in the same order")
    parser.add_argument("--fit-qrels", type=Path, help="bayes: the judgments of the training queries")
    parser.add_argument("--collection-size", type=int,
                        help="bayes: documents in the collection (to count those a run did not retrieve)")
    parser.add_argument("--depth", type=int, default=1000, help="documents per query kept (and fused, for RRF)")
    parser.add_argument("--output", type=Path, required=True, help="fused run to write")
    parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="trec")
    parser.add_argument("--tag", required=True, help="run tag, 1-15 of [A-Za-z0-9_-]")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    validate_tag(args.tag)
    if len(args.runs) < 2:
        raise PipelineError(f"fusion needs at least 2 runs, got {len(args.runs)}")
    runs = [read_run(p) for p in args.runs]
    check_queries(runs, [str(p) for p in args.runs], args.allow_partial_overlap)
    odds = None
    if args.method == "bayes":
        if not (args.fit_runs and args.fit_qrels and args.collection_size):
            raise PipelineError("bayes needs --fit-runs, --fit-qrels and --collection-size")
        if len(args.fit_runs) != len(runs):
            raise PipelineError(f"{len(args.fit_runs)} --fit-runs for {len(runs)} runs: give one per run, in order")
        qrels = read_qrels(args.fit_qrels)
        odds = [fit_rank_odds(read_run(p), qrels, args.collection_size) for p in args.fit_runs]
    fused = fuse(args.method, runs, k=args.k, weights=args.weights, depth=args.depth, alpha=args.alpha,
                 normalization=args.normalization, odds=odds)
    write_run(args.output, fused, args.tag, fmt=args.output_format, depth=args.depth)
    print(f"fused {len(runs)} runs ({args.method}) into {args.output}: {len(fused)} queries")
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
