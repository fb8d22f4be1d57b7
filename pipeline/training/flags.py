"""The training commands' flags, defined once, and what they turn into: the
:class:`~pipeline.training.data.TrainingData`, the optimisation
:class:`~pipeline.training.trainer.Schedule`, and a student's
:class:`~pipeline.training.procedures.Distillation` or the teacher's
:class:`~pipeline.training.teacher.TeacherTraining`. ``pipeline.distill``, ``pipeline.train
teacher`` and ``pipeline.build_models`` (whose stages are those commands' flags) all parse here."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipeline.common.errors import PipelineError
from pipeline.common.paths import MODELS
from pipeline.training.data import DEFAULT_DATASETS, TrainingData
from pipeline.training.ensemble_fit import EnsembleFit
from pipeline.training.losses import LABEL_LOSSES, SCORE_LOSSES
from pipeline.training.procedures import PROCEDURES, Distillation
from pipeline.training.teacher import TeacherTraining
from pipeline.training.trainer import PRECISIONS, Schedule


def add_schedule_args(parser: argparse.ArgumentParser, epochs: float, lr: float) -> None:
    """The training data and optimisation flags every training command has."""
    group = parser.add_argument_group("optimisation")
    group.add_argument("--dataset", action="append", help="training dataset(s) (repeatable; default: "
                                                          f"{' and '.join(DEFAULT_DATASETS)})")
    group.add_argument("--split", default=TrainingData.split, help="split to train on (default: train)")
    group.add_argument("--negatives", type=int, default=TrainingData.negatives,
                       help="BM25 negatives per group (default: 7)")
    group.add_argument("--bm25-depth", type=int, default=TrainingData.bm25_depth,
                       help="sample negatives from this BM25 depth")
    group.add_argument("--epochs", type=float, default=epochs, help=f"passes over the groups (default: {epochs})")
    group.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (overrides --epochs)")
    group.add_argument("--batch-groups", type=int, default=4, help="groups per step (default: 4)")
    group.add_argument("--lr", type=float, default=lr, help=f"peak learning rate (default: {lr})")
    group.add_argument("--warmup", type=float, default=0.1, help="warm-up fraction of the steps (default: 0.1)")
    group.add_argument("--max-length", type=int, default=256, help="max tokens per pair (default: 256)")
    group.add_argument("--limit-groups", type=int, help="use only this many labelled groups (smoke tests, pilots)")
    group.add_argument("--pseudo-queries", action="append", metavar="DATASET",
                       help="add pseudo-query groups over this collection (repeatable): a title or sentence of a "
                            "passage as the query, BM25 negatives; unlabeled, so for score losses (its index is "
                            "needed: python -m pipeline.index --dataset DATASET)")
    group.add_argument("--pseudo-groups", type=int, default=TrainingData.pseudo_groups,
                       help="pseudo-query groups per --pseudo-queries collection "
                            f"(default: {TrainingData.pseudo_groups})")
    group.add_argument("--pseudo-depth", type=int, default=TrainingData.pseudo_depth,
                       help="sample the pseudo-query groups' negatives from this BM25 depth "
                            f"(default: {TrainingData.pseudo_depth})")
    group.add_argument("--seed", type=int, default=TrainingData.seed)
    group.add_argument("--save-steps", type=int, default=200, help="checkpoint every N steps")
    group.add_argument("--logging-steps", type=int, default=10, help="log the loss every N steps (default: 10)")
    group.add_argument("--no-group-by-length", dest="group_by_length", action="store_false",
                       help="batches of random lengths (default: each step's groups have similar token lengths)")
    group.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="auto (default): bf16 where the GPU or CPU computes it natively (AVX-512 BF16, AMX), "
                            "else fp32 on CPUs and fp16 on GPUs")
    group.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the output")


def training_data(args: argparse.Namespace) -> TrainingData:
    """The data flags as :class:`TrainingData`."""
    return TrainingData(datasets=tuple(args.dataset or DEFAULT_DATASETS), split=args.split, negatives=args.negatives,
                        bm25_depth=args.bm25_depth, seed=args.seed, limit_groups=args.limit_groups,
                        pseudo_datasets=tuple(args.pseudo_queries or ()), pseudo_groups=args.pseudo_groups,
                        pseudo_depth=args.pseudo_depth)


def schedule(args: argparse.Namespace) -> Schedule:
    """The optimisation flags as a :class:`Schedule`."""
    return Schedule(epochs=args.epochs, max_steps=args.max_steps, batch_groups=args.batch_groups, lr=args.lr,
                    warmup=args.warmup, max_length=args.max_length, seed=args.seed, save_steps=args.save_steps,
                    logging_steps=args.logging_steps, group_by_length=args.group_by_length,
                    precision=args.precision)


def distillation_parser(**kwargs) -> argparse.ArgumentParser:
    """``pipeline.distill``'s flags (``kwargs`` go to the ``ArgumentParser``: prog, description, epilog)."""
    parser = argparse.ArgumentParser(**kwargs)
    parser.add_argument("--student", required=True, help="student depth, e.g. 4L or 6L")
    parser.add_argument("--procedure", choices=PROCEDURES, default=Distillation.procedure)
    parser.add_argument("--teacher", type=Path, default=Distillation.teacher, help="the fine-tuned teacher")
    parser.add_argument("--lm", type=Path, help="the pretrained LM for LM distillation (default: packaged MiniLM)")
    parser.add_argument("--lm-texts", type=int, default=Distillation.lm_texts,
                        help="collection passages for LM distillation")
    parser.add_argument("--hidden", type=int, help="student width (default: the teacher's)")
    parser.add_argument("--score-loss", choices=sorted(SCORE_LOSSES), default=Distillation.score_loss,
                        help="teacher-score loss")
    parser.add_argument("--temperature", type=float, default=Distillation.temperature,
                        help="KL temperature (default: 1)")
    parser.add_argument("--label-weight", type=float, default=None,
                        help="hard-label (softmax CE) weight; default 1 for label-only procedures, 0 otherwise")
    parser.add_argument("--hidden-weight", type=float, default=Distillation.hidden_weight,
                        help="lm+ranker: hidden-state loss weight")
    parser.add_argument("--attention-weight", type=float, default=Distillation.attention_weight,
                        help="lm+ranker: attention loss weight")
    parser.add_argument("--init", type=Path,
                        help="start from this student checkpoint (a further stage; skips the LM stage)")
    parser.add_argument("--student-from", choices=["teacher", "lm"], default=Distillation.student_from,
                        help="ranker: cut the student from the teacher's layers (default) or from the LM's (--lm), "
                             "e.g. a MiniLM student of an MPNet teacher")
    parser.add_argument("--output", type=Path, help="where to save (default: models/student<L>L[-<procedure>])")
    add_schedule_args(parser, epochs=1.0, lr=5e-5)
    return parser


