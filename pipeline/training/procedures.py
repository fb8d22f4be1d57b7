"""The paper's four ways to make a small ranker, where each one's student is saved, and
:func:`distil`, which runs one of them.

- ``finetune``: a small LM fine-tuned on the labels (the baseline);
- ``lm-then-finetune``: the LM distilled from the teacher's LM first (TinyBERT's general
  distillation), then fine-tuned on the labels;
- ``ranker``: the student learns the teacher's scores;
- ``lm+ranker``: LM distillation, then the teacher's scores and intermediate layers (the paper's
  proper procedure, and the shipped students').
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.common.errors import PipelineError
from pipeline.common.paths import MODELS

if TYPE_CHECKING:  # torch and transformers load only when a student is made
    from pipeline.training.data import TrainingData
    from pipeline.training.trainer import Schedule

PROCEDURES = ("finetune", "lm-then-finetune", "ranker", "lm+ranker")


def student_dir(models: Path, layers: int, procedure: str) -> Path:
    """Where ``pipeline.distill`` saves a student: ``student<L>L`` for lm+ranker, else ``student<L>L-<procedure>``."""
    return models / (f"student{layers}L" if procedure == "lm+ranker" else f"student{layers}L-{procedure}")


@dataclass(frozen=True)
class Distillation:
    """How one student is made (``python -m pipeline.distill --help`` explains each setting)."""

    layers: int
    procedure: str = "lm+ranker"
    teacher: Path = MODELS / "teacher"
    lm: Path | None = None
    lm_texts: int = 2000
    hidden: int | None = None
    score_loss: str = "kl"
    temperature: float = 1.0
    label_weight: float | None = None
    hidden_weight: float = 1.0
    attention_weight: float = 1.0
    init: Path | None = None
    student_from: str = "teacher"
    output: Path | None = None

    @property
    def needs_teacher(self) -> bool:
        return self.procedure in ("ranker", "lm+ranker")

    @property
    def destination(self) -> Path:
        """``output``, or the procedure's default place under models/."""
        return self.output or student_dir(MODELS, self.layers, self.procedure)


