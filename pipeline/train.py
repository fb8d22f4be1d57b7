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
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.common.cli import add_debug_flag, run_main
from pipeline.common.errors import PipelineError
from pipeline.common.pretrained import minilm, packaged
from pipeline.rerank.registry import MODELS
from pipeline.training.flags import add_schedule_args, schedule, training_groups
from pipeline.training.initialise import load_ranker, stacked
from pipeline.training.losses import LABEL_LOSSES
from pipeline.training.teacher_scores import biencoder_scores
from pipeline.training.trainer import LossConfig, train


def main(argv: Sequence[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m pipeline.train",
                                  description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                  epilog=__doc__.split("\n\n", 1)[1],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="what", required=True, metavar="{teacher,ensemble}")
    parser = commands.add_parser("teacher", help="fine-tune a cross-encoder teacher on labels (and soft labels)",
                                 description="Fine-tune a cross-encoder teacher on the training groups' labels.")
    _add_ensemble_command(commands)
    parser.add_argument("--init", type=Path, help="starting checkpoint: a directory, or 'mpnet' for the packaged "
                                                  "all-mpnet-base-v2 (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--layers", type=int, default=12, help="teacher depth; more than --init's by stacking")
    parser.add_argument("--stacking", choices=["interleave", "repeat"], default="interleave",
                        help="interleave: 0,0,1,1,...; repeat: 0..5,0..5 (default: interleave)")
    parser.add_argument("--loss", choices=sorted(LABEL_LOSSES), default="softmax-ce", help="label loss")
    parser.add_argument("--output", type=Path, default=MODELS / "teacher", help="where to save")
    soft = parser.add_argument_group("soft labels from a bi-encoder (learn what a web-trained ranker knows)")
    soft.add_argument("--soft-labels", type=Path, metavar="ENCODER",
                      help="a sentence-transformers bi-encoder directory, or 'mpnet' / 'minilm' for the packaged "
                           "ones: its scaled cosines are soft targets (KL over each group) beside the labels")
    soft.add_argument("--soft-weight", type=float, default=1.0, help="weight of the KL term (default: 1)")
    soft.add_argument("--soft-scale", type=float, default=20.0,
                      help="cosine x this = the target logits (default: 20, the bi-encoders' training scale)")
    soft.add_argument("--soft-max-length", type=int, default=256, help="tokens per text when encoding (default: 256)")
    add_schedule_args(parser, epochs=1.0, lr=3e-5)
    add_debug_flag(parser)
    args = top.parse_args(argv)
    if args.what == "ensemble":
        return _fit_ensemble(args)
    from transformers import AutoTokenizer, set_seed
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    set_seed(args.seed)  # before any model is built: a fresh head's weights come from the seed
    init = packaged(str(args.init)) if args.init else minilm()
    if not (init / "config.json").is_file():
        raise PipelineError(f"no checkpoint at {init}")
    base = load_ranker(init)
    depth = base.config.num_hidden_layers
    if args.layers < depth or args.layers % depth:
        raise PipelineError(f"--layers must be a multiple of {init}'s {depth} layers")
    model = base if args.layers == depth else stacked(init, args.layers, args.stacking)
    tokenizer = AutoTokenizer.from_pretrained(init)
    t0 = time.perf_counter()
    groups = training_groups(args)
    print(f"{len(groups)} groups of {args.negatives + 1}; training a {args.layers}-layer teacher from {init}")
    loss, scores, encoder = LossConfig(label_loss=args.loss), None, None
    if args.soft_labels is not None:
        encoder = packaged(str(args.soft_labels))
        scores = biencoder_scores(encoder, groups, scale=args.soft_scale, max_length=args.soft_max_length)
        loss = LossConfig(label_loss=args.loss, score_loss="kl", score_weight=args.soft_weight)
    summary = train(model, tokenizer, args.output, loss, schedule(args), groups=groups, teacher_scores=scores,
                    resume=args.resume, provenance={"init": str(init), "layers": args.layers,
                                                    "soft_labels": str(encoder) if encoder else None,
                                                    "soft_scale": args.soft_scale if encoder else None,
                                                    "stacking": args.stacking if args.layers != depth else None,
                                                    "datasets": args.dataset or ["car-test200", "scifact"],
                                                    "examples_s": round(time.perf_counter() - t0, 1)})
    print(f"saved {args.output}: {summary['steps']} steps, loss {summary['first_logged_loss']} -> "
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

    from pipeline.common.provenance import record
    from pipeline.rerank.ensemble import write_ensemble
    from pipeline.training.ensemble_fit import fit

    members = [replace(m, scale=args.scale, max_length=args.max_length) for m in args.member]
    t0 = time.perf_counter()
    fitted, figures = fit(members, args.fit_on or ["scifact:dev", "car-test200:dev"], depth=args.depth,
                          grid=args.grid, progress=not args.no_progress)
    write_ensemble(args.output, fitted, **record(config={"members": [m.label for m in members],
                                                         "seconds": round(time.perf_counter() - t0, 1)},
                                                 seed=None, **figures))
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
