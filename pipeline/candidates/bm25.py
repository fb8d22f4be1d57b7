"""The BM25 first stage: Pyserini's ``LuceneSearcher`` over an index built by ``pipeline.index``.

``k1`` and ``b`` are always set explicitly (Pyserini changes them silently only for its
prebuilt indexes). Query likelihood with Dirichlet smoothing (QLD, ``set_qld``) may replace
BM25, and RM3 pseudo-relevance feedback (``set_rm3``) may expand the queries of either, as
Pyserini's ``--qld`` and ``--rm3`` do. Queries are searched in chunks so the JVM's memory stays
bounded, and hits become ``(docid, score)`` at once.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from pipeline.collection.topics import Topics
from pipeline.common.errors import PipelineError
from pipeline.common.java import start_jvm
from pipeline.common.paths import RUN_CACHE
from pipeline.indexing.lucene import _rebuild, open_searcher, prebuilt_names
from pipeline.runfiles.trec import Run, read_run, write_run

CHUNK = 100
CACHE = RUN_CACHE
MU = 1000.0  # QLD's Dirichlet mu: Pyserini's set_qld default


@dataclass(frozen=True)
class RM3:
    """RM3 pseudo-relevance feedback as Pyserini's ``LuceneSearcher.set_rm3`` takes it, with its defaults."""

    fb_terms: int = 10
    fb_docs: int = 10
    original_query_weight: float = 0.5


def ranker_name(qld: bool = False, rm3: bool = False) -> str:
    """``bm25``, ``bm25+rm3``, ``qld`` or ``qld+rm3``: what caches and runs of these settings are named."""
    return ("qld" if qld else "bm25") + ("+rm3" if rm3 else "")


class BM25:
    """A BM25 searcher over one Lucene index; QLD instead when ``mu`` is given, and RM3 on top when ``rm3`` is.

    The settings are applied as Pyserini's ``python -m pyserini.search.lucene`` applies them, so a
    search returns the docids and scores of Pyserini's own ``LuceneSearcher`` set up the same way.
    """

    def __init__(self, index: str | Path, k1: float = 0.9, b: float = 0.4, dataset: str | None = None,
                 rm3: RM3 | None = None, mu: float | None = None) -> None:
        index_path = Path(index)
        build = f"python -m pipeline.index --dataset {dataset or index_path.name}"
        self.jvm_start_s = start_jvm()
        if not index_path.is_dir():
            if str(index) in prebuilt_names():
                raise PipelineError(f"{index!r} is a Pyserini prebuilt index, which needs a download and this "
                                    f"machine has no network; build a local one with python -m pipeline.index")
            raise PipelineError(f"no index at {index_path}; build it with {build}")
        if not any(index_path.glob("segments_*")):
            raise PipelineError(f"{index_path} is not a Lucene index (an interrupted build?); "
                                f"rebuild it with {build} --force")
        t0 = time.perf_counter()
        importlib.import_module("pyserini.search.lucene")
        self.import_s = time.perf_counter() - t0
        self.index = index_path
        self.searcher = open_searcher(index_path)
        if mu is None:
            self.searcher.set_bm25(k1, b)
        else:
            self.searcher.set_qld(mu)
        if rm3 is not None:
            try:
                self.searcher.set_rm3(rm3.fb_terms, rm3.fb_docs, rm3.original_query_weight)
            except TypeError:  # Pyserini's answer when the index stores no document vectors
                raise PipelineError(f"{index_path} stores no document vectors, which RM3 needs; rebuild it with "
                                    f"{_rebuild(index_path)}: pipeline.index stores them") from None
        self.k1, self.b, self.rm3, self.mu = k1, b, rm3, mu
        self.name = ranker_name(mu is not None, rm3 is not None)

    def search(self, topics: Topics, k: int = 1000, threads: int = 2, remove_query: bool = False,
               progress: bool = True) -> Run:
        """Top-``k`` hits for every query, as a :data:`Run` in the topics' order.

        ``remove_query`` drops a hit whose docid equals the query id (Anserini's ``-removeQuery``,
        used for BEIR, where queries may also be documents).
        """
        run: Run = {}
        qids = list(topics)
        with tqdm(total=len(qids), desc=self.name.upper(), unit=" q", disable=not progress) as bar:
            for chunk in _chunks(qids, CHUNK):
                hits = self.searcher.batch_search([topics[q] for q in chunk], chunk,
                                                  k=k + 1 if remove_query else k, threads=threads)
                for qid in chunk:
                    docs = {h.docid: float(h.score) for h in hits.get(qid, [])}
                    if remove_query:
                        docs.pop(qid, None)
                    run[qid] = dict(list(docs.items())[:k])
                bar.update(len(chunk))
        return run

    def score_pairs(self, pairs: Sequence[tuple[str, str]], progress: bool = True) -> list[float]:
        """BM25 score of each ``(query, docid)`` pair, as :meth:`search` gives it to that document.

        Anserini's ``computeQueryDocumentScore`` with this searcher's k1 and b: a training group's
        passages need a score whether or not they are in any query's top k. BM25 only (not QLD or
        RM3); a docid the index does not hold is an error.
        """
        from jnius import autoclass
        from pyserini.index.lucene import LuceneIndexReader

        if self.mu is not None or self.rm3 is not None:
            raise PipelineError(f"pair scores are plain BM25's; this searcher is {self.name}")
        reader = LuceneIndexReader(str(self.index))
        similarity = autoclass("org.apache.lucene.search.similarities.BM25Similarity")(float(self.k1), float(self.b))
        internal = reader.convert_collection_docid_to_internal_docid
        missing = [d for d in dict.fromkeys(d for _, d in pairs) if internal(d) < 0]
        if missing:
            raise PipelineError(f"{self.index} holds no document {missing[0]!r} ({len(missing)} such docids)")
        return [float(reader.compute_query_document_score(docid, query, similarity=similarity))
                for query, docid in tqdm(pairs, desc="BM25 pairs", unit=" pairs", disable=not progress)]


