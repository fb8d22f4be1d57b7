"""``python -m pipeline.run``: first stage, optional reranking, a TREC run and its evaluation.

collection index -> BM25 top-``depth`` candidates -> (reranker) -> ``runs/<dataset>.<split>.<reranker>.trec``
plus a JSON sidecar (config, versions, seed, timings) -> trec_eval measures printed and saved
under ``eval/``.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.cli import add_debug_flag, run_main
from pipeline.datasets import ROOT, get_dataset
from pipeline.errors import PipelineError
from pipeline.evaluate import EVAL, evaluate, save
from pipeline.index import index_dir
from pipeline.provenance import record
from pipeline.runs import OUTPUT_FORMATS, validate_tag, write_run

RUNS = ROOT / "runs"
DEFAULT_DATASET = "scifact"


def define_args(parser: argparse.ArgumentParser) -> None:
    """The command-line flags of ``pipeline.run``."""
    parser.add_argument("--dataset", default=DEFAULT_DATASET,
                        help=f"registered dataset (default: {DEFAULT_DATASET}); see pipeline.datasets")
    parser.add_argument("--split", help="split to run (default: the dataset's test split)")
    parser.add_argument("--reranker", default="bm25", help="bm25 (no reranking)")
    parser.add_argument("--index", type=Path, help="Lucene index (default: indexes/<dataset>)")
    parser.add_argument("--depth", "--hits", type=int, default=1000, dest="depth",
                        help="candidates per query from the first stage (default: 1000)")
    parser.add_argument("--k1", type=float, default=0.9, help="BM25 k1 (default: 0.9)")
    parser.add_argument("--b", type=float, default=0.4, help="BM25 b (default: 0.4)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="search threads")
    parser.add_argument("--output", type=Path,
                        help="run file to write (default: runs/<dataset>.<split>.<reranker>.trec)")
    parser.add_argument("--output-format", choices=OUTPUT_FORMATS, default="trec",
                        help="trec (6 columns) or msmarco (qid<TAB>pid<TAB>rank)")
    parser.add_argument("--tag", help="run tag, 1-15 of [A-Za-z0-9_-] (default: derived from the reranker)")
    parser.add_argument("--seed", type=int, default=42, help="random seed, recorded with the run")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_debug_flag(parser)


def _default_tag(reranker: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in Path(reranker).name)
    return cleaned[:15] or "pipeline"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.run", description=__doc__.split("\n\n")[0][22:],
                                     epilog="example: python -m pipeline.run --dataset scifact --split test")
    define_args(parser)
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    random.seed(args.seed)
    ds = get_dataset(args.dataset)
    split = args.split or ds.default_split
    tag = validate_tag(args.tag or _default_tag(args.reranker))
    if args.depth < 1:
        raise PipelineError(f"--depth must be positive, got {args.depth}")
    if args.reranker != "bm25":
        raise PipelineError(f"unknown reranker {args.reranker!r}; available: bm25")
    topics = ds.topics_for(split)
    qrels = ds.qrels(split)
    if not topics:
        raise PipelineError(f"{ds.name}:{split} has no judged queries in {ds.topics}")
    output = args.output or RUNS / f"{ds.name}.{split}.{Path(args.reranker).name}.trec"

    from pipeline.bm25 import BM25

    searcher = BM25(args.index or index_dir(ds.name), k1=args.k1, b=args.b)
    t0 = time.perf_counter()
    run = searcher.search(topics, k=args.depth, threads=args.threads, remove_query=ds.remove_query,
                          progress=not args.no_progress)
    search_s = time.perf_counter() - t0

    write_run(output, run, tag, fmt=args.output_format)
    result = evaluate(run, qrels)
    timings = {"jvm_start_s": round(searcher.jvm_start_s, 3), "pyserini_import_s": round(searcher.import_s, 3),
               "bm25_s": round(search_s, 3), "bm25_queries_per_s": round(len(topics) / search_s, 1),
               "total_s": round(time.perf_counter() - t_start, 3)}
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "debug"}
    config.update(split=split, tag=tag, index=str(searcher.index), remove_query=ds.remove_query)
    write_json(Path(f"{output}.json"), record(config=config, seed=args.seed, queries=len(topics),
                                              timings=timings, evaluation=result.aggregate))
    save(result, EVAL / f"{output.name}.json", run=str(output), dataset=ds.name, split=split)
    print(f"{ds.name}:{split} {args.reranker}  ->  {output}")
    print(result.table())
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
