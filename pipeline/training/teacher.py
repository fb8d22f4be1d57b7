"""Fine-tuning the teacher cross-encoder on the training groups' labels, and optionally on a
bi-encoder's scaled cosines as soft targets (KL over each group), so that it keeps what a
web-trained ranker knows."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.common.errors import PipelineError
from pipeline.common.paths import MODELS

if TYPE_CHECKING:  # torch and transformers load only when a teacher is trained
    from pipeline.training.data import TrainingData
    from pipeline.training.trainer import Schedule


@dataclass(frozen=True)
class TeacherTraining:
    """How the teacher is made (``python -m pipeline.train teacher --help`` explains each setting)."""

    init: str | None = None
    layers: int = 12
    stacking: str = "interleave"
    loss: str = "softmax-ce"
    output: Path = MODELS / "teacher"
    soft_labels: str | None = None
    soft_weight: float = 1.0
    soft_scale: float = 20.0
    soft_max_length: int = 256


def train_teacher(settings: TeacherTraining, data: TrainingData, schedule: Schedule, resume: bool = False) -> dict:
    """Fine-tune the teacher ``settings`` describes on ``data``'s groups and save it to its output;
    the trainer's summary with ``output`` and ``groups``."""
    from transformers import AutoTokenizer, set_seed

    from pipeline.common.pretrained import minilm, packaged
    from pipeline.training.initialise import load_ranker, stacked
    from pipeline.training.teacher_scores import biencoder_scores
    from pipeline.training.trainer import LossConfig, train

    s = settings
    set_seed(schedule.seed)  # before any model is built: a fresh head's weights come from the seed
    init = packaged(s.init) if s.init else minilm()
    if not (init / "config.json").is_file():
        raise PipelineError(f"no checkpoint at {init}")
    base = load_ranker(init)
    depth = base.config.num_hidden_layers
    if s.layers < depth or s.layers % depth:
        raise PipelineError(f"--layers must be a multiple of {init}'s {depth} layers")
    model = base if s.layers == depth else stacked(init, s.layers, s.stacking)
    tokenizer = AutoTokenizer.from_pretrained(init)
    t0 = time.perf_counter()
    groups = data.groups()
    print(f"{len(groups)} groups of {data.negatives + 1}; training a {s.layers}-layer teacher from {init}")
    loss, scores, encoder = LossConfig(label_loss=s.loss), None, None
    if s.soft_labels is not None:
        encoder = packaged(s.soft_labels)
        scores = biencoder_scores(encoder, groups, scale=s.soft_scale, max_length=s.soft_max_length)
        loss = LossConfig(label_loss=s.loss, score_loss="kl", score_weight=s.soft_weight)
    summary = train(model, tokenizer, s.output, loss, schedule, groups=groups, teacher_scores=scores,
                    resume=resume, provenance={"init": str(init), "layers": s.layers,
                                               "soft_labels": str(encoder) if encoder else None,
                                               "soft_scale": s.soft_scale if encoder else None,
                                               "stacking": s.stacking if s.layers != depth else None,
                                               "data": asdict(data),
                                               "examples_s": round(time.perf_counter() - t0, 1)})
    return {**summary, "output": str(s.output), "groups": len(groups)}
