"""A bi-encoder: texts to vectors through sentence-transformers' ``SentenceTransformer.encode``.

Any sentence-transformers directory (``modules.json``, ``1_Pooling/config.json``,
``sentence_bert_config.json``) or plain Hugging Face encoder directory (then sentence-transformers'
default: mean pooling, no normalisation; at most 512 tokens) works, loaded from local files only;
the default is the packaged all-MiniLM-L6-v2 (mean pooling, L2 normalisation, 256 tokens). Weights
via safetensors only, no remote code. Texts are sorted by token length and batched by padded
tokens, as in :mod:`pipeline.rerank.crossencoder`, each batch encoded by ``SentenceTransformer.encode``.

Query and passage prompts (E5's ``"query: "`` and ``"passage: "``, BGE's query instruction) go
through ``encode``'s ``prompt``: the text is encoded as prompt + text. Only the prompts given here
are used; a model's own default prompt is not applied behind the caller's back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from pipeline.common.distributed import available_cores
from pipeline.common.errors import PipelineError, first_line
from pipeline.common.tokens import token_counts

BATCH_TOKENS = 8192
PLAIN_MAX_LENGTH = 512  # a plain Hugging Face directory (no sentence_bert_config.json): BERT's length


def default_encoder() -> Path:
    """The packaged all-MiniLM-L6-v2 directory."""
    from pipeline.common.pretrained import minilm

    return minilm()


class BiEncoder:
    """Encodes texts into (normalised, if the model says so) vectors, with optional query/passage prompts."""

    def __init__(self, path: str | Path | None = None, device: str = "cpu", dtype: str = "fp32",
                 max_length: int | None = None, batch_size: int = 256, query_prompt: str | None = None,
                 passage_prompt: str | None = None) -> None:
        from safetensors import SafetensorError
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling
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
        hf_logging.set_verbosity_error()
        if device == "cpu":
            torch.set_num_threads(available_cores())
        try:
            model = SentenceTransformer(str(self.path), device=device, local_files_only=True,
                                        trust_remote_code=False, model_kwargs={"use_safetensors": True})
        except KeyError as err:
            raise PipelineError(f"cannot load the encoder in {self.path}: its modules.json or a module's config "
                                f"has no {err} entry (not a sentence-transformers directory?)") from None
        except (OSError, ValueError, RuntimeError, SafetensorError) as err:
            raise PipelineError(f"cannot load the encoder in {self.path}: {first_line(err)}") from None
        model.default_prompt_name = None  # prompts are the ones given here, recorded in describe()
        pooling = next((m for m in model if isinstance(m, Pooling)), None)
        mode = pooling.pooling_mode if pooling is not None else "none"
        self.pooling = mode if isinstance(mode, str) else "+".join(mode)
        self.normalize = any(isinstance(m, Normalize) for m in model)
        encoder = model[0].auto_model
        limit = getattr(encoder.config, "max_position_embeddings", PLAIN_MAX_LENGTH)
        offset = getattr(getattr(encoder, "embeddings", None), "padding_idx", None)
        if isinstance(offset, int):  # MPNet, RoBERTa: positions count from the padding id + 1
            limit -= offset + 1
        recorded = model.max_seq_length or PLAIN_MAX_LENGTH
        if not (self.path / "sentence_bert_config.json").is_file():
            recorded = min(recorded, PLAIN_MAX_LENGTH)
        self.max_length = min(max_length or recorded, limit)
        model.max_seq_length = self.max_length
        self.dim = model.get_embedding_dimension()
        half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
        self.model = (model.to(half) if half else model).eval()
        self.tokenizer = model.tokenizer
        self.dtype = dtype
        self.batch_size = batch_size
        self.query_prompt = query_prompt or None
        self.passage_prompt = passage_prompt or None

    def describe(self) -> dict:
        """What produced the vectors, for manifests."""
        return {"path": str(self.path), "pooling": self.pooling, "normalize": self.normalize,
                "max_length": self.max_length, "dim": self.dim, "dtype": self.dtype,
                "query_prompt": self.query_prompt, "passage_prompt": self.passage_prompt}

    def encode(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None,
               prompt: str | None = None) -> np.ndarray:
        """``(len(texts), dim)`` float32 vectors of ``prompt`` + each text, in input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        prompt = prompt or None
        counted = [prompt + t for t in texts] if prompt else texts
        lengths = np.minimum(np.array(token_counts(self.tokenizer, counted)) + 2, self.max_length)
        order = np.argsort(lengths, kind="stable")
        start = 0
        while start < len(order):
            end = start + 1
            while (end < len(order) and end - start < self.batch_size
                   and (end - start + 1) * lengths[order[end]] <= BATCH_TOKENS):
                end += 1
            idx = order[start:end]
            out[idx] = self.model.encode([texts[i] for i in idx], prompt=prompt, batch_size=len(idx),
                                         show_progress_bar=False, convert_to_numpy=True)
            if on_batch is not None:
                on_batch(len(idx))
            start = end
        return out

    def encode_kept(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
        """Each text's vector (no prompt) by text, through this encoder's store on disk
        (:mod:`pipeline.indexing.vectors`): a killed pass resumes, and no text is encoded twice."""
        from pipeline.indexing import vectors

        store = vectors.store_dir(self.path, self.max_length, self.dtype)
        return vectors.vectors(self.encode, texts, store, lambda todo: token_counts(self.tokenizer, todo), on_batch)

    def encode_queries(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Query vectors: :meth:`encode` with the query prompt."""
        return self.encode(texts, on_batch, prompt=self.query_prompt)

    def encode_passages(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """Passage vectors: :meth:`encode` with the passage prompt."""
        return self.encode(texts, on_batch, prompt=self.passage_prompt)
