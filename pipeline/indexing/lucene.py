"""Lucene indexes: built with Anserini's indexer, found by dataset name, opened with Pyserini.

An index stores positions, document vectors and the raw document (``{"id", "contents"}``) so
rerankers can fetch passage text. It is built in a temporary directory and renamed into place
only when complete, with a ``pipeline-index.json`` manifest; a directory without that manifest
was never finished. A complete index is reused unless ``force`` is given.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from pipeline.collection.corpora import Doc, empty_note, without_empty
from pipeline.common.atomic import write_json
from pipeline.common.errors import PipelineError
from pipeline.common.java import start_jvm
from pipeline.common.locks import exclusive
from pipeline.common.paths import INDEXES
from pipeline.common.provenance import record
from pipeline.indexing.fingerprint import Fingerprint, source_name

MANIFEST = "pipeline-index.json"


def index_dir(dataset: str) -> Path:
    """Where the index of a named dataset lives: ``indexes/<dataset>/``."""
    return INDEXES / dataset


def read_manifest(index: Path) -> dict | None:
    """The manifest of a complete index, or None when ``index`` is not one we finished."""
    try:
        return json.loads((index / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _write_collection(docs: Iterable[Doc], out: Path, name: str) -> tuple[int, list[str], dict]:
    """Write documents as Pyserini JsonCollection lines; returns (written, empty ids, collection record).

    Empty documents are left out (Anserini cannot index them) and reported; the fingerprint is
    over the documents indexed, as :func:`pipeline.indexing.fingerprint.check_index` recomputes it.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    fp, empty, written = Fingerprint(), [], 0
    with open(out, "w", encoding="utf-8") as f:
        for doc in fp.over(without_empty(tqdm(docs, desc="collection", unit=" docs", mininterval=1.0), empty)):
            f.write(json.dumps({"id": doc.id, "contents": doc.contents}, ensure_ascii=False) + "\n")
            written += 1
    if not written and not empty:
        raise PipelineError("the collection has no documents")
    if empty:
        print(empty_note(empty), file=sys.stderr)
    return written, empty, {"name": name, "documents": fp.documents, "fingerprint": fp.hexdigest}


def build_index(docs: Iterable[Doc], target: Path, source: dict, threads: int = 2, force: bool = False) -> dict:
    """Build a Lucene index of ``docs`` at ``target``; returns its manifest.

    Reuses a complete index unless ``force``. Raises if ``target`` exists but is not an index
    this tool completed (for example one left by an older, interrupted build).
    """
    with exclusive(target, "built"):
        return _build(docs, target, source, threads, force)


def _build(docs: Iterable[Doc], target: Path, source: dict, threads: int, force: bool) -> dict:
    # we hold the lock on target: any staging or old copy beside it is a killed build's leftover
    for leftover in [*target.parent.glob(f".{target.name}.building-*"), *target.parent.glob(f".{target.name}.old-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    existing = read_manifest(target)
    if existing is not None and not force:
        return existing
    if target.exists() and existing is None and not force:
        raise PipelineError(f"{target} exists but is not a complete index (no {MANIFEST}); "
                            f"rebuild it with --force")
    staging = target.parent / f".{target.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        t0 = time.perf_counter()
        n_docs, empty, collection = _write_collection(docs, staging / "collection" / "docs.jsonl",
                                                      source_name(source, target.name))
        jvm_s = start_jvm()
        from jnius import autoclass

        t1 = time.perf_counter()
        args = ["-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator",
                "-input", str(staging / "collection"), "-index", str(staging / "index"),
                "-threads", str(threads), "-storePositions", "-storeDocvectors", "-storeRaw", "-quiet"]
        autoclass("io.anserini.index.IndexCollection").main(args)
        reader = autoclass("io.anserini.index.IndexReaderUtils").getReader(str(staging / "index"))
        indexed = reader.numDocs()
        reader.close()
        if indexed != n_docs:
            raise PipelineError(f"indexer stored {indexed} of {n_docs} non-empty documents; see its log above")
        manifest = record(source=source, collection=collection, documents=indexed, empty_documents=empty,
                          threads=threads,
                          options=args[:4] + args[8:], jvm_start_s=round(jvm_s, 3),
                          convert_s=round(t1 - t0, 3), index_s=round(time.perf_counter() - t1, 3))
        write_json(staging / "index" / MANIFEST, manifest)
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
            os.replace(staging / "index", target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / "index", target)
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prebuilt_names() -> set[str]:
    try:
        from pyserini.prebuilt_index_info import TF_INDEX_INFO
    except ImportError:
        return set()
    return set(TF_INDEX_INFO)


def open_searcher(index: Path):
    """Pyserini's ``LuceneSearcher`` on ``index``; an index Lucene cannot read gets the fix, not a Java trace."""
    from jnius import JavaException
    from pyserini.search.lucene import LuceneSearcher

    try:
        return LuceneSearcher(str(index))
    except JavaException as err:
        text = str(err)
        fix = f"rebuild it: {_rebuild(index)}"
        if "IndexFormatTooOld" in text or "IndexFormatTooNew" in text:
            detail = " ".join(text.split("Format version is not supported", 1)[-1].split(". ", 1)[0].split())
            detail = detail.split("): ", 1)[-1].strip(" :")  # drop the resource name, keep "1 (needs ...)"
            raise PipelineError(f"{index} was written by another Lucene version than this Pyserini's "
                                f"(Anserini {_anserini_version()}){': ' + detail if detail else ''}; {fix}") from None
        if "CorruptIndex" in text or "NoSuchFile" in text or "EOFException" in text:
            raise PipelineError(f"{index} is a damaged Lucene index; {fix}") from None
        raise


def _rebuild(index: Path) -> str:
    """The command that rebuilds ``index`` in place."""
    return f"python -m pipeline.index --index {index} --force (with its --dataset or --collection)"


def _anserini_version() -> str:
    from pipeline.common.java import anserini_jar

    return anserini_jar().stem.split("-")[1] if "-" in anserini_jar().stem else anserini_jar().stem
