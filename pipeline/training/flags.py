"""The training flags ``pipeline.train`` and ``pipeline.distill`` share, and what they turn into: the
training groups of every ``--dataset`` and the optimisation :class:`~pipeline.training.trainer.Schedule`."""

from __future__ import annotations

import argparse
import random

from pipeline.collection.datasets import get_dataset
from pipeline.common import distributed
from pipeline.training.examples import Group, bm25_groups
from pipeline.training.trainer import PRECISIONS, Schedule


def add_schedule_args(parser: argparse.ArgumentParser, epochs: float, lr: float) -> None:
    """Flags shared by ``pipeline.train`` and ``pipeline.distill``."""
    group = parser.add_argument_group("optimisation")
    group.add_argument("--dataset", action="append", help="training dataset(s) (repeatable; default: car-test200 "
                                                          "and scifact)")
    group.add_argument("--split", default="train", help="split to train on (default: train)")
    group.add_argument("--negatives", type=int, default=7, help="BM25 negatives per group (default: 7)")
    group.add_argument("--bm25-depth", type=int, default=100, help="sample negatives from this BM25 depth")
    group.add_argument("--epochs", type=float, default=epochs, help=f"passes over the groups (default: {epochs})")
    group.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (overrides --epochs)")
    group.add_argument("--batch-groups", type=int, default=4, help="groups per step (default: 4)")
    group.add_argument("--lr", type=float, default=lr, help=f"peak learning rate (default: {lr})")
    group.add_argument("--warmup", type=float, default=0.1, help="warm-up fraction of the steps (default: 0.1)")
    group.add_argument("--max-length", type=int, default=256, help="max tokens per pair (default: 256)")
    group.add_argument("--limit-groups", type=int, help="use only this many groups (smoke tests)")
    group.add_argument("--seed", type=int, default=42)
    group.add_argument("--save-steps", type=int, default=200, help="checkpoint every N steps")
    group.add_argument("--logging-steps", type=int, default=10, help="log the loss every N steps (default: 10)")
    group.add_argument("--no-group-by-length", dest="group_by_length", action="store_false",
                       help="batches of random lengths (default: each step's groups have similar token lengths)")
    group.add_argument("--precision", choices=PRECISIONS, default="auto",
                       help="auto (default): bf16 where the GPU or CPU computes it natively (AVX-512 BF16, AMX), "
                            "else fp32 on CPUs and fp16 on GPUs")
    group.add_argument("--resume", action="store_true", help="continue from the last checkpoint in the output")


def training_groups(args: argparse.Namespace) -> list[Group]:
    """Groups from every ``--dataset``, shuffled together with the seed (under ``torchrun``, rank 0
    searches and caches them first, and the other ranks read its cache)."""
    groups = []
    with distributed.world().main_first():
        for name in args.dataset or ["car-test200", "scifact"]:
            groups += bm25_groups(get_dataset(name), args.split, negatives=args.negatives, depth=args.bm25_depth,
                                  seed=args.seed)
    random.Random(args.seed).shuffle(groups)
    return groups[: args.limit_groups] if args.limit_groups else groups


def schedule(args: argparse.Namespace) -> Schedule:
    """The optimisation flags as a :class:`Schedule`."""
    return Schedule(epochs=args.epochs, max_steps=args.max_steps, batch_groups=args.batch_groups, lr=args.lr,
                    warmup=args.warmup, max_length=args.max_length, seed=args.seed, save_steps=args.save_steps,
                    logging_steps=args.logging_steps, group_by_length=args.group_by_length,
                    precision=args.precision)