def distil(settings: Distillation, data: TrainingData, schedule: Schedule, resume: bool = False) -> dict:
    """Make the student ``settings`` describes from ``data``'s groups and save it; the trainer's
    summary, with ``output`` and ``groups``. Bad settings (no teacher, a checkpoint of another
    depth, tokenizers a layer loss cannot compare) raise :class:`PipelineError` before any training."""
    import torch
    from transformers import AutoTokenizer, set_seed

    from pipeline.common.pretrained import minilm
    from pipeline.rerank.ensemble import is_ensemble, read_ensemble
    from pipeline.training.ensemble_fit import group_scores
    from pipeline.training.initialise import load_ranker, student, uniform_mapping
    from pipeline.training.lm_distillation import lm_distilled, same_tokenizer
    from pipeline.training.teacher_scores import teacher_scores
    from pipeline.training.trainer import LossConfig, train

    s, layers = settings, settings.layers
    if s.procedure not in PROCEDURES:
        raise PipelineError(f"unknown procedure {s.procedure!r}; choose from {', '.join(PROCEDURES)}")
    set_seed(schedule.seed)  # before any model is built: fresh heads and projections come from the seed
    if s.init is not None:
        if not (s.init / "config.json").is_file():
            raise PipelineError(f"--init {s.init} is not a model directory (no config.json)")
        init_layers = json.loads((s.init / "config.json").read_text()).get("num_hidden_layers")
        if init_layers != layers:
            raise PipelineError(f"--init {s.init} has {init_layers} layers, not the student's {layers}")
    if s.needs_teacher and not ((s.teacher / "config.json").is_file() or is_ensemble(s.teacher)):
        raise PipelineError(f"no teacher at {s.teacher}; build it with `python -m pipeline.train teacher`")
    members = read_ensemble(s.teacher) if s.needs_teacher and is_ensemble(s.teacher) else None
    layer_teacher = s.teacher  # whose layers the student is cut from or imitates
    if members is not None:
        cross = [m.location for m in members if m.kind == "cross-encoder"]
        if not cross and (s.procedure == "lm+ranker" or s.student_from == "teacher"):
            raise PipelineError(f"the ensemble {s.teacher} has no cross-encoder member whose layers a student "
                                f"could imitate; use --procedure ranker --student-from lm")
        layer_teacher = cross[0] if cross else None
    lm = s.lm or minilm()
    t0 = time.perf_counter()
    from_lm = s.procedure != "ranker" or s.student_from == "lm"
    tokenizer = AutoTokenizer.from_pretrained(s.init or (lm if from_lm or not s.needs_teacher else layer_teacher))
    if s.procedure == "lm+ranker" and not same_tokenizer(tokenizer, AutoTokenizer.from_pretrained(layer_teacher)):
        raise PipelineError(f"lm+ranker compares hidden states token by token, but {layer_teacher} tokenizes "
                            f"differently from the student; use --procedure ranker --student-from lm (scores only)")
    groups = data.groups()
    label_weight = s.label_weight if s.label_weight is not None else (0.0 if s.needs_teacher else 1.0)

    def lm_student() -> Path:
        return lm_distilled(data, layers, s.hidden, tokenizer, lm=lm, texts=s.lm_texts,
                            save_steps=schedule.save_steps, resume=resume)

    teacher = projection = scores = None
    if not s.needs_teacher:
        if s.procedure == "finetune" and s.init is None:
            model, mapping = student(load_ranker(lm), layers, s.hidden, seed=schedule.seed)
        else:
            model = load_ranker(s.init or lm_student())
            mapping = uniform_mapping(layers, model.config.num_hidden_layers)
        loss = LossConfig(label_loss="softmax-ce", label_weight=label_weight, mapping=mapping)
    else:
        scores = group_scores(members, groups, max_length=schedule.max_length) if members is not None else \
            teacher_scores(s.teacher, groups, max_length=schedule.max_length)
        attn = "eager" if s.procedure == "lm+ranker" else "sdpa"
        teacher_model = load_ranker(layer_teacher or lm, attn=attn)
        mapping = uniform_mapping(layers, teacher_model.config.num_hidden_layers)
        if s.init is not None:
            model = load_ranker(s.init, attn=attn)
        elif s.procedure == "ranker":
            source = load_ranker(lm) if s.student_from == "lm" else teacher_model
            model, mapping = student(source, layers, s.hidden, seed=schedule.seed)
        else:
            model = load_ranker(lm_student(), attn="eager")
            if model.config.hidden_size == teacher_model.config.hidden_size:
                # the last layer is pulled onto the teacher's, whose pooler and head then read it
                model.bert.pooler.load_state_dict(teacher_model.bert.pooler.state_dict())
                model.classifier.load_state_dict(teacher_model.classifier.state_dict())
        if s.procedure == "ranker":
            loss = LossConfig(label_loss="softmax-ce", label_weight=label_weight, score_loss=s.score_loss,
                              temperature=s.temperature, mapping=mapping)
        else:
            teacher = teacher_model
            if model.config.hidden_size != teacher.config.hidden_size:
                projection = torch.nn.Linear(model.config.hidden_size, teacher.config.hidden_size)
            loss = LossConfig(label_loss="softmax-ce", label_weight=label_weight, score_loss=s.score_loss,
                              temperature=s.temperature, hidden_weight=s.hidden_weight,
                              attention_weight=s.attention_weight, mapping=mapping)
    print(f"{s.procedure}: {layers}L student, {len(groups)} groups, losses {loss}")
    summary = train(model, tokenizer, s.destination, loss, schedule, groups=groups, teacher_scores=scores,
                    teacher=teacher, projection=projection, resume=resume,
                    provenance={"procedure": s.procedure, "student_layers": layers,
                                "init": str(s.init) if s.init else None,
                                "teacher": str(s.teacher) if s.needs_teacher else None,
                                "data": asdict(data)})
    return {**summary, "output": str(s.destination), "groups": len(groups),
            "wall_seconds": round(time.perf_counter() - t0, 1)}
