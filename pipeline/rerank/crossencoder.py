"""A BERT-family cross-encoder that scores (query, passage) pairs fast.

Loads any Hugging Face sequence-classification checkpoint directory: a 1-logit head scores with
its logit, a 2-logit (monoBERT) head with the log-probability of the relevant class. Input is
``[CLS] query [SEP] passage [SEP]``, truncating the passage only, up to the model's max length
(``tokenizer_config.json``'s ``model_max_length``, capped by the position embeddings; 512 by
default). Weights come from safetensors only; remote code is never run.

Speed comes from what the usual ``predict`` loops do not do:
- all pairs are tokenized once, before inference, into unpadded id arrays;
- pairs are sorted by length and batched, and each batch is padded only to its longest pair;
- inference runs under ``torch.inference_mode`` with as many threads as cores available;
- BERT models skip the last layer's work for every token but ``[CLS]`` (:mod:`pipeline.rerank.fastbert`);
- ``dtype`` ``bf16``/``fp16`` run in half precision and any batch with a non-finite score is
  recomputed in fp32; ``int8`` (CPU) runs a fused, dynamically quantized ONNX Runtime graph
  (:mod:`pipeline.rerank.onnxint8`), built once per checkpoint.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pipeline.common.distributed import available_cores
from pipeline.common.errors import PipelineError, first_line
from pipeline.rerank import fastbert
from pipeline.rerank.onnxint8 import Int8Session

DTYPES = ("fp32", "bf16", "fp16", "int8")
DEFAULT_MAX_LENGTH = 512


@dataclass
class Encoded:
    """Tokenized pairs: unpadded ids and segment ids per pair, and how many passages were cut."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray]
    truncated: int

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.input_ids), dtype=np.int64, count=len(self.input_ids))


# Padded tokens per batch on the CPU. Smaller batches keep a layer's activations in cache: on the
# 2-core development CPU a 4-layer, 384-wide model scored 5-10% more pairs/s on CAR passages
# (~128 tokens) and 20% more on SciFact abstracts (~250) with 1,024-1,536-token batches than with
# batches of 32 pairs; 64-pair batches were slower still (benchmarks/README.md).
CPU_BATCH_TOKENS = 1536


def check_model_dir(path: Path) -> None:
    """Fail with the fix if ``path`` is not a loadable safetensors checkpoint directory."""
    if not path.is_dir():
        raise PipelineError(f"no model directory at {path}")
    if not (path / "config.json").is_file():
        raise PipelineError(f"{path} has no config.json: not a Hugging Face model directory")
    if not any(path.glob("*.safetensors")):
        hint = " (it has pickle weights, which are not loaded for safety; convert them to safetensors)" \
            if any(path.glob("*.bin")) else ""
        raise PipelineError(f"{path} has no model.safetensors{hint}")