def distillation(args: argparse.Namespace) -> Distillation:
    """``pipeline.distill``'s flags as a :class:`Distillation`."""
    try:
        layers = int(args.student.upper().removesuffix("L"))
    except ValueError:
        raise PipelineError(f"--student must look like 4L or 6L, got {args.student!r}") from None
    return Distillation(layers=layers, procedure=args.procedure, teacher=args.teacher, lm=args.lm,
                        lm_texts=args.lm_texts, hidden=args.hidden, score_loss=args.score_loss,
                        temperature=args.temperature, label_weight=args.label_weight,
                        hidden_weight=args.hidden_weight, attention_weight=args.attention_weight, init=args.init,
                        student_from=args.student_from, output=args.output)


def add_teacher_args(parser: argparse.ArgumentParser) -> None:
    """``pipeline.train teacher``'s flags."""
    parser.add_argument("--init", help="starting checkpoint: a directory, or 'mpnet' for the packaged "
                                       "all-mpnet-base-v2 (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--layers", type=int, default=TeacherTraining.layers,
                        help="teacher depth; more than --init's by stacking")
    parser.add_argument("--stacking", choices=["interleave", "repeat"], default=TeacherTraining.stacking,
                        help="interleave: 0,0,1,1,...; repeat: 0..5,0..5 (default: interleave)")
    parser.add_argument("--loss", choices=sorted(LABEL_LOSSES), default=TeacherTraining.loss, help="label loss")
    parser.add_argument("--output", type=Path, default=TeacherTraining.output, help="where to save")
    soft = parser.add_argument_group("soft labels from a bi-encoder (learn what a web-trained ranker knows)")
    soft.add_argument("--soft-labels", metavar="ENCODER",
                      help="a sentence-transformers bi-encoder directory, or 'mpnet' / 'minilm' for the packaged "
                           "ones: its scaled cosines are soft targets (KL over each group) beside the labels")
    soft.add_argument("--soft-weight", type=float, default=TeacherTraining.soft_weight,
                      help="weight of the KL term (default: 1)")
    soft.add_argument("--soft-scale", type=float, default=TeacherTraining.soft_scale,
                      help="cosine x this = the target logits (default: 20, the bi-encoders' training scale)")
    soft.add_argument("--soft-max-length", type=int, default=TeacherTraining.soft_max_length,
                      help="tokens per text when encoding (default: 256)")
    add_schedule_args(parser, epochs=1.0, lr=3e-5)


