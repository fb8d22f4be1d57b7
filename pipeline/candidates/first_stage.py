"""The first stage: BM25 (or QLD, with or without RM3), dense, or hybrid (fused) candidates for a topic set.

:class:`FirstStage` holds the settings (the ``first stage`` flags of ``pipeline.run``, by the same
names), so Python callers get the same candidates as the command without faking flags:

    stage = FirstStage(first_stage="hybrid", fusion="interpolation", alpha=0.3, depth=100).checked(ds, "test")
    candidates = first_stage_run(stage, ds, "test", ds.topics_for("test"))
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.candidates.fusion import fit_rank_odds, fuse
from pipeline.common.errors import PipelineError
from pipeline.indexing.fingerprint import check_index
from pipeline.indexing.lucene import index_dir, read_manifest
from pipeline.runfiles.trec import Run, read_run, truncate

STAGES = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class FirstStage:
    """Where the candidates come from and how deep (``pipeline.run``'s first-stage flags)."""

    first_stage: str = "bm25"  # bm25 | dense | hybrid
    index: Path | None = None  # Lucene index (default: indexes/<dataset>)
    dense_index: Path | None = None  # faiss index (default: indexes/<dataset>.all-MiniLM-L6-v2)
    query_prompt: str | None = None
    passage_prompt: str | None = None
    fusion: str = "rrf"  # hybrid: rrf | interpolation | bayes
    fusion_split: str = "train"  # hybrid bayes: the split its odds are fitted on
    alpha: float = 0.5  # hybrid interpolation: BM25's weight
    normalization: str = "minmax"
    fusion_depth: int | str | None = None  # hybrid: depth of each input run, or "all"
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    candidates: Path | None = None  # a run to rerank instead of a first stage
    depth: int = 1000
    k1: float = 0.9
    b: float = 0.4
    rm3: bool = False
    fb_terms: int | None = None
    fb_docs: int | None = None
    original_query_weight: float | None = None
    qld: bool = False
    mu: float | None = None
    threads: int = os.cpu_count() or 1

    @property
    def name(self) -> str:
        """``bm25``, ``dense`` or ``hybrid``; ``qld`` or ``hybrid+qld`` with QLD; then ``+rm3`` with RM3."""
        name = self.first_stage
        if self.qld:
            name = "qld" if name == "bm25" else f"{name}+qld"
        return f"{name}+rm3" if self.rm3 else name

    def checked(self, ds, split: str) -> FirstStage:
        """These settings checked against each other and ``ds:split``, with Pyserini's defaults filled in
        for RM3's and QLD's unset values; an error names the flag to change."""
        from pipeline.candidates.bm25 import MU, RM3

        if self.first_stage not in STAGES:
            raise PipelineError(f"first stage {self.first_stage!r}: expected one of {', '.join(STAGES)}")
        if self.depth < 1:
            raise PipelineError(f"--depth must be positive, got {self.depth}")
        if isinstance(self.fusion_depth, int) and self.fusion_depth < self.depth:
            raise PipelineError(f"--fusion-depth {self.fusion_depth} is under --depth {self.depth}: fuse at least as "
                                f"deep as the candidates kept")
        if self.candidates and self.first_stage != "bm25":
            raise PipelineError(f"--candidates replaces the first stage: drop --first-stage {self.first_stage}")
        rm3 = {"--fb-terms": self.fb_terms, "--fb-docs": self.fb_docs,
               "--original-query-weight": self.original_query_weight}
        if not self.rm3 and (given := [flag for flag, value in rm3.items() if value is not None]):
            raise PipelineError(f"{given[0]} is an RM3 setting: add --rm3")
        if not self.qld and self.mu is not None:
            raise PipelineError("--mu is QLD's Dirichlet smoothing: add --qld")
        if not (self.rm3 or self.qld):
            return self
        flags = " ".join(flag for flag, on in (("--qld", self.qld), ("--rm3", self.rm3)) if on)
        if self.first_stage == "dense":
            raise PipelineError(f"--first-stage dense has no BM25 to change: drop {flags}, or use bm25 or hybrid")
        if self.candidates:
            raise PipelineError(f"--candidates replaces the first stage: drop {flags}")
        if self.first_stage == "bm25" and (official := ds.split(split).candidates) is not None:
            raise PipelineError(f"{ds.name}:{split} reranks its official BM25 candidates ({official}), not a "
                                f"search: drop {flags}")
        if self.qld and (self.k1, self.b) != (0.9, 0.4):
            raise PipelineError("--k1 and --b are BM25's: --qld scores by query likelihood (its setting is --mu)")
        out = self
        if self.rm3:
            d = RM3()
            out = replace(out, fb_terms=d.fb_terms if out.fb_terms is None else out.fb_terms,
                          fb_docs=d.fb_docs if out.fb_docs is None else out.fb_docs,
                          original_query_weight=(d.original_query_weight if out.original_query_weight is None
                                                 else out.original_query_weight))
            if out.fb_terms < 1 or out.fb_docs < 1:
                raise PipelineError(f"--fb-terms and --fb-docs must be positive, got {out.fb_terms} and {out.fb_docs}")
            if not 0 <= out.original_query_weight <= 1:
                raise PipelineError(f"--original-query-weight must be between 0 and 1, got "
                                    f"{out.original_query_weight}")
        if self.qld:
            out = replace(out, mu=MU if out.mu is None else out.mu)
            if out.mu <= 0:
                raise PipelineError(f"--mu must be positive, got {out.mu}")
        return out


def first_stage_run(stage: FirstStage, ds, split: str, topics: dict, timings: dict | None = None,
                    progress: bool = True) -> Run:
    """The top-``depth`` candidates of ``stage`` (:meth:`FirstStage.checked` first) for ``topics`` of
    ``ds:split``; ``timings`` receives the caches, loads and search times."""
    timings = {} if timings is None else timings
    bayes = stage.first_stage == "hybrid" and stage.fusion == "bayes"
    if bayes and stage.fusion_split == split:
        raise PipelineError(f"--fusion-split {split} is the split being run: fit Bayes-fuse on other queries")
    fit_topics = ds.topics_for(stage.fusion_split) if bayes else {}
    if bayes and not fit_topics:
        raise PipelineError(f"{ds.name}:{stage.fusion_split} has no judged queries to fit Bayes-fuse on")
    searcher = None
    if stage.first_stage in ("dense", "hybrid"):
        from pipeline.candidates.dense import DenseSearcher, encoder_name

        t0 = time.perf_counter()
        dense_index = stage.dense_index or index_dir(f"{ds.name}.{encoder_name(None)}")
        searcher = DenseSearcher(dense_index, dataset=ds.name, query_prompt=stage.query_prompt,
                                 passage_prompt=stage.passage_prompt)
        check_index(dense_index, searcher.manifest, ds, "dense")
        timings["dense_index"] = searcher.manifest["index"]
        timings["dense_load_s"] = round(time.perf_counter() - t0, 3)

    if stage.first_stage in ("bm25", "hybrid"):
        index = stage.index or index_dir(ds.name)
        manifest = read_manifest(index)
        if manifest is not None:  # a missing index gets its own error from the searcher
            check_index(index, manifest, ds)
    depth = stage.depth
    if stage.first_stage == "hybrid" and stage.fusion_depth is not None:
        depth = len(searcher.docids) if stage.fusion_depth == "all" else stage.fusion_depth
        timings["fusion_depth"] = depth

    def search(split_: str, topics_: dict, times: dict) -> list[Run]:
        runs = []
        if stage.first_stage in ("bm25", "hybrid"):
            from pipeline.candidates.bm25 import RM3, cached_search

            rm3 = RM3(stage.fb_terms, stage.fb_docs, stage.original_query_weight) if stage.rm3 else None
            runs.append(cached_search(ds.name, split_, topics_, stage.index or index_dir(ds.name), k1=stage.k1,
                                      b=stage.b, depth=depth, remove_query=ds.remove_query,
                                      threads=stage.threads, progress=progress, timings=times,
                                      rm3=rm3, mu=stage.mu if stage.qld else None))
        if searcher is not None:
            t0 = time.perf_counter()
            runs.append(searcher.search(topics_, k=depth, remove_query=ds.remove_query, progress=progress))
            times["dense_s"] = round(time.perf_counter() - t0, 3)
        return runs

    runs = search(split, topics, timings)
    if len(runs) == 1:
        return runs[0]
    odds = None
    if stage.fusion == "bayes":
        fit_timings: dict = {}
        odds = [fit_rank_odds(run, ds.qrels(stage.fusion_split), len(searcher.docids))
                for run in search(stage.fusion_split, fit_topics, fit_timings)]
        timings["fusion"] = {"method": "bayes", "fit_split": stage.fusion_split, "fit_queries": len(fit_topics),
                             "bm25": odds[0].as_dict(), "dense": odds[1].as_dict(), "fit_timings": fit_timings}
    fused = fuse(stage.fusion, runs, k=stage.rrf_k, weights=[1.0, stage.dense_weight], alpha=stage.alpha,
                 normalization=stage.normalization, odds=odds)
    return truncate(fused, stage.depth)


def candidates_for(stage: FirstStage, ds, split: str, topics: dict, timings: dict | None = None,
                   progress: bool = True) -> tuple[Run, Path | None]:
    """The candidates to rerank and the run file they came from (None for a search).

    ``stage.candidates`` if given; else, for the BM25 first stage, the dataset's official candidates
    where it has them (they stand in for BM25 only: dense and hybrid search); else
    :func:`first_stage_run`. A file's candidates keep the queries of ``topics``, top ``depth``.
    """
    path = stage.candidates or (ds.split(split).candidates if stage.first_stage == "bm25" else None)
    if path is None:
        return first_stage_run(stage, ds, split, topics, timings, progress=progress), None
    candidates = read_run(path)
    unknown = [q for q in candidates if q not in topics]
    candidates = {q: docs for q, docs in candidates.items() if q in topics}
    if not candidates:
        raise PipelineError(f"{path}: none of its queries are in {ds.name}:{split} ({len(unknown)} unknown, "
                            f"e.g. {unknown[:3]})")
    return truncate(candidates, stage.depth), path
