"""``python -m pipeline.compare``: one table of measures for many runs, with significance against a baseline.

Each run is tested against the baseline on every measure (paired t-test by default, or a paired
randomization test), p-values corrected for the number of runs (Holm by default, or Bonferroni),
and the table printed or saved as markdown, LaTeX or CSV (the format follows ``--output``'s
extension unless ``--format`` says).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.collection.datasets import load_qrels
from pipeline.common.atomic import write_text
from pipeline.common.cli import add_debug_flag, run_main
from pipeline.common.errors import PipelineError
from pipeline.evaluation.comparison import TESTS, compare
from pipeline.evaluation.measures import MEASURE_SPELLING, measure_name
from pipeline.evaluation.significance import CORRECTIONS
from pipeline.runfiles.trec import read_run

_EXTENSIONS = {".md": "markdown", ".tex": "latex", ".csv": "csv"}


def _name(path: Path) -> str:
    return path.name.removesuffix(".gz").removesuffix(".trec").removesuffix(".txt").removesuffix(".run")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.compare", description="Compare many runs against a baseline.",
        epilog=__doc__.split("\n\n", 1)[1] + "\nexample:\n  python -m pipeline.compare runs/a.trec runs/b.trec "
        "--baseline runs/scifact.test.bm25.trec --qrels scifact:test --output eval/table.tex",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run files (TREC or MS MARCO; .gz ok)")
    parser.add_argument("--baseline", required=True, type=Path, help="the run the others are tested against")
    parser.add_argument("--qrels", required=True, help="qrels file or DATASET:SPLIT")
    parser.add_argument("-m", "--measures", nargs="+", default=["ndcg@10", "mrr@10", "map"], metavar="M",
                        help=f"measures: {MEASURE_SPELLING} (default: ndcg@10 mrr@10 map)")
    parser.add_argument("--names", nargs="+", help="row names, one per run (default: file names)")
    parser.add_argument("--test", choices=TESTS, default="t-test", help="paired test (default: t-test)")
    parser.add_argument("--correction", choices=CORRECTIONS, default="holm",
                        help="multiple-comparison correction over the runs (default: holm)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level (default: 0.05)")
    parser.add_argument("--trials", type=int, default=10_000, help="randomization test trials")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=["markdown", "latex", "csv"], help="table format")
    parser.add_argument("--output", type=Path, help="save the table here (default: print it)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if not 0 < args.alpha < 1:
        raise PipelineError("--alpha must be between 0 and 1")
    paths = list(dict.fromkeys([args.baseline, *args.runs]))
    if args.names and len(args.names) != len(args.runs):
        raise PipelineError(f"--names gives {len(args.names)} names for {len(args.runs)} runs")
    names = dict(zip(args.runs, args.names, strict=True)) if args.names else {}
    labels = [names.get(p, _name(p)) for p in paths]
    if len(set(labels)) != len(labels):
        raise PipelineError("two runs have the same name; give --names")
    for m in args.measures:
        measure_name(m)
    qrels = load_qrels(args.qrels)
    runs = {label: read_run(p) for label, p in zip(labels, paths, strict=True)}
    table = compare(runs, qrels, labels[0], args.measures, args.test, args.correction, args.alpha,
                    args.trials, args.seed)
    fmt = args.format or (_EXTENSIONS.get(args.output.suffix, "markdown") if args.output else "markdown")
    text = table.render(fmt)
    if args.output:
        write_text(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