def teacher_training(args: argparse.Namespace) -> TeacherTraining:
    """``pipeline.train teacher``'s flags as a :class:`TeacherTraining`."""
    return TeacherTraining(init=args.init, layers=args.layers, stacking=args.stacking, loss=args.loss,
                           output=args.output, soft_labels=args.soft_labels, soft_weight=args.soft_weight,
                           soft_scale=args.soft_scale, soft_max_length=args.soft_max_length)


def add_ensemble_args(parser: argparse.ArgumentParser) -> None:
    """``pipeline.train ensemble``'s flags."""
    from pipeline.rerank.ensemble import parse_member

    parser.add_argument("--member", action="append", required=True, type=parse_member, metavar="KIND:PATH",
                        help="a member (repeatable): cross-encoder:DIR, bi-encoder:mpnet|minilm|DIR, or bm25 (the "
                             "candidates' own BM25 scores); the first member's weight is fixed at 1")
    parser.add_argument("--fit-on", action="append", metavar="DATASET:SPLIT[@DEPTH]",
                        help="dev set(s) to fit on (repeatable; @DEPTH: its own depth; default: scifact:dev and "
                             "car-test200:dev); never a test split you report")
    parser.add_argument("--depth", type=int, default=EnsembleFit.depth,
                        help="candidates per query (default: 20; a dataset's "
                                                              "official candidates where it has them, else BM25's)")
    parser.add_argument("--grid", type=float, nargs="+", default=list(EnsembleFit.grid),
                        help="weights tried for each member after the first (default: 0 0.25 0.5 1 2 4)")
    parser.add_argument("--weights", type=float, nargs="+", metavar="W",
                        help="no fit: these weights, one per member, the first 1 (rebuild a measured fit)")
    parser.add_argument("--scale", type=float, default=20.0, help="bi-encoders: cosine x this (default: 20)")
    parser.add_argument("--max-length", type=int, default=256, help="bi-encoders: tokens per text (default: 256)")
    parser.add_argument("--output", type=Path, default=MODELS / "teacher-ensemble", help="the ensemble's directory")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def ensemble_fit(args: argparse.Namespace) -> EnsembleFit:
    """``pipeline.train ensemble``'s flags as an :class:`EnsembleFit`."""
    from dataclasses import replace

    return EnsembleFit(members=tuple(replace(m, scale=args.scale, max_length=args.max_length) for m in args.member),
                       output=args.output, dev_sets=tuple(args.fit_on or EnsembleFit.dev_sets), depth=args.depth,
                       grid=tuple(args.grid), weights=tuple(args.weights) if args.weights else None,
                       progress=not args.no_progress)


def parse_stage(module: str, argv: Sequence[str]
                ) -> tuple[Distillation | TeacherTraining | EnsembleFit, argparse.Namespace]:
    """A build stage's command line (``pipeline.distill ...``, ``pipeline.train teacher ...`` or
    ``pipeline.train ensemble ...``) as its settings and parsed flags, exactly as the command reads it."""
    if module == "pipeline.distill":
        args = distillation_parser(prog="python -m pipeline.distill").parse_args(argv)
        return distillation(args), args
    if module != "pipeline.train" or not argv or argv[0] not in ("teacher", "ensemble"):
        raise PipelineError(f"a build stage runs pipeline.distill or pipeline.train teacher|ensemble, "
                            f"not {module} {' '.join(argv)}")
    parser = argparse.ArgumentParser(prog=f"python -m pipeline.train {argv[0]}")
    if argv[0] == "ensemble":
        add_ensemble_args(parser)
        args = parser.parse_args(argv[1:])
        return ensemble_fit(args), args
    add_teacher_args(parser)
    args = parser.parse_args(argv[1:])
    return teacher_training(args), args
