"""The training loop shared by teacher fine-tuning and distillation: Hugging Face's ``Trainer``.

Using the stock ``Trainer`` keeps ``torchrun``/accelerate multi-GPU, mixed precision,
checkpointing and ``--resume`` working unchanged. What is ours: the batches (groups of one
relevant passage and its negatives, or plain passages for LM distillation) and the loss, a
weighted sum of

- a label loss on the groups (softmax cross-entropy or pointwise BCE),
- a score loss against the teacher's cached scores (KL with temperature, MSE, Margin-MSE),
- layer losses against a teacher model run alongside (hidden states and attention maps).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase, Trainer, TrainingArguments

from pipeline.common.atomic import write_json
from pipeline.common.errors import PipelineError
from pipeline.common.provenance import record
from pipeline.common.tokens import pair_tokens, token_counts
from pipeline.training import losses
from pipeline.training.examples import Group
from pipeline.training.initialise import encoder

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the collator tokenizes in the training loop


@dataclass
class LossConfig:
    """Which losses, with which weights; saved with every model."""

    label_loss: str | None = "softmax-ce"
    label_weight: float = 1.0
    score_loss: str | None = None
    score_weight: float = 1.0
    temperature: float = 1.0
    hidden_weight: float = 0.0
    attention_weight: float = 0.0
    mapping: list[int] = field(default_factory=list)


@dataclass
class Schedule:
    """Optimisation settings (the Hugging Face ``TrainingArguments`` we set)."""

    epochs: float = 1.0
    max_steps: int = -1
    batch_groups: int = 8
    lr: float = 3e-5
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 256
    seed: int = 42
    save_steps: int = 200
    logging_steps: int = 10
    group_by_length: bool = True
    precision: str = "auto"


PRECISIONS = ("auto", "bf16", "fp32")


def cpu_has_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX-512 BF16 or AMX): then bf16 autocast is fast.

    Elsewhere (AVX2 only, say) PyTorch emulates bf16 and training gets slower, not faster.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str, cuda: bool) -> str:
    """``auto``: bf16 where the device computes it natively (a CUDA GPU that supports it, or a CPU
    with AVX-512 BF16/AMX), fp16 on other GPUs, fp32 on other CPUs."""
    if precision not in PRECISIONS:
        raise PipelineError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16() else "fp32"


class LengthGroupedSampler(torch.utils.data.Sampler):
    """Random batches of examples of similar length, so that dynamic padding pads little.

    As Hugging Face's ``get_length_grouped_indices``: shuffle, cut into mega-batches of 50
    batches, sort each by length and cut it into batches; then the batches are shuffled too, so a
    step's length (and collection) is random. Seeded by (seed, epoch): a resumed run sees the same
    order. ``batch_size`` is the global batch (all ranks), so ranks split the same order.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int) -> None:
        self.lengths, self.batch_size, self.seed, self.epoch = lengths, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        mega = 50 * self.batch_size
        batches = []
        for start in range(0, len(order), mega):
            chunk = sorted(order[start:start + mega], key=lambda i: -self.lengths[i])
            batches += [chunk[i:i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        return iter([i for b in torch.randperm(len(batches), generator=generator).tolist() for i in batches[b]])


def example_lengths(tokenizer: PreTrainedTokenizerBase, max_length: int, groups: list[Group] | None = None,
                    texts: list[str] | None = None) -> list[int]:
    """Tokens of each training example (a group: its longest pair), capped at ``max_length``.

    Each distinct query and passage is tokenized once, and a pair's length follows the rule the
    reranker batches by (:func:`pipeline.common.tokens.pair_tokens`).
    """
    if groups is None:
        return [min(n + 2, max_length) for n in token_counts(tokenizer, texts or [])]
    distinct = list(dict.fromkeys([g.query for g in groups] + [t for g in groups for t in g.texts]))
    n = dict(zip(distinct, token_counts(tokenizer, distinct), strict=True))
    return [max(pair_tokens(n[g.query], n[t], max_length) for t in g.texts) for g in groups]


class _Groups(torch.utils.data.Dataset):
    def __init__(self, groups: list[Group], teacher_scores: list[list[float]] | None) -> None:
        self.groups, self.teacher_scores = groups, teacher_scores

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, i: int) -> dict:
        item = {"group": self.groups[i]}
        if self.teacher_scores is not None:
            item["teacher_scores"] = self.teacher_scores[i]
        return item


class _Texts(torch.utils.data.Dataset):
    def __init__(self, texts: list[str]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> dict:
        return {"text": self.texts[i]}


@dataclass
class _Collator:
    tokenizer: PreTrainedTokenizerBase
    max_length: int

    def __call__(self, items: list[dict]) -> dict:
        if "text" in items[0]:
            enc = self.tokenizer([it["text"] for it in items], truncation=True, max_length=self.max_length,
                                 padding=True, return_tensors="pt")
            return dict(enc)
        groups: list[Group] = [it["group"] for it in items]
        sizes = {len(g.texts) for g in groups}
        if len(sizes) != 1:
            raise ValueError("all groups in a batch must have the same size")
        queries = [g.query for g in groups for _ in g.texts]
        passages = [t for g in groups for t in g.texts]
        enc = dict(self.tokenizer(queries, passages, truncation="only_second", max_length=self.max_length,
                                  padding=True, return_tensors="pt"))
        enc["group_size"] = torch.tensor(sizes.pop())
        if "teacher_scores" in items[0]:
            enc["teacher_scores"] = torch.tensor([it["teacher_scores"] for it in items], dtype=torch.float32)
        return enc


class DistillationModel(torch.nn.Module):
    """The model being trained plus what the loss needs: an optional frozen teacher and projection."""

    def __init__(self, model: torch.nn.Module, loss: LossConfig, teacher: torch.nn.Module | None = None,
                 projection: torch.nn.Module | None = None) -> None:
        super().__init__()
        self.model, self.loss_config, self.projection = model, loss, projection
        self._teacher = [teacher.eval().requires_grad_(False)] if teacher is not None else []  # not a submodule
        self.config = getattr(model, "config", None)

    @property
    def teacher(self) -> torch.nn.Module | None:
        return self._teacher[0] if self._teacher else None

    def forward(self, input_ids, attention_mask, token_type_ids=None, group_size=None, teacher_scores=None):
        cfg = self.loss_config
        layers = cfg.hidden_weight > 0 or cfg.attention_weight > 0
        lm = group_size is None  # plain passages: LM distillation
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:  # BERT's segments; MPNet has none
            inputs["token_type_ids"] = token_type_ids
        model = encoder(self.model) if lm else self.model
        out = model(**inputs, output_hidden_states=layers, output_attentions=cfg.attention_weight > 0)
        total = input_ids.new_zeros((), dtype=torch.float32)
        parts: dict[str, torch.Tensor] = {}
        if not lm:
            scores = out.logits[:, 0].float().view(-1, int(group_size))
            if cfg.label_loss and cfg.label_weight:
                parts["label"] = losses.LABEL_LOSSES[cfg.label_loss](scores)
                total = total + cfg.label_weight * parts["label"]
            if cfg.score_loss and cfg.score_weight:
                parts["score"] = losses.SCORE_LOSSES[cfg.score_loss](scores, teacher_scores, cfg.temperature)
                total = total + cfg.score_weight * parts["score"]
        if layers:
            teacher = self.teacher
            with torch.no_grad():
                t_out = (encoder(teacher) if lm else teacher)(**inputs, output_hidden_states=True,
                                                              output_attentions=cfg.attention_weight > 0)
            if cfg.hidden_weight:
                parts["hidden"] = losses.hidden_mse(out.hidden_states, t_out.hidden_states, cfg.mapping,
                                                    attention_mask, self.projection)
                total = total + cfg.hidden_weight * parts["hidden"]
            if cfg.attention_weight:
                parts["attention"] = losses.attention_mse(out.attentions, t_out.attentions, cfg.mapping,
                                                          attention_mask)
                total = total + cfg.attention_weight * parts["attention"]
        return {"loss": total, **{f"loss_{k}": v.detach() for k, v in parts.items()}}


class _Trainer(Trainer):
    """The Hugging Face ``Trainer``, also logging each loss term (``loss_label``, ``loss_score``,
    ``loss_hidden``, ``loss_attention``: this rank's mean since the last log) beside ``loss``."""

    def __init__(self, *args, lengths: list[int] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._terms: dict[str, list[torch.Tensor]] = {}
        self._lengths = lengths

    def _get_train_sampler(self, train_dataset=None):
        if self._lengths is None:
            return super()._get_train_sampler(train_dataset)
        return LengthGroupedSampler(self._lengths, self.args.train_batch_size * self.args.world_size,
                                    self.args.seed)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if model.training:
            for key, value in outputs.items():
                if key.startswith("loss_"):
                    self._terms.setdefault(key, []).append(value)  # read at log time: no sync per step
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs and self._terms:
            logs.update({k: torch.stack(v).float().mean().item() for k, v in self._terms.items()})
            self._terms = {}
        super().log(logs, *args, **kwargs)


def train(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, output: Path, loss: LossConfig,
          schedule: Schedule, groups: list[Group] | None = None, texts: list[str] | None = None,
          teacher_scores: list[list[float]] | None = None, teacher: torch.nn.Module | None = None,
          projection: torch.nn.Module | None = None, resume: bool = False, provenance: dict | None = None,
          callbacks: list | None = None) -> dict:
    """Train ``model`` on groups (ranking) or texts (LM distillation); save it to ``output``.

    With ``schedule.group_by_length`` (the default) each step's groups have similar token
    lengths (:class:`LengthGroupedSampler`): short CAR paragraphs are not padded to the length of
    a SciFact abstract in the same batch. Checkpoints go to ``output/checkpoints`` every
    ``save_steps`` steps; ``resume`` continues from the newest one. The final model is a normal
    Hugging Face directory (safetensors, tokenizer with ``model_max_length``) with
    ``pipeline-training.json`` recording how it was made.
    """
    wrapped = DistillationModel(model, loss, teacher, projection)
    dataset = _Groups(groups, teacher_scores) if groups is not None else _Texts(texts or [])
    cuda = torch.cuda.is_available()
    precision = resolve_precision(schedule.precision, cuda)
    args = _arguments(output, schedule, cuda, precision)
    lengths = example_lengths(tokenizer, schedule.max_length, groups, texts) if schedule.group_by_length else None
    trainer = _Trainer(model=wrapped, args=args, train_dataset=dataset, lengths=lengths,
                      data_collator=_Collator(tokenizer, schedule.max_length), callbacks=callbacks)
    saved = complete_checkpoints(output / "checkpoints") if resume else []
    result = trainer.train(resume_from_checkpoint=str(output / "checkpoints" / f"checkpoint-{max(saved)}")
                           if saved else None)
    history = [h for h in trainer.state.log_history if "loss" in h]
    summary = {"steps": trainer.state.global_step, "train_loss": result.training_loss,
               "first_logged_loss": history[0]["loss"] if history else None,
               "last_logged_loss": history[-1]["loss"] if history else None,
               "seconds": result.metrics.get("train_runtime"), "resumed_from_step": max(saved, default=None),
               "precision": precision}
    if trainer.is_world_process_zero():  # under torchrun, rank 0 saves; the others wait for it
        model.save_pretrained(output, safe_serialization=True)
        tokenizer.model_max_length = schedule.max_length
        tokenizer.save_pretrained(output)
        write_json(output / "pipeline-training.json", record(
            loss=asdict(loss), schedule=asdict(schedule), examples=len(dataset), result=summary,
            log=history, ranks=args.world_size, **(provenance or {})))
    trainer.accelerator.wait_for_everyone()
    return summary


def complete_checkpoints(folder: Path) -> list[int]:
    """Steps of the checkpoints in ``folder`` that finished saving.

    The Trainer writes a checkpoint in place and ``trainer_state.json`` last, so a kill while saving
    leaves a directory without it; such a directory is removed, and the run resumes from the
    previous checkpoint, which the Trainer deletes only after the next one is complete.
    """
    steps = []
    for path in folder.glob("checkpoint-*"):
        if not path.name.split("-")[1].isdigit():
            continue
        if (path / "trainer_state.json").is_file():
            steps.append(int(path.name.split("-")[1]))
        else:
            shutil.rmtree(path)
    return sorted(steps)


def _arguments(output: Path, schedule: Schedule, cuda: bool, precision: str) -> TrainingArguments:
    return TrainingArguments(
        output_dir=str(output / "checkpoints"), per_device_train_batch_size=schedule.batch_groups,
        learning_rate=schedule.lr, num_train_epochs=schedule.epochs, max_steps=schedule.max_steps,
        warmup_steps=schedule.warmup, weight_decay=schedule.weight_decay, lr_scheduler_type="linear",
        logging_steps=schedule.logging_steps, save_steps=schedule.save_steps, save_total_limit=1, seed=schedule.seed,
        data_seed=schedule.seed, bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=not cuda,
        remove_unused_columns=False, report_to=[], dataloader_num_workers=0, disable_tqdm=False)
