"""``python -m pipeline.index``: build a Lucene index of a collection with Pyserini's indexer.

The index stores positions, document vectors and the raw document (``{"id", "contents"}``) so
rerankers can fetch passage text. It is built in a temporary directory and renamed into place
only when complete, with a ``pipeline-index.json`` manifest; a directory without that manifest
was never finished. A complete index is reused unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from tqdm import tqdm

from pipeline import corpora
from pipeline.atomic import write_json
from pipeline.cli import add_debug_flag, run_main
from pipeline.collection import Fingerprint, source_name
from pipeline.corpora import Doc, empty_note, without_empty
from pipeline.datasets import get_dataset
from pipeline.errors import PipelineError
from pipeline.java import start_jvm
from pipeline.locks import exclusive
from pipeline.paths import INDEXES
from pipeline.provenance import record

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
    over the documents indexed, as :func:`pipeline.collection.check_index` recomputes it.
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


def define_args(parser: argparse.ArgumentParser) -> None:
    """The command-line flags of ``pipeline.index``."""
    src = parser.add_argument_group("what to index (one of)")
    src.add_argument("--dataset", help="a registered dataset (car-test200, scifact, msmarco-dl19, yours from "
                                       "datasets.toml, or irds:<ir_datasets id>)")
    src.add_argument("--collection", type=Path, help="a collection file to index instead of a dataset")
    parser.add_argument("--format", choices=corpora.FORMATS, help="format of --collection")
    parser.add_argument("--index", type=Path,
                        help="where to write the index (default: indexes/<dataset> or indexes/<collection name>)")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1), help="indexing threads")
    parser.add_argument("--force", action="store_true", help="rebuild even if a complete index exists")
    dense = parser.add_argument_group("dense index (faiss) instead of Lucene")
    dense.add_argument("--dense", action="store_true",
                       help="encode the collection with a bi-encoder into indexes/<dataset>.<encoder>/")
    dense.add_argument("--encoder", type=Path, help="bi-encoder directory (default: packaged all-MiniLM-L6-v2)")
    dense.add_argument("--hnsw", type=int, metavar="M", help="an HNSW index with M links (default: exact flat IP)")
    dense.add_argument("--ef-construction", type=int, default=200, help="HNSW efConstruction (default: 200)")
    dense.add_argument("--ef-search", type=int, default=128, help="HNSW efSearch, recorded (default: 128)")
    dense.add_argument("--shard-size", type=int, default=2048, help="documents per resumable shard")
    dense.add_argument("--device", default="cpu", help="cpu or cuda")
    dense.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32", help="encoding precision")
    dense.add_argument("--passage-prompt", metavar="TEXT",
                       help="text put before every document when encoding it, as the encoder was trained: "
                            "'passage: ' for E5 (default: none); recorded in the index")
    dense.add_argument("--query-prompt", metavar="TEXT",
                       help="the query prompt to record for searching it: 'query: ' for E5, 'Represent this "
                            "sentence for searching relevant passages: ' for BGE (default: none)")
    add_debug_flag(parser)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.index", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        epilog="example: python -m pipeline.index --dataset scifact")
    define_args(parser)
    args = parser.parse_args(argv)
    if bool(args.dataset) == bool(args.collection):
        parser.error("give exactly one of --dataset or --collection")
    if args.dataset:
        ds = get_dataset(args.dataset)
        docs, source = ds.docs(), {"dataset": ds.name, "corpus": str(ds.corpus), "format": ds.corpus_format}
        target = args.index or index_dir(ds.name)
    else:
        if not args.format:
            parser.error("--collection needs --format")
        docs = corpora.read_corpus(args.collection, args.format)
        source = {"collection": str(args.collection.resolve()), "format": args.format}
        target = args.index or INDEXES / args.collection.name.split(".")[0]
    if args.dense:
        return _dense(args, docs, source, target if args.index else target.with_name(
            f"{target.name}.{_encoder_name(args.encoder)}"))
    if read_manifest(target) is not None and not args.force:
        print(f"index {target} is complete; reusing it (--force rebuilds)")
        return 0
    manifest = build_index(docs, target, source, threads=args.threads, force=args.force)
    print(f"indexed {manifest['documents']} documents into {target} "
          f"(convert {manifest['convert_s']:.1f} s, JVM start {manifest['jvm_start_s']:.1f} s, "
          f"index {manifest['index_s']:.1f} s)")
    return 0


def _encoder_name(path: Path | None) -> str:
    from pipeline.dense import encoder_name

    return encoder_name(path)


def _dense(args: argparse.Namespace, docs: Iterable[Doc], source: dict, target: Path) -> int:
    """``--dense``: the faiss index of the collection (see :mod:`pipeline.dense`)."""
    from pipeline.biencoder import BiEncoder
    from pipeline.dense import build_dense_index, check_reuse, read_dense_manifest

    if args.force and read_dense_manifest(target) is not None:
        shutil.rmtree(target)
    elif (built := read_dense_manifest(target)) is not None:
        check_reuse(target, built, args.query_prompt, args.passage_prompt)
        print(f"dense index {target} is complete; reusing it (--force rebuilds)")
        return 0
    empty: list[str] = []
    kept = list(without_empty(docs, empty))  # read (and checked) before the encoder loads
    if empty:
        print(empty_note(empty), file=sys.stderr)
    encoder = BiEncoder(args.encoder, device=args.device, dtype=args.dtype, query_prompt=args.query_prompt,
                        passage_prompt=args.passage_prompt)
    manifest = build_dense_index(kept, target, encoder, {**source, "encoder": str(encoder.path)}, empty_documents=empty,
                                 shard_size=args.shard_size, hnsw_m=args.hnsw, ef_construction=args.ef_construction,
                                 ef_search=args.ef_search)
    print(f"encoded {manifest['documents']} documents into {target} ({manifest['index']['type']}; "
          f"{manifest['encode_s']:.1f} s, {manifest['docs_per_s']} docs/s)")
    return 0


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
