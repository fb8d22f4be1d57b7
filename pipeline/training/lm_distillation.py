"""LM distillation (TinyBERT's general distillation, the paper's "LM distill"): a student that
imitates the pretrained LM's layers on collection text, before it learns to rank.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.common import distributed
from pipeline.common.paths import MODEL_CACHE
from pipeline.common.pretrained import minilm
from pipeline.training.data import TrainingData
from pipeline.training.initialise import is_the_lm, load_ranker, student
from pipeline.training.trainer import LossConfig, Schedule, train


def lm_distilled(data: TrainingData, layers: int, hidden: int | None, tokenizer, lm: Path | None = None,
                 texts: int = 2000, save_steps: int = 200, resume: bool = False) -> Path:
    """A ``layers``-deep student that imitated the pretrained LM (default: the packaged MiniLM) on
    ``texts`` passages of ``data``'s collections (TinyBERT's general distillation), cached in
    models/.cache by its shape, datasets, seed and number of texts."""
    from transformers import AutoConfig, BertModel

    lm_path = lm or minilm()
    width = hidden or AutoConfig.from_pretrained(lm_path).hidden_size
    out = MODEL_CACHE / f"lm-distilled.{layers}L.{width}H.{data.label}.s{data.seed}.n{texts}"
    if (out / "config.json").is_file():  # cached: neither the LM nor the cut student is built
        return out
    lm = load_ranker(lm_path, attn="eager")
    init, mapping = student(lm, layers, hidden, seed=data.seed)
    if is_the_lm(lm.config, layers, hidden):
        print(f"LM distillation skipped: a {layers}-layer student at the LM's width is the LM itself")
        with distributed.world().main_first():
            if not (out / "config.json").is_file():
                init.save_pretrained(out)
                tokenizer.save_pretrained(out)
        return out
    projection = None if hidden in (None, lm.config.hidden_size) else \
        torch.nn.Linear(hidden, lm.config.hidden_size)
    teacher = BertModel.from_pretrained(lm_path, attn_implementation="eager")
    init = init.to(torch.float32)
    init.config._attn_implementation = "eager"
    loss = LossConfig(label_loss=None, hidden_weight=1.0, attention_weight=1.0, mapping=mapping)
    sched = Schedule(epochs=1.0, batch_groups=16, lr=1e-4, warmup=0.1, max_length=128, seed=data.seed,
                     save_steps=save_steps, group_by_length=False)  # as the measured students' LM stage
    print(f"LM distillation: {layers}L student <- {lm_path.name} (mapping {mapping}) on {texts} passages")
    train(init, tokenizer, out, loss, sched, texts=data.lm_texts(texts), teacher=teacher,
          projection=projection, resume=resume, provenance={"stage": "lm-distillation", "lm": str(lm_path)})
    return out


def same_tokenizer(a, b) -> bool:
    """True when two tokenizers turn text into the same ids (same vocabulary and special tokens)."""
    probe = "The cell's membrane, 42 proteins: an example [query] passage."
    return a.get_vocab() == b.get_vocab() and a(probe, probe)["input_ids"] == b(probe, probe)["input_ids"]
