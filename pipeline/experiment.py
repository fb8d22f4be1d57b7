"""``python -m pipeline.experiment distillation``: the paper's comparison, on the embedded collections.

For every model present — the teacher and each distillation procedure × {6L, 4L} (see
:mod:`pipeline.distill`) — it reranks the BM25 top ``--depth`` of each test set (CAR test200 test
pages, SciFact test, and TREC DL 2019's official BM25 top-100 when ``../shared`` has it), scores
the runs with trec_eval's semantics, tests each model against the teacher and against BM25 (paired
t-test on per-query nDCG@10), and measures every model's reranking speed in the same process on
the same pairs (interleaved rounds, median pairs/s). It writes ``eval/distillation.md``,
``eval/distillation.json`` (one row per model × dataset) and ``eval/distillation.png``
(effectiveness against speed). Runs are kept in ``runs/experiment/`` under a name that holds a
fingerprint of the model's weights, so a rerun only scores what changed, and a killed run resumes.

Rows of models that are not on this machine are carried over from the previous
``eval/distillation.json`` when that run's BM25 and teacher rows for the same test set and depth
equal this run's (the same teacher, reranking the same candidates): a table built over many
sessions, where each model was trained once, keeps every model. Each row records its ``depth``
and when it was ``measured``; a carried row's speedup is against the teacher timed in its own run.
``--fresh`` keeps nothing.

``--teacher`` names another teacher: ``models/teacher-ensemble`` (the students' teacher in ``make
models``) is timed with every member computed afresh, as a rerank with no cached member costs.
``--reference bi-encoder:mpnet`` adds a reference row (the packaged all-mpnet-base-v2 reranking
alone, its scores shared with the ensemble's member), tested against the teacher like every row.
Give such a table its own ``--output-dir``: rows carry over only between runs of the same teacher.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.common.cli import add_debug_flag, run_main
from pipeline.common.paths import EVAL, RUNS
from pipeline.experiments.distillation import DATASETS, DistillationExperiment, distillation
from pipeline.rerank.registry import MODELS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.experiment", description="Run one of the project's experiments.",
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=["distillation"], help="which experiment")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), metavar="DATASET:SPLIT",
                        help=f"test sets (default: {' '.join(DATASETS)}; DL 2019 skipped when absent)")
    parser.add_argument("--depth", type=int, default=100,
                        help="BM25 candidates reranked per query (default: 100; the paper's 1000 is ~10x slower)")
    parser.add_argument("--max-length", type=int, help="max tokens per pair (default: each model's own)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--speed-pairs", type=int, default=256, help="pairs timed per model (default: 256)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (default: 3)")
    parser.add_argument("--models", type=Path, default=MODELS, help="where the models are (default: models/)")
    parser.add_argument("--teacher", type=Path,
                        help="the teacher: a cross-encoder's or an ensemble's directory (default: <models>/teacher; "
                             "make models builds models/teacher-ensemble, the students' teacher)")
    parser.add_argument("--reference", action="append", default=[], metavar="MEMBER",
                        help="a reference row: an ensemble member reranking alone, e.g. bi-encoder:mpnet (the best "
                             "packaged bi-encoder); repeatable")
    parser.add_argument("--runs-dir", type=Path, default=RUNS / "experiment")
    parser.add_argument("--output-dir", type=Path, default=EVAL)
    parser.add_argument("--fresh", action="store_true",
                        help="do not carry over rows of models absent here from the previous distillation.json")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    flags = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "distillation"]
    distillation(DistillationExperiment(datasets=tuple(args.datasets), depth=args.depth, max_length=args.max_length,
                            batch_size=args.batch_size, speed_pairs=args.speed_pairs, rounds=args.rounds,
                            models=args.models, teacher=args.teacher, references=tuple(args.reference),
                            runs_dir=args.runs_dir, output_dir=args.output_dir,
                            fresh=args.fresh, command=" ".join(["python -m pipeline.experiment distillation", *flags])))
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
