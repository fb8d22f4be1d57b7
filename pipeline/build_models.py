"""``python -m pipeline.build_models`` (``make models``): the default teacher and students, built in stages.

The recipe, for the embedded collections on a CPU (every stage is a plain ``pipeline.train`` or
``pipeline.distill`` command, printed before it runs, and run from those very flags):

1. ``teacher-stage1``: the packaged all-MiniLM-L6-v2 (6 layers; the 12-layer stacked teacher was
   not better on this budget, see ``models/README.md``) fine-tuned on CAR test200 and SciFact
   train groups (1 relevant + 3 BM25 negatives), 128 tokens, lr 2e-4, one epoch;
2. ``teacher``: stage 1 continued on SciFact alone at 256 tokens (its abstracts are long), lr 1e-4,
   two epochs;
3. ``teacher-ensemble``: that cross-encoder, the packaged all-mpnet-base-v2 and all-MiniLM-L6-v2 as
   bi-encoders and BM25, raw scores summed with the weights fitted on TREC DL 2019 and SciFact dev
   (1, 2, 0.25, 1; given, so a machine without DL 2019 builds the same teacher);
4. ``student4L`` and ``student6L`` (both shipped: a fresh clone has them): ``ranker`` distillation from the
   ensemble (the cross-encoder member's embeddings and layers 2, 3, 5, 6, or all six, then KL on the
   ensemble's summed score at temperature 3; no layer losses), on the groups of both collections,
   256 tokens, lr 2e-4, batches of similar length; stored in fp16, as shipped. The first built
   scores every training pair by each member (the cross-encoder over 14,820 pairs and
   all-mpnet-base-v2 over 8,286 texts are most of it, and its time is counted in that stage's
   estimate: student6L's when the shipped student4L is reused); the second reuses those scores.
   On the dev sets this beat ``lm+ranker`` from the same ensemble (``models/README.md``).

The teacher stages keep batches of random lengths (``--no-group-by-length``): that is how the
measured teacher was trained, so the build reproduces it.

A stage whose model is complete (``pipeline-training.json`` written last) is reused; an
interrupted stage resumes from its last checkpoint. Before anything runs it prints an estimate of
each stage's time on this machine: the cost of the same stage on the 2-core development CPU
(each stage measured; student6L's and the training pairs' scores on a faster Xeon, scaled back),
scaled by this machine's fp32 matrix-multiply rate relative to that CPU's (151 GFLOP/s).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.common.cli import add_debug_flag, run_main
from pipeline.rerank.registry import MODELS
from pipeline.training.recipe import REFERENCE_GFLOPS, build, complete, gemm_gflops, planned_minutes, recipe


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.build_models", description="Build models/teacher, student6L and student4L.",
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=MODELS, help="where to build (default: models/)")
    parser.add_argument("--only", nargs="+", choices=[s.name for s in recipe(MODELS)],
                        help="build only these stages (their inputs must exist)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the estimate, build nothing")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    stages = [s for s in recipe(args.models, args.seed) if not args.only or s.name in args.only]
    todo = [s for s in stages if not complete(s.output)]
    import torch

    gpu = torch.cuda.is_available()
    scale = REFERENCE_GFLOPS / gemm_gflops()
    print("plan (estimates: reference CPU minutes x " + f"{scale:.2f}, this machine's GEMM rate)" +
          (" — a GPU is present: expect far less" if gpu else ""))
    minutes = dict(zip((s.name for s in todo), planned_minutes(todo), strict=True))
    for s in stages:
        state = f"~{minutes[s.name] * scale:.0f} min" if s.name in minutes else "done, reused"
        print(f"  {s.name:<17} {state:<14} python -m {s.module} {' '.join(s.argv)}")
    print(f"total to build: ~{sum(minutes.values()) * scale:.0f} min", flush=True)
    if args.dry_run or not todo:
        return 0
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    for s in todo:
        t0 = time.perf_counter()
        print(f"\n== {s.name}: python -m {s.module} {' '.join(s.argv)} --resume", flush=True)
        build(s)
        print(f"== {s.name} done in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    print("built: " + ", ".join(str(s.output) for s in todo), file=sys.stderr)
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
