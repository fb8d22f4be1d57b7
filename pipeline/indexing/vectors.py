"""A bi-encoder's text vectors, kept on disk in chunks: a killed pass keeps what it finished, and a
text encoded once serves every later pass (another sample of training negatives, a rerank of the
same passages).

A store belongs to one encoder (its path and weights' times), one max length and one dtype; a
chunk file holds the SHA-1 of each text and its vector, written atomically. Texts are encoded in
order of length, a chunk at a time, so a resumed pass starts where the last finished chunk ended.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pipeline.common.paths import MODEL_CACHE
from pipeline.common.provenance import weights_mtimes

CHUNK_TEXTS = 512


def store_dir(encoder: Path, max_length: int | None, dtype: str) -> Path:
    """Where ``encoder``'s vectors at ``max_length`` tokens in ``dtype`` are kept."""
    key = hashlib.sha256(json.dumps([str(encoder.resolve()), weights_mtimes(encoder), max_length, dtype]).encode())
    return MODEL_CACHE / f"vectors.{encoder.name}.{key.hexdigest()[:16]}"


def text_key(text: str) -> str:
    """A text's name in a store."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def load(store: Path) -> dict[str, np.ndarray]:
    """Every vector the store holds, by text key (files of unfinished writes are not chunks)."""
    return _read(sorted(store.glob("chunk-*.npz")))


def _read(chunks: Sequence[Path]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for chunk in chunks:
        with np.load(chunk) as data:
            out.update(zip(data["keys"].tolist(), data["vectors"], strict=True))
    return out


def vectors(encode: Callable[[Sequence[str], Callable[[int], None] | None], np.ndarray], texts: Sequence[str],
            store: Path, lengths: Callable[[Sequence[str]], Sequence[int]],
            on_batch: Callable[[int], None] | None = None, chunk_texts: int = CHUNK_TEXTS) -> dict[str, np.ndarray]:
    """The vector of every text, by text: those in ``store`` read, the rest encoded by ``encode`` in
    chunks of ``chunk_texts`` (shortest first, by ``lengths`` of the texts not held), each chunk
    saved before the next."""
    chunks = sorted(store.glob("chunk-*.npz"))
    held = _read(chunks)
    keys = [text_key(t) for t in texts]
    if on_batch is not None:
        on_batch(sum(k in held for k in dict.fromkeys(keys)))
    missing = list({k: i for i, k in enumerate(keys) if k not in held}.values())
    length = dict(zip(missing, lengths([texts[i] for i in missing]), strict=True)) if missing else {}
    todo = sorted(missing, key=length.__getitem__)
    store.mkdir(parents=True, exist_ok=True)
    n = len(chunks)
    for start in range(0, len(todo), chunk_texts):
        part = todo[start:start + chunk_texts]
        encoded = encode([texts[i] for i in part], on_batch)
        chunk_keys = np.array([keys[i] for i in part])
        staging = store / f".chunk-{n:06d}.{os.getpid()}.npz"
        np.savez(staging, keys=chunk_keys, vectors=encoded)
        os.replace(staging, store / f"chunk-{n:06d}.npz")
        held.update(zip(chunk_keys.tolist(), encoded, strict=True))
        n += 1
    return {t: held[k] for t, k in zip(texts, keys, strict=True)}
