"""``python -m pipeline.submit``: check a run as a TREC submission and write it normalised and gzipped.

Every error is reported as ``file:line: message`` (at most 25, as NIST's scripts do); the exit
code is 1 when there is any. A clean run is rewritten as the submission: topics in the official
order, documents in trec_eval's order (score descending, ties by docid descending), ranks 1..n,
scores at full precision, the given tag on every line, gzipped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipeline.collection.datasets import load_topics
from pipeline.common.cli import add_debug_flag, run_main
from pipeline.common.errors import PipelineError
from pipeline.runfiles.submission import MAX_ERRORS, check_run, tag_problem
from pipeline.runfiles.trec import write_run


def _collection_lookup(index: Path):
    """``docids -> the subset the Lucene index at `index` holds``."""
    from pipeline.common.java import start_jvm

    if not (index / "segments_1").exists() and not any(index.glob("segments_*")):
        raise PipelineError(f"{index}: not a Lucene index (no segments file)")
    start_jvm()
    from pipeline.indexing.lucene import open_searcher

    searcher = open_searcher(Path(index))

    def held(docids: Iterable[str]) -> set[str]:
        return {d for d in docids if searcher.doc(d) is not None}
    return held


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.submit",
        description="Check a run the way NIST's TREC check scripts do, then write the normalised submission.",
        epilog=__doc__.split("\n\n", 1)[1] + "\nexample:\n  python -m pipeline.submit runs/my.trec "
        "--topics scifact:test --tag myteam-ce1 --index indexes/scifact",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the run (TREC 6 columns; .gz ok)")
    parser.add_argument("--topics", required=True,
                        help="the official topics: a file (.jsonl BEIR, .tsv, .cbor CAR outlines, else TREC) "
                             "or DATASET:SPLIT")
    parser.add_argument("--topics-format", choices=["tsv", "trec", "beir", "car-outlines"],
                        help="format of --topics when its extension does not say")
    parser.add_argument("--tag", required=True, help="the run tag written on every line of the submission")
    parser.add_argument("--max-per-topic", type=int, default=1000,
                        help="most documents allowed per topic (default: 1000; DL 2022: 100)")
    parser.add_argument("--long-tags", action="store_true", help="allow tags of up to 25 characters (DL 2022 rule)")
    parser.add_argument("--index", type=Path, help="Lucene index of the collection: flag docids it does not hold")
    parser.add_argument("--output", type=Path, help="the submission to write (default: <TAG>.gz beside the run)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    max_tag = 25 if args.long_tags else 15
    problem = tag_problem(args.tag, max_tag)
    if problem:
        raise PipelineError(f"--tag: {problem}")
    if args.max_per_topic < 1:
        raise PipelineError("--max-per-topic must be at least 1")
    topics = load_topics(args.topics, args.topics_format)
    lookup = _collection_lookup(args.index) if args.index else None
    report = check_run(args.run, topics, args.max_per_topic, max_tag, lookup)
    for w in report.warnings[:MAX_ERRORS]:
        print(f"warning: {w.format(args.run)}", file=sys.stderr)
    if len(report.warnings) > MAX_ERRORS:
        print(f"warning: ... and {len(report.warnings) - MAX_ERRORS} more warnings", file=sys.stderr)
    for e in report.errors:
        print(f"error: {e.format(args.run)}", file=sys.stderr)
    if not report.ok:
        more = f"; stopped after {MAX_ERRORS} errors, as NIST's checker does" if report.stopped else ""
        print(f"{args.run}: {len(report.errors)} error(s){more}: not written", file=sys.stderr)
        return 1
    if report.tag != args.tag:
        print(f"note: the run's tag {report.tag!r} becomes {args.tag!r}", file=sys.stderr)
    ordered = {qid: report.run[qid] for qid in topics}
    out = args.output or args.run.parent / f"{args.tag}.gz"
    if out.resolve() == args.run.resolve():
        raise PipelineError(f"--output {out} would overwrite the run being checked")
    write_run(out, ordered, args.tag)
    counts = report.docs_per_topic()
    print(f"ok: {args.run} -> {out}\n  tag {args.tag}, {len(counts)} topics, {sum(counts)} documents; "
          f"per topic min {min(counts)}, median {statistics.median(counts):g}, max {max(counts)}; "
          f"{len(report.warnings)} warning(s)")
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
