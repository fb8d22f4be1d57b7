"""``python -m pipeline.index``: build a Lucene index of a collection with Pyserini's indexer.

The index stores positions, document vectors and the raw document (``{"id", "contents"}``) so
rerankers can fetch passage text. It is built in a temporary directory and renamed into place
only when complete, with a ``pipeline-index.json`` manifest; a directory without that manifest
was never finished. A complete index is reused unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipeline.collection import corpora
from pipeline.collection.corpora import Doc, empty_note, without_empty
from pipeline.collection.datasets import get_dataset
from pipeline.common.cli import add_debug_flag, run_main
from pipeline.common.paths import INDEXES
from pipeline.indexing.lucene import build_index, index_dir, read_manifest


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
    from pipeline.candidates.dense import encoder_name

    return encoder_name(path)


def _dense(args: argparse.Namespace, docs: Iterable[Doc], source: dict, target: Path) -> int:
    """``--dense``: the faiss index of the collection (see :mod:`pipeline.candidates.dense`)."""
    from pipeline.candidates.dense import build_dense_index, check_reuse, read_dense_manifest
    from pipeline.indexing.biencoder import BiEncoder

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
