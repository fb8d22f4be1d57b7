"""``python -m pipeline.train teacher|ensemble``: fine-tune the teacher cross-encoder, or fit an ensemble teacher.

The default teacher has 12 layers (the paper's depth), made by progressive stacking of the
packaged 6-layer all-MiniLM-L6-v2 (``--layers 6`` trains it as is; ``--init PATH`` starts from any
BERT checkpoint, e.g. bert-base-uncased). Training groups (1 relevant + ``--negatives`` BM25
negatives) come from the train split of every ``--dataset``. Losses: softmax cross-entropy over
each group (default) or pointwise BCE (monoBERT). The model is saved to ``models/teacher`` as a
normal Hugging Face directory; ``--resume`` continues from the last checkpoint.

``ensemble`` fits the weights of an ensemble teacher (:mod:`pipeline.rerank.ensemble`: cross-encoders,
bi-encoders and BM25, their raw scores summed with weights) on dev sets, e.g.
``python -m pipeline.train ensemble --member cross-encoder:models/teacher-ce --member bi-encoder:mpnet
--fit-on scifact:dev --fit-on msmarco-dl19:test --output models/teacher``; students distil from it with
``python -m pipeline.distill --teacher models/teacher``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipeline.common.cli import add_debug_flag, run_main
from pipeline.rerank.registry import MODELS
from pipeline.training.flags import add_teacher_args, schedule, teacher_training, training_data


def main(argv: Sequence[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m pipeline.train",
                                  description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                  epilog=__doc__.split("\n\n", 1)[1],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="what", required=True, metavar="{teacher,ensemble}")
    parser = commands.add_parser("teacher", help="fine-tune a cross-encoder teacher on labels (and soft labels)",
                                 description="Fine-tune a cross-encoder teacher on the training groups' labels.")
    _add_ensemble_command(commands)
    add_teacher_args(parser)
    add_debug_flag(parser)
    args = top.parse_args(argv)
    if args.what == "ensemble":
        return _fit_ensemble(args)
    from transformers.utils import logging as hf_logging

    from pipeline.training.teacher import train_teacher

    hf_logging.set_verbosity_error()
    summary = train_teacher(teacher_training(args), training_data(args), schedule(args), resume=args.resume)
    print(f"saved {summary['output']}: {summary['steps']} steps, loss {summary['first_logged_loss']} -> "
          f"{summary['last_logged_loss']}")
    return 0


def _add_ensemble_command(commands) -> None:
    """``pipeline.train ensemble``'s flags."""
    from pipeline.rerank.ensemble import parse_member

    ens = commands.add_parser("ensemble", help="fit an ensemble teacher's weights on dev sets",
                              description="Fit the weights of an ensemble teacher (cross-encoders, bi-encoders, BM25; "
                                          "raw scores summed with weights) on dev sets' candidates, and write "
                                          "OUTPUT/ensemble.json with the figures of the fit.")
    ens.add_argument("--member", action="append", required=True, type=parse_member, metavar="KIND:PATH",
                     help="a member (repeatable): cross-encoder:DIR, bi-encoder:mpnet|minilm|DIR, or bm25 (the "
                          "candidates' own BM25 scores); the first member's weight is fixed at 1")
    ens.add_argument("--fit-on", action="append", metavar="DATASET:SPLIT[@DEPTH]",
                     help="dev set(s) to fit on (repeatable; @DEPTH: its own depth; default: scifact:dev and "
                          "car-test200:dev); never a test split you report")
    ens.add_argument("--depth", type=int, default=20, help="candidates per query (default: 20; a dataset's official "
                                                           "candidates where it has them, else BM25's)")
    ens.add_argument("--grid", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0, 2.0, 4.0],
                     help="weights tried for each member after the first (default: 0 0.25 0.5 1 2 4)")
    ens.add_argument("--scale", type=float, default=20.0, help="bi-encoders: cosine x this (default: 20)")
    ens.add_argument("--max-length", type=int, default=256, help="bi-encoders: tokens per text (default: 256)")
    ens.add_argument("--output", type=Path, default=MODELS / "teacher-ensemble", help="the ensemble's directory")
    ens.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_debug_flag(ens)


def _fit_ensemble(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from pipeline.training.ensemble_fit import fit_ensemble

    members = [replace(m, scale=args.scale, max_length=args.max_length) for m in args.member]
    fitted, figures = fit_ensemble(members, args.fit_on or ["scifact:dev", "car-test200:dev"], args.output,
                                   depth=args.depth, grid=args.grid, progress=not args.no_progress)
    print(f"saved {args.output}: weights " + ", ".join(f"{m.label} {m.weight}" for m in fitted))
    for name, row in figures["dev"].items():
        print(f"{name}: ensemble nDCG@10 {row['ensemble']:.4f}; members " +
              ", ".join(f"{k} {v:.4f}" for k, v in row["members"].items()))
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
