"""The default build's stages (``make models``): what each makes, its plain ``pipeline.train`` or
``pipeline.distill`` command, and its measured minutes on the reference CPU, scaled to this
machine by its matrix-multiply rate. ``python -m pipeline.build_models`` prints them and
:func:`build` runs them.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

REFERENCE_GFLOPS = 151.0


@dataclass
class Stage:
    """One build step: what it makes, the command, and its measured minutes on the reference CPU."""

    name: str
    output: Path
    module: str
    argv: list[str]
    reference_minutes: float


def recipe(models: Path, seed: int = 42) -> list[Stage]:
    """The stages of the default build, in order."""
    stage1, teacher = models / ".build" / "teacher-stage1", models / "teacher"
    student4 = models / ".build" / "student4L-stage1"
    groups = ["--negatives", "3", "--batch-groups", "8"]
    common = [*groups, "--seed", str(seed)]
    return [
        Stage("teacher-stage1", stage1, "pipeline.train",
              ["teacher", "--layers", "6", "--dataset", "car-test200", "--dataset", "scifact", *common,
               "--lr", "2e-4", "--max-length", "128", "--epochs", "1", "--no-group-by-length",
               "--output", str(stage1)], 34),
        Stage("teacher", teacher, "pipeline.train",
              ["teacher", "--layers", "6", "--init", str(stage1), "--dataset", "scifact", *common,
               "--lr", "1e-4", "--max-length", "256", "--epochs", "2", "--no-group-by-length",
               "--output", str(teacher)], 38),
        Stage("student6L", models / "student6L", "pipeline.distill",
              ["--student", "6L", "--teacher", str(teacher), *common, "--max-length", "256", "--lr", "2e-4",
               "--output", str(models / "student6L")], 119),
        Stage("student4L-stage1", student4, "pipeline.distill",
              ["--student", "4L", "--teacher", str(teacher), *common, "--max-length", "256", "--lr", "2e-4",
               "--output", str(student4)], 75),
        # a second pass over freshly sampled negatives (seed + 1), at half the learning rate
        Stage("student4L", models / "student4L", "pipeline.distill",
              ["--student", "4L", "--init", str(student4), "--teacher", str(teacher), *groups,
               "--seed", str(seed + 1), "--max-length", "256", "--lr", "1e-4",
               "--output", str(models / "student4L")], 71),
    ]


def build(stage: Stage) -> dict:
    """Run one stage, resuming what an interrupted run of it left: its command line is parsed by the
    same flags as the command's, so the printed command and the build are one definition."""
    from pipeline.training.flags import parse_stage, schedule, training_data
    from pipeline.training.procedures import Distillation, distil
    from pipeline.training.teacher import train_teacher

    settings, args = parse_stage(stage.module, stage.argv)
    job = distil if isinstance(settings, Distillation) else train_teacher
    return job(settings, training_data(args), schedule(args), resume=True)


def complete(path: Path) -> bool:
    """True when a training run saved its final model here (its record is written last)."""
    return (path / "pipeline-training.json").is_file() and (path / "config.json").is_file()


def gemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    """This machine's fp32 matrix-multiply rate with torch (GFLOP/s)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times) / 1e9