class CrossEncoder:
    """Scores (query, passage) pairs with a sequence-classification checkpoint."""

    def __init__(self, path: str | Path, device: str = "cpu", dtype: str = "fp32", batch_size: int = 32,
                 max_length: int | None = None, threads: int | None = None,
                 batch_tokens: int | None = None, allow_untrained_head: bool = False) -> None:
        from safetensors import SafetensorError
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if dtype not in DTYPES:
            raise PipelineError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
        self.path = Path(path)
        check_model_dir(self.path)
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise PipelineError("--device cuda requested but no CUDA device is available")
        if dtype == "int8" and self.device.type != "cpu":
            raise PipelineError("int8 (ONNX Runtime) runs on the CPU only; use fp16 or bf16 on a GPU")
        if dtype == "fp16" and self.device.type == "cpu":
            raise PipelineError("fp16 is for GPUs; on the CPU use bf16 or int8")
        if self.device.type == "cpu":
            torch.set_num_threads(threads or available_cores())
        hf_logging.set_verbosity_error()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            model, loading = AutoModelForSequenceClassification.from_pretrained(
                self.path, use_safetensors=True, trust_remote_code=False, torch_dtype=torch.float32,
                output_loading_info=True)
        except (OSError, ValueError, RuntimeError, SafetensorError) as err:
            raise PipelineError(f"cannot load the model in {self.path}: {first_line(err)}") from None
        fresh = sorted(k for k in loading.get("missing_keys", ()) if not k.startswith(model.base_model_prefix + "."))
        if fresh and not allow_untrained_head:
            raise PipelineError(f"{self.path} has no trained scoring head ({fresh[0]} is not in its weights: a "
                                f"bi-encoder or a bare language model?); its scores would be noise. Train it "
                                f"(python -m pipeline.train teacher --init {self.path}), pass a cross-encoder's "
                                f"directory, or add --allow-untrained-head")
        self.num_labels = model.config.num_labels
        if self.num_labels not in (1, 2):
            raise PipelineError(f"{self.path}: expected a 1-logit or 2-logit (monoBERT) head, "
                                f"got {self.num_labels} labels")
        if len(self.tokenizer) > model.config.vocab_size:
            raise PipelineError(f"{self.path}: the tokenizer has {len(self.tokenizer)} tokens but the model's "
                                f"vocabulary has {model.config.vocab_size}: they do not belong together")
        self.max_length = max_length or _recorded_max_length(self.path, model.config)
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens if batch_tokens is not None else \
            (CPU_BATCH_TOKENS if self.device.type == "cpu" else 0)
        self.dtype = dtype
        model.eval()
        self._fp32 = model.to(self.device)
        if dtype == "int8":
            self.model = Int8Session(self.path, self.tokenizer, torch.get_num_threads())
        elif dtype in ("bf16", "fp16"):
            half = torch.bfloat16 if dtype == "bf16" else torch.float16
            self.model = copy.deepcopy(model).to(half)
        else:
            self.model = model
        self.fast = fastbert.supports(model)
        self.recomputed_batches = 0

    def encode(self, queries: Sequence[str], passages: Sequence[str]) -> Encoded:
        """Tokenize pairs once: ``[CLS] q [SEP] p [SEP]``, passage cut to fit ``max_length``."""
        if len(queries) != len(passages):
            raise ValueError("queries and passages differ in length")
        if not queries:
            return Encoded([], [], 0)
        enc = self.tokenizer(list(queries), list(passages), truncation="only_second", max_length=self.max_length,
                             return_overflowing_tokens=True, stride=0, padding=False,
                             return_token_type_ids=True, return_attention_mask=False)
        ids: list[np.ndarray] = []
        types: list[np.ndarray] = []
        cut: set[int] = set()
        for row, sample in enumerate(enc["overflow_to_sample_mapping"]):
            if sample < len(ids):  # an overflow row: this pair's passage was cut
                cut.add(sample)
                continue
            x = np.asarray(enc["input_ids"][row], dtype=np.int64)
            t = np.asarray(enc["token_type_ids"][row], dtype=np.int64)
            if len(x) > self.max_length:  # the query alone is too long: keep the head, end with [SEP]
                x = np.concatenate([x[: self.max_length - 1], x[-1:]])
                t = t[: self.max_length]
                cut.add(sample)
            ids.append(x)
            types.append(t)
        return Encoded(ids, types, len(cut))

    def score_encoded(self, encoded: Encoded, on_batch: Callable[[int], None] | None = None,
                      done: dict[int, Sequence[float]] | None = None,
                      on_scores: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray:
        """Scores of encoded pairs, in their input order (float32).

        The batches are a deterministic function of the pairs, so a caller can save each batch's
        scores (``on_scores(batch number, scores)``) and, for the same pairs, pass them back as
        ``done`` to skip those batches: the result is the same as scoring everything at once.
        """
        n = len(encoded)
        scores = np.empty(n, dtype=np.float32)
        if n == 0:
            return scores
        order = np.argsort(encoded.lengths, kind="stable")
        with torch.inference_mode():
            for number, idx in enumerate(self.batches(encoded.lengths, order)):
                if done and number in done:
                    scores[idx] = done[number]
                else:
                    batch = self._pad([encoded.input_ids[i] for i in idx],
                                      [encoded.token_type_ids[i] for i in idx])
                    out = self._forward(self.model, batch)
                    if not torch.isfinite(out).all():
                        self.recomputed_batches += 1
                        out = self._forward(self._fp32, batch)
                    scores[idx] = out.float().cpu().numpy()
                    if on_scores is not None:
                        on_scores(number, scores[idx])
                if on_batch is not None:
                    on_batch(len(idx))
        return scores

    def batches(self, lengths: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
        """Consecutive runs of ``order`` (ascending length): at most ``batch_size`` pairs, and, when
        ``batch_tokens`` is set, at most that many padded tokens (rows × the longest row)."""
        out, start, n = [], 0, len(order)
        while start < n:
            end = min(start + self.batch_size, n)
            if self.batch_tokens:
                fit = start + 1
                while fit < end and (fit - start + 1) * lengths[order[fit]] <= self.batch_tokens:
                    fit += 1
                end = fit
            out.append(order[start:end])
            start = end
        return out

    def score(self, queries: Sequence[str], passages: Sequence[str]) -> np.ndarray:
        """Scores of (query, passage) pairs, in input order."""
        return self.score_encoded(self.encode(queries, passages))

    def _pad(self, ids: list[np.ndarray], types: list[np.ndarray]) -> dict[str, torch.Tensor]:
        width = max(len(x) for x in ids)
        input_ids = np.full((len(ids), width), self.tokenizer.pad_token_id or 0, dtype=np.int64)
        token_type_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, (x, t) in enumerate(zip(ids, types, strict=True)):
            input_ids[row, : len(x)] = x
            token_type_ids[row, : len(t)] = t
            mask[row, : len(x)] = 1
        batch = {"input_ids": torch.from_numpy(input_ids).to(self.device),
                 "attention_mask": torch.from_numpy(mask).to(self.device)}
        if "token_type_ids" in self.tokenizer.model_input_names:  # BERT's segments; MPNet has none
            batch["token_type_ids"] = torch.from_numpy(token_type_ids).to(self.device)
        return batch

    def _forward(self, model: torch.nn.Module | Int8Session, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if isinstance(model, Int8Session):
            logits = model(**batch)
        elif self.fast:
            logits = fastbert.logits(model, **batch)
        else:
            logits = model(**batch).logits
        if self.num_labels == 1:
            return logits[:, 0]
        return torch.log_softmax(logits.float(), dim=-1)[:, 1]


def _recorded_max_length(path: Path, config) -> int:
    """``model_max_length`` from the tokenizer config, capped by the position embeddings."""
    limit = getattr(config, "max_position_embeddings", DEFAULT_MAX_LENGTH)
    try:
        recorded = json.loads((path / "tokenizer_config.json").read_text()).get("model_max_length")
    except (OSError, json.JSONDecodeError):
        recorded = None
    if not isinstance(recorded, int) or recorded <= 0 or recorded > 100_000:
        recorded = DEFAULT_MAX_LENGTH
    return min(recorded, limit)
