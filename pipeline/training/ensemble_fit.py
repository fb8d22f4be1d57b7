"""Fitting an ensemble teacher (:mod:`pipeline.rerank.ensemble`) and labelling training groups
with it: each member scores each dev set's candidates once (cached), the weights come from a grid
search on the mean dev nDCG@10, and a training group's soft labels are the members' weighted sum.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.collection.qrels import Qrels
from pipeline.collection.topics import Topics
from pipeline.common.errors import PipelineError
from pipeline.indexing.passages import Passages
from pipeline.rerank.ensemble import Member, check_first_stage, combine, member_cache, member_run
from pipeline.runfiles.trec import Run, run_tag
from pipeline.training.examples import Group


def fit_weights(member_runs: Sequence[Sequence[Run]], qrels: Sequence[Qrels],
                grid: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0), measure: str = "ndcg@10",
                ) -> tuple[list[float], float]:
    """The weights (the first member's fixed at 1, the others from ``grid``) that maximise the mean of
    ``measure`` over the dev sets; ``member_runs[s][m]`` is member ``m``'s run of dev set ``s``."""
    from pipeline.evaluation.measures import evaluate

    best: tuple[float, list[float]] | None = None
    n = len(member_runs[0])
    for rest in itertools.product(grid, repeat=n - 1):
        weights = [1.0, *rest]
        score = sum(evaluate(combine(runs, weights), q, [measure]).aggregate[measure]
                    for runs, q in zip(member_runs, qrels, strict=True)) / len(qrels)
        if best is None or score > best[0]:
            best = (score, weights)
    assert best is not None
    return best[1], best[0]


def group_scores(members: Sequence[Member], groups: list[Group], max_length: int | None = None,
                 progress: Callable[[str], None] = print) -> list[list[float]]:
    """The ensemble's score of each training group's passages (each member's scores cached)."""
    from pipeline.training.teacher_scores import biencoder_scores, teacher_scores

    total = [[0.0] * len(g.texts) for g in groups]
    for m in members:
        progress(f"ensemble member {m.label} (weight {m.weight}) scores {len(groups)} groups")
        if m.kind == "bm25":
            scores = bm25_group_scores(groups, m.k1, m.b)
        elif m.kind == "cross-encoder":
            scores = teacher_scores(m.location, groups, max_length=max_length)
        else:
            scores = biencoder_scores(m.location, groups, scale=m.scale, max_length=m.max_length)
        for row, s in zip(total, scores, strict=True):
            for j, v in enumerate(s):
                row[j] += m.weight * v
    return total


def bm25_group_scores(groups: Sequence[Group], k1: float = 0.9, b: float = 0.4) -> list[list[float]]:
    """BM25's score of each group's passages in the index of the group's dataset (Anserini's pair score).

    A blank passage scores 0, as BM25 scores a document with no terms: the indexer leaves blank
    documents out (a few CAR paragraphs are blank), so there is nothing to ask the index for."""
    from pipeline.candidates.bm25 import BM25
    from pipeline.indexing.lucene import index_dir

    unknown = sorted({g.qid for g in groups if not g.dataset})
    if unknown:
        raise PipelineError(f"a bm25 member scores a pair in its collection's index, but {len(unknown)} training "
                            f"queries come from no indexed dataset (e.g. {unknown[0]!r}): MS MARCO triples files?")
    scores: list[list[float]] = [[] for _ in groups]
    for name in dict.fromkeys(g.dataset for g in groups):
        mine = [i for i, g in enumerate(groups) if g.dataset == name]
        searcher = BM25(index_dir(name), k1=k1, b=b, dataset=name)
        pairs = [(groups[i].query, d) for i in mine
                 for d, t in zip(groups[i].docids, groups[i].texts, strict=True) if t.strip()]
        flat = iter(searcher.score_pairs(pairs))
        for i in mine:
            scores[i] = [next(flat) if t.strip() else 0.0 for t in groups[i].texts]
    return scores


def dev_candidates(spec: str, depth: int, members: Sequence[Member] = ()) -> tuple[str, Run, Topics, Qrels, Passages]:
    """A dev set ``dataset:split[@depth]`` to fit weights on: the top ``depth`` (``@depth`` overrides it) of
    the candidates ``pipeline.run`` would rerank with the BM25 first stage (its official ones where it
    has them), with topics, qrels and passages (checked against a ``bm25`` member in ``members``)."""
    from pipeline.candidates.first_stage import FirstStage, candidates_for
    from pipeline.collection.datasets import dataset_split

    spec, _, at = spec.partition("@")
    if at:
        if not at.isdigit() or int(at) < 1:
            raise PipelineError(f"--fit-on {spec}@{at}: the depth after @ must be a positive number")
        depth = int(at)
    found = dataset_split(spec)
    if found is None:
        raise PipelineError(f"--fit-on {spec!r}: expected DATASET:SPLIT[@DEPTH], e.g. scifact:dev or "
                            f"msmarco-dl19:test@100")
    ds, split = found
    topics, qrels = ds.topics_for(split), ds.qrels(split)
    candidates, path = candidates_for(FirstStage(depth=depth), ds, split, topics)
    check_first_stage(members, run_tag(path) if path else "bm25")
    return f"{ds.name}.{split}.top{depth}", candidates, topics, qrels, Passages(docs=ds.docs())


def fit(members: Sequence[Member], dev_sets: Sequence[str], depth: int = 20,
        grid: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0), progress: bool = True) -> tuple[list[Member], dict]:
    """Score each dev set's candidates by every member, then choose the weights (:func:`fit_weights`).

    Returns the members with their fitted weights and a record of the fit: nDCG@10 of each member
    alone and of the ensemble on each dev set.
    """
    from pipeline.evaluation.measures import evaluate

    runs, qrels, names = [], [], []
    for spec in dev_sets:
        name, candidates, topics, q, passages = dev_candidates(spec, depth, members)
        split_name = name.rsplit(".top", 1)[0]  # the cache is keyed by the candidates: pipeline.run finds it
        runs.append([member_run(m, candidates, topics, passages, member_cache(m, split_name, candidates), progress)
                     for m in members])
        qrels.append(q)
        names.append(name)
    weights, mean = fit_weights(runs, qrels, grid)
    fitted = [Member(**{**asdict(m), "weight": w}) for m, w in zip(members, weights, strict=True)]

    def ndcg(run: Run, q: Qrels) -> float:
        return round(evaluate(run, q, ["ndcg@10"]).aggregate["ndcg@10"], 4)

    dev = {name: {"members": {m.label: ndcg(r, q) for m, r in zip(members, rs, strict=True)},
                  "ensemble": ndcg(combine(rs, weights), q)}
           for name, rs, q in zip(names, runs, qrels, strict=True)}
    return fitted, {"fitted_on": list(dev_sets), "depth": depth, "grid": list(grid), "measure": "ndcg@10",
                    "mean": round(mean, 4), "dev": dev}


