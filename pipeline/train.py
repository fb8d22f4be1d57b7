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

from pipeline.common.cli import add_debug_flag, run_main
from pipeline.training.flags import (
    add_ensemble_args,
    add_teacher_args,
    ensemble_fit,
    schedule,
    teacher_training,
    training_data,
)


def main(argv: Sequence[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m pipeline.train",
                                  description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                  epilog=__doc__.split("\n\n", 1)[1],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="what", required=True, metavar="{teacher,ensemble}")
    parser = commands.add_parser("teacher", help="fine-tune a cross-encoder teacher on labels (and soft labels)",
                                 description="Fine-tune a cross-encoder teacher on the training groups' labels.")
    ensemble = commands.add_parser("ensemble", help="fit an ensemble teacher's weights on dev sets",
                                   description="Fit the weights of an ensemble teacher (cross-encoders, bi-encoders, "
                                               "BM25; raw scores summed with weights) on dev sets' candidates, and "
                                               "write OUTPUT/ensemble.json with the figures of the fit.")
    add_ensemble_args(ensemble)
    add_debug_flag(ensemble)
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


def _fit_ensemble(args: argparse.Namespace) -> int:
    from pipeline.training.ensemble_fit import fit_ensemble

    fitted, figures = fit_ensemble(ensemble_fit(args))
    print(f"saved {args.output}: weights " + ", ".join(f"{m.label} {m.weight}" for m in fitted))
    for name, row in figures.get("dev", {}).items():
        print(f"{name}: ensemble nDCG@10 {row['ensemble']:.4f}; members " +
              ", ".join(f"{k} {v:.4f}" for k, v in row["members"].items()))
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