def cached_search(name: str, split: str, topics: Topics, index: Path, k1: float = 0.9, b: float = 0.4,
                  depth: int = 1000, remove_query: bool = False, threads: int = 2, progress: bool = True,
                  timings: dict | None = None, rm3: RM3 | None = None, mu: float | None = None) -> Run:
    """:class:`BM25` top-``depth`` for ``topics``, cached under ``runs/.cache/``.

    The cache is keyed by index, k1, b, depth, topics and the QLD and RM3 settings (plain BM25
    keeps its key of before they existed). ``timings`` (if given) receives the cache file, and the
    JVM start, import and search times on a miss.
    """
    from pipeline.indexing.lucene import read_manifest

    manifest = read_manifest(Path(index)) or {}
    settings = {**({"qld_mu": mu} if mu is not None else {}), **({"rm3": asdict(rm3)} if rm3 is not None else {})}
    key = hashlib.sha256(json.dumps([str(Path(index).resolve()), manifest.get("created"), k1, b, depth,
                                     remove_query, sorted(topics.items()), *([settings] if settings else [])]
                                    ).encode()).hexdigest()[:16]
    ranker = ranker_name(mu is not None, rm3 is not None)
    cache = CACHE / f"{name}.{split}.{ranker}.{key}.trec"
    timings = {} if timings is None else timings
    timings["bm25_cache"] = str(cache)
    if cache.is_file():
        timings["bm25_cache_hit"] = True
        return read_run(cache)
    searcher = BM25(index, k1=k1, b=b, dataset=name, rm3=rm3, mu=mu)
    t0 = time.perf_counter()
    run = searcher.search(topics, k=depth, threads=threads, remove_query=remove_query, progress=progress)
    seconds = time.perf_counter() - t0
    timings.update(jvm_start_s=round(searcher.jvm_start_s, 3), pyserini_import_s=round(searcher.import_s, 3),
                   bm25_s=round(seconds, 3), bm25_queries_per_s=round(len(topics) / seconds, 1))
    write_run(cache, run, ranker.replace("+", "-"))
    return run


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
