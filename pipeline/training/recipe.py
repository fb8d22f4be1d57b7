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
#: the ensemble members' scores of the 14,820 training pairs (3,705 groups; each bi-encoder encodes their
#: 8,286 distinct texts): computed by the first student built, reused by the other. Measured in session
#: 18 on a Xeon that the plan scaled by 0.71: 18.2 min (cross-encoder 7.3, all-mpnet-base-v2 9.1,
#: all-MiniLM-L6-v2 1.4, BM25 0.1)
TRAINING_SCORES_MINUTES = 26
#: 464 steps each: student4L's measured on the reference CPU (session 16); student6L's on that Xeon, 53.8
#: min at the scale of 0.71 (a step ~1.4x a 4L one)
STUDENT4L_MINUTES = 55
STUDENT6L_MINUTES = 76


@dataclass
class Stage:
    """One build step: what it makes, the command, its measured minutes on the reference CPU, and
    whether the model is shipped (its weights then stored in fp16, as committed)."""

    name: str
    output: Path
    module: str
    argv: list[str]
    reference_minutes: float
    shipped: bool = False
    scores_minutes: float = 0.0  # the training pairs' teacher scores it needs, shared with other stages


def planned_minutes(todo: list[Stage]) -> list[float]:
    """Reference minutes of each stage to build: its own, and the shared training scores for the first
    of them that needs those (student6L pays for them when the shipped student4L is not rebuilt)."""
    first = next((s for s in todo if s.scores_minutes), None)
    return [s.reference_minutes + (s.scores_minutes if s is first else 0.0) for s in todo]


#: the ensemble teacher's weights, fitted on DL 2019 (its BM25 top 100) and SciFact dev (top 20)
#: by ``pipeline.train ensemble`` over the grid 0 0.1 0.25 0.5 1 2 4 (models/README.md, pilot 4);
#: given here so that a machine without DL 2019 builds the same teacher
ENSEMBLE_MEMBERS = ("cross-encoder:{teacher}", "bi-encoder:mpnet", "bi-encoder:minilm", "bm25")
ENSEMBLE_WEIGHTS = ("1", "2", "0.25", "1")


def recipe(models: Path, seed: int = 42) -> list[Stage]:
    """The stages of the default build, in order."""
    stage1, teacher = models / ".build" / "teacher-stage1", models / "teacher"
    ensemble = models / "teacher-ensemble"
    common = ["--negatives", "3", "--batch-groups", "8", "--seed", str(seed)]
    members = [a for m in ENSEMBLE_MEMBERS for a in ("--member", m.format(teacher=teacher))]
    # scores only: the ensemble's summed score at T 3 (at T 1 its targets are near one-hot, top probability 0.97)
    student = ["--procedure", "ranker", "--teacher", str(ensemble), *common, "--max-length", "256", "--lr", "2e-4",
               "--temperature", "3", "--save-steps", "50"]
    return [
        Stage("teacher-stage1", stage1, "pipeline.train",
              ["teacher", "--layers", "6", "--dataset", "car-test200", "--dataset", "scifact", *common,
               "--lr", "2e-4", "--max-length", "128", "--epochs", "1", "--no-group-by-length",
               "--output", str(stage1)], 34),
        Stage("teacher", teacher, "pipeline.train",
              ["teacher", "--layers", "6", "--init", str(stage1), "--dataset", "scifact", *common,
               "--lr", "1e-4", "--max-length", "256", "--epochs", "2", "--no-group-by-length",
               "--output", str(teacher)], 38),
        Stage("teacher-ensemble", ensemble, "pipeline.train",
              ["ensemble", *members, "--weights", *ENSEMBLE_WEIGHTS, "--output", str(ensemble)], 0),
        Stage("student4L", models / "student4L", "pipeline.distill",
              ["--student", "4L", *student, "--output", str(models / "student4L")],
              STUDENT4L_MINUTES, shipped=True, scores_minutes=TRAINING_SCORES_MINUTES),
        Stage("student6L", models / "student6L", "pipeline.distill",
              ["--student", "6L", *student, "--output", str(models / "student6L")],
              STUDENT6L_MINUTES, shipped=True, scores_minutes=TRAINING_SCORES_MINUTES),
    ]


def build(stage: Stage) -> dict:
    """Run one stage, resuming what an interrupted run of it left: its command line is parsed by the
    same flags as the command's, so the printed command and the build are one definition."""
    from pipeline.training.ensemble_fit import EnsembleFit, fit_ensemble
    from pipeline.training.flags import parse_stage, schedule, training_data
    from pipeline.training.procedures import Distillation, distil
    from pipeline.training.teacher import train_teacher

    settings, args = parse_stage(stage.module, stage.argv)
    if isinstance(settings, EnsembleFit):
        fitted, figures = fit_ensemble(settings)
        return {"output": str(settings.output), "weights": [m.weight for m in fitted], **figures}
    job = distil if isinstance(settings, Distillation) else train_teacher
    summary = job(settings, training_data(args), schedule(args), resume=True)
    if stage.shipped:
        store_half(stage.output)
    return summary


def store_half(folder: Path) -> int:
    """Rewrite ``folder``'s safetensors weights in fp16 (the shipped students: half the bytes in
    git; :class:`~pipeline.rerank.crossencoder.CrossEncoder` computes in fp32 whatever the
    storage), atomically; the number of tensors converted."""
    import torch
    from safetensors.torch import load_file, save

    from pipeline.common.atomic import atomic_open

    path = folder / "model.safetensors"
    weights = load_file(path)
    floats = {k for k, v in weights.items() if v.is_floating_point() and v.dtype != torch.float16}
    if not floats:
        return 0
    with atomic_open(path, "wb") as out:
        out.write(save({k: v.half() if k in floats else v for k, v in weights.items()}, metadata={"format": "pt"}))
    return len(floats)


def complete(path: Path) -> bool:
    """True when a training run saved its final model here (its record is written last), or an
    ensemble was written."""
    from pipeline.rerank.ensemble import is_ensemble

    return is_ensemble(path) or ((path / "pipeline-training.json").is_file() and (path / "config.json").is_file())


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