@dataclass(frozen=True)
class EnsembleFit:
    """An ensemble teacher to write: its members, and either the dev sets its weights are fitted on
    or the ``weights`` themselves (the first member's is 1), as a build that reproduces a measured fit."""

    members: tuple[Member, ...]
    output: Path
    dev_sets: tuple[str, ...] = ("scifact:dev", "car-test200:dev")
    depth: int = 20
    grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    weights: tuple[float, ...] | None = None
    progress: bool = True


def fit_ensemble(settings: EnsembleFit) -> tuple[list[Member], dict]:
    """:func:`fit` (or the given weights), then the ensemble written to ``output`` with the fit's
    figures and provenance; the weighted members and the figures (empty for given weights)."""
    from pipeline.common.provenance import record
    from pipeline.rerank.ensemble import write_ensemble

    s, t0 = settings, time.perf_counter()
    if s.weights is None:
        fitted, figures = fit(s.members, s.dev_sets, depth=s.depth, grid=s.grid, progress=s.progress)
    elif len(s.weights) != len(s.members) or s.weights[0] != 1:
        raise PipelineError(f"--weights: one per member ({len(s.members)}), the first 1; got {list(s.weights)}")
    else:
        fitted = [Member(**{**asdict(m), "weight": w}) for m, w in zip(s.members, s.weights, strict=True)]
        figures = {"weights_given": list(s.weights)}
    write_ensemble(s.output, fitted, **record(config={"members": [m.label for m in s.members],
                                                      "seconds": round(time.perf_counter() - t0, 1)},
                                              seed=None, **figures))
    return fitted, figures
