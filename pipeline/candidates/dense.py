"""The dense first stage: a faiss index of bi-encoder vectors, built resumably, searched like BM25.

``indexes/<dataset>.<encoder>/`` holds ``index.faiss``, ``docids.txt`` and the manifest
``pipeline-dense-index.json`` (encoder, pooling, normalisation, max length, query and passage
prompts, index type and parameters, timings, versions). The build encodes the collection in
shards of ``shard_size`` documents kept in a staging directory beside the target, so a killed
build resumes from the last finished shard; the staging directory becomes the index by a rename
once complete. The index is an exact inner-product ``IndexFlatIP`` by default, or
``IndexHNSWFlat`` (``--hnsw M``) with its ``efConstruction`` and ``efSearch`` recorded.

Passages are encoded with the encoder's passage prompt and the queries searched with its query
prompt (E5's ``"passage: "``/``"query: "``); both are recorded, an index is not reused under other
prompts, and a search with another passage prompt than the index was built with is refused.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.collection.corpora import Doc
from pipeline.collection.topics import Topics
from pipeline.common.atomic import atomic_open, write_json
from pipeline.common.errors import PipelineError
from pipeline.common.locks import exclusive
from pipeline.common.provenance import record
from pipeline.indexing.biencoder import BiEncoder, default_encoder
from pipeline.indexing.fingerprint import describe, source_name
from pipeline.runfiles.trec import Run

MANIFEST = "pipeline-dense-index.json"


def encoder_name(path: Path | None) -> str:
    """The name an encoder gives its index directory: ``all-MiniLM-L6-v2`` for the packaged default."""
    if path is None or Path(path).resolve() == default_encoder().resolve():
        return "all-MiniLM-L6-v2"
    return Path(path).name


def read_dense_manifest(index: Path) -> dict | None:
    """The manifest of a complete dense index, or None."""
    try:
        return json.loads((index / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def built_prompts(manifest: dict) -> dict[str, str | None]:
    """The query and passage prompts a dense index was built with (none before prompts were recorded)."""
    enc = manifest["encoder"]
    return {"query_prompt": enc.get("query_prompt"), "passage_prompt": enc.get("passage_prompt")}


def check_reuse(index: Path, manifest: dict, query_prompt: str | None, passage_prompt: str | None) -> None:
    """Refuse to reuse the complete ``index`` when it was built with other prompts than these."""
    wanted = {"query_prompt": query_prompt or None, "passage_prompt": passage_prompt or None}
    if built_prompts(manifest) != wanted:
        raise PipelineError(f"dense index {index} was built with {_show(built_prompts(manifest))}, not "
                            f"{_show(wanted)}; --force rebuilds it, or give it another --index")


def _show(prompts: dict[str, str | None]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v!r}" for k, v in prompts.items())


def build_dense_index(docs: Sequence[Doc], target: Path, encoder: BiEncoder, source: dict, shard_size: int = 2048,
                      hnsw_m: int | None = None, ef_construction: int = 200, ef_search: int = 128,
                      progress: bool = True, empty_documents: Sequence[str] = ()) -> dict:
    """Encode ``docs`` and write the faiss index at ``target`` (reused when complete); returns the manifest.

    The manifest records which collection ``docs`` are (:mod:`pipeline.indexing.fingerprint`) and the ids of
    the empty documents the caller left out. Passages are encoded with the encoder's passage prompt.
    """
    import faiss

    existing = read_dense_manifest(target)
    if existing is not None:
        check_reuse(target, existing, encoder.query_prompt, encoder.passage_prompt)
        return existing
    with exclusive(target, "built"):
        staging = target.parent / f".{target.name}.building"
        plan = {"docids": hashlib.sha256("\n".join(d.id for d in docs).encode()).hexdigest(),
                "encoder": encoder.describe(), "shard_size": shard_size}
        if read_dense_manifest(staging) is not None or _read_plan(staging) != plan:
            shutil.rmtree(staging, ignore_errors=True)  # another build's leftovers: start over
        (staging / "shards").mkdir(parents=True, exist_ok=True)
        write_json(staging / "plan.json", plan)
        t0 = time.perf_counter()
        n_shards = (len(docs) + shard_size - 1) // shard_size
        resumed = 0
        with tqdm(total=len(docs), desc="encode", unit=" docs", disable=not progress) as bar:
            for i in range(n_shards):
                shard = staging / "shards" / f"{i:05d}.npy"
                part = docs[i * shard_size:(i + 1) * shard_size]
                if shard.is_file():
                    resumed += len(part)
                    bar.update(len(part))
                    continue
                vectors = encoder.encode_passages([d.contents for d in part], on_batch=bar.update)
                with atomic_open(shard, "wb") as f:
                    np.save(f, vectors)
        encode_s = time.perf_counter() - t0
        vectors = np.concatenate([np.load(staging / "shards" / f"{i:05d}.npy") for i in range(n_shards)]) \
            if n_shards else np.zeros((0, encoder.dim), dtype=np.float32)
        t1 = time.perf_counter()
        if hnsw_m:
            index = faiss.IndexHNSWFlat(encoder.dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            kind = {"type": "IndexHNSWFlat", "M": hnsw_m, "efConstruction": ef_construction, "efSearch": ef_search}
        else:
            index = faiss.IndexFlatIP(encoder.dim)
            kind = {"type": "IndexFlatIP"}
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(index, str(staging / "index.faiss"))
        (staging / "docids.txt").write_text("".join(d.id + "\n" for d in docs))
        scored = len(docs) - resumed
        collection = describe(source_name(source, target.name), docs)
        manifest = record(source=source, collection=collection, empty_documents=list(empty_documents),
                          documents=len(docs), encoder=encoder.describe(), index=kind,
                          encode_s=round(encode_s, 3), docs_per_s=round(scored / encode_s, 1) if scored else None,
                          resumed_docs=resumed, index_s=round(time.perf_counter() - t1, 3))
        write_json(staging / MANIFEST, manifest)
        shutil.rmtree(staging / "shards")
        (staging / "plan.json").unlink()
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        return manifest


def _read_plan(staging: Path) -> dict | None:
    try:
        return json.loads((staging / "plan.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


class DenseSearcher:
    """Top-k search over a dense index with the encoder that built it.

    Queries get the query prompt the index was built with unless ``query_prompt`` is given (then
    a warning when it differs); a ``passage_prompt`` other than the index's is refused, since its
    vectors cannot change.
    """

    def __init__(self, index: Path, device: str = "cpu", dataset: str | None = None,
                 query_prompt: str | None = None, passage_prompt: str | None = None) -> None:
        import faiss

        manifest = read_dense_manifest(index)
        if manifest is None:
            raise PipelineError(f"no dense index at {index}; build it with python -m pipeline.index --dataset "
                                f"{dataset or index.name.split('.')[0]} --dense")
        self.manifest = manifest
        enc = manifest["encoder"]
        built = built_prompts(manifest)
        if passage_prompt is not None and (passage_prompt or None) != built["passage_prompt"]:
            raise PipelineError(f"{index} was built with passage prompt {built['passage_prompt']!r}, not "
                                f"{passage_prompt!r}: drop --passage-prompt, or rebuild it with python -m "
                                f"pipeline.index --dense --passage-prompt ... --force")
        if query_prompt is None:
            query_prompt = built["query_prompt"]
        elif (query_prompt or None) != built["query_prompt"]:
            print(f"warning: searching {index} with query prompt {query_prompt or None!r}; it was built with "
                  f"{built['query_prompt']!r}", file=sys.stderr)
        self.encoder = BiEncoder(enc["path"], device=device, max_length=enc["max_length"],
                                 query_prompt=query_prompt, passage_prompt=built["passage_prompt"])
        self.index = faiss.read_index(str(index / "index.faiss"))
        if manifest["index"]["type"] == "IndexHNSWFlat":
            self.index.hnsw.efSearch = manifest["index"]["efSearch"]
        self.docids = (index / "docids.txt").read_text().splitlines()

    def search(self, topics: Topics, k: int = 1000, remove_query: bool = False, progress: bool = True) -> Run:
        """Top-``k`` documents by inner product for every query, in the topics' order."""
        qids = list(topics)
        with tqdm(total=len(qids), desc="dense queries", unit=" q", disable=not progress) as bar:
            vectors = self.encoder.encode_queries([topics[q] for q in qids], on_batch=bar.update)
        depth = min(k + (1 if remove_query else 0), len(self.docids))
        scores, rows = self.index.search(vectors, depth)
        run: Run = {}
        for qid, s_row, i_row in zip(qids, scores, rows, strict=True):
            docs = {self.docids[i]: float(s) for s, i in zip(s_row, i_row, strict=True) if i >= 0}
            if remove_query:
                docs.pop(qid, None)
            run[qid] = dict(list(docs.items())[:k])
        return run
