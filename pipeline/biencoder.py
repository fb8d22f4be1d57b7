"""A bi-encoder: texts to vectors, the way the model's sentence-transformers config says.

Any sentence-transformers directory (``modules.json``, ``1_Pooling/config.json``,
``sentence_bert_config.json``) or plain Hugging Face encoder directory (then: mean pooling, no
normalisation, max length from the tokenizer) works; the default is the packaged
all-MiniLM-L6-v2 (mean pooling, L2 normalisation, 256 tokens). Texts are tokenized once, sorted
by length and batched by padded tokens, as in :mod:`pipeline.crossencoder`; weights via
safetensors only, no remote code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from pipeline.crossencoder import available_cores
from pipeline.errors import PipelineError, first_line

POOLING = ("mean", "cls", "max")
BATCH_TOKENS = 8192


def default_encoder() -> Path:
    """The packaged all-MiniLM-L6-v2 directory."""
    from pipeline.pretrained import minilm

    return minilm()


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as err:
        raise PipelineError(f"{path}: unreadable ({err})") from None


class BiEncoder:
    """Encodes texts into (normalised, if the model says so) vectors."""

    def __init__(self, path: str | Path | None = None, device: str = "cpu", dtype: str = "fp32",
                 max_length: int | None = None, batch_size: int = 256) -> None:
        from safetensors import SafetensorError
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        self.path = Path(path) if path else default_encoder()
        if not (self.path / "config.json").is_file():
            raise PipelineError(f"{self.path}: not a Hugging Face model directory (no config.json)")
        if not any(self.path.glob("*.safetensors")):
            raise PipelineError(f"{self.path} has no model.safetensors (pickle weights are not loaded)")
        if dtype not in ("fp32", "bf16", "fp16"):
            raise PipelineError(f"unknown dtype {dtype!r} for encoding; choose fp32, bf16 or fp16")
        if dtype == "fp16" and device == "cpu":
            raise PipelineError("fp16 encoding is for GPUs; on the CPU use fp32 or bf16")
        modules = _read_json(self.path / "modules.json")
        types = [m.get("type", "") for m in modules] if isinstance(modules, list) else []
        pooling = _read_json(self.path / "1_Pooling" / "config.json")
        self.pooling = ("cls" if pooling.get("pooling_mode_cls_token") else
                        "max" if pooling.get("pooling_mode_max_tokens") else "mean")
        self.normalize = any(t.endswith("Normalize") for t in types)
        st_config = _read_json(self.path / "sentence_bert_config.json")
        hf_logging.set_verbosity_error()
        if device == "cpu":
            torch.set_num_threads(available_cores())
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            model = AutoModel.from_pretrained(self.path, use_safetensors=True, trust_remote_code=False)
        except (OSError, ValueError, RuntimeError, SafetensorError) as err:
            raise PipelineError(f"cannot load the encoder in {self.path}: {first_line(err)}") from None
        limit = getattr(model.config, "max_position_embeddings", 512)
        self.max_length = min(max_length or st_config.get("max_seq_length") or
                              min(self.tokenizer.model_max_length, 512), limit)
        self.dim = model.config.hidden_size
        self.device = torch.device(device)
        half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
        self.model = (model.to(half) if half else model).to(self.device).eval()
        self.dtype = dtype
        self.batch_size = batch_size

    def describe(self) -> dict:
        """What produced the vectors, for manifests."""
        return {"path": str(self.path), "pooling": self.pooling, "normalize": self.normalize,
                "max_length": self.max_length, "dim": self.dim, "dtype": self.dtype}

    def encode(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """``(len(texts), dim)`` float32 vectors, in input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=False,
                             return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        lengths = np.array([len(x) for x in ids])
        order = np.argsort(lengths, kind="stable")
        start = 0
        with torch.inference_mode():
            while start < len(order):
                end = start + 1
                while (end < len(order) and end - start < self.batch_size
                       and (end - start + 1) * lengths[order[end]] <= BATCH_TOKENS):
                    end += 1
                idx = order[start:end]
                width = int(lengths[idx].max())
                input_ids = np.full((len(idx), width), self.tokenizer.pad_token_id or 0, dtype=np.int64)
                mask = np.zeros((len(idx), width), dtype=np.int64)
                for row, i in enumerate(idx):
                    input_ids[row, : lengths[i]] = ids[i]
                    mask[row, : lengths[i]] = 1
                m = torch.from_numpy(mask).to(self.device)
                hidden = self.model(input_ids=torch.from_numpy(input_ids).to(self.device),
                                    attention_mask=m).last_hidden_state.float()
                out[idx] = self._pool(hidden, m).cpu().numpy()
                if on_batch is not None:
                    on_batch(len(idx))
                start = end
        return out

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        if self.pooling == "cls":
            vec = hidden[:, 0]
        elif self.pooling == "max":
            vec = hidden.masked_fill(weights == 0, -1e9).max(dim=1).values
        else:
            vec = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(vec, dim=-1) if self.normalize else vec
