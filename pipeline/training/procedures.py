"""The paper's four ways to make a small ranker, and where each one's student is saved.

- ``finetune``: a small LM fine-tuned on the labels (the baseline);
- ``lm-then-finetune``: the LM distilled from the teacher's LM first (TinyBERT's general
  distillation), then fine-tuned on the labels;
- ``ranker``: the student learns the teacher's scores;
- ``lm+ranker``: LM distillation, then the teacher's scores and intermediate layers (the paper's
  proper procedure, and the shipped students').
"""

from __future__ import annotations

from pathlib import Path

PROCEDURES = ("finetune", "lm-then-finetune", "ranker", "lm+ranker")


def student_dir(models: Path, layers: int, procedure: str) -> Path:
    """Where ``pipeline.distill`` saves a student: ``student<L>L`` for lm+ranker, else ``student<L>L-<procedure>``."""
    return models / (f"student{layers}L" if procedure == "lm+ranker" else f"student{layers}L-{procedure}")
