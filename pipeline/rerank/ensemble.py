"""Ensemble teachers: a fixed weighted sum of several rankers' scores for each (query, passage) pair.

An ensemble of a cross-encoder and web-trained bi-encoders can rank better than any of its
members, and students distilled from such an ensemble keep more of it than students of one
teacher (Hofstätter et al., 2020, *Improving Efficient Neural Ranking Models with Cross-Architecture
Knowledge Distillation*). A member is a cross-encoder directory (its logit), a
sentence-transformers bi-encoder (``scale`` x the cosine of the two vectors, the scale it was
trained at) or ``bm25``: the BM25 first stage's own score of each candidate, and for a training
pair Anserini's score of that pair in its collection's index (the same number for the same k1 and
b), so BM25 candidates are what an ensemble with a BM25 member reranks. The sum is over raw
scores, not per-query normalised ones, so a training group of four passages and a list of a
hundred candidates give a pair the same score: what a student learns from is what is measured.

An ensemble is a directory holding ``ensemble.json``: its members (kind, path, weight, for a
bi-encoder its scale and max length, for BM25 its k1 and b), the dev sets its weights were fitted
on and the figures they gave. A path is a packaged name (``mpnet``, ``minilm``), absolute, or
relative to the project root.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pipeline.collection.topics import Topics
from pipeline.common.atomic import write_json
from pipeline.common.errors import PipelineError
from pipeline.common.paths import ROOT
from pipeline.common.provenance import weights_mtimes
from pipeline.indexing.passages import Passages
from pipeline.runfiles.trec import Run

ENSEMBLE_FILE = "ensemble.json"
KINDS = ("cross-encoder", "bi-encoder", "bm25")


@dataclass(frozen=True)
class Member:
    """One ranker of an ensemble and its weight."""

    kind: str
    path: str
    weight: float = 1.0
    scale: float = 20.0  # bi-encoders: cosine x scale
    max_length: int = 256  # bi-encoders: tokens per text
    k1: float = 0.9  # bm25: the first stage's parameters, which its candidates must have
    b: float = 0.4

    @property
    def location(self) -> Path:
        """The member's model directory (a packaged bi-encoder is assembled or found on first use)."""
        from pipeline.common.pretrained import PACKAGED, packaged

        if self.path in PACKAGED:
            return packaged(self.path)
        path = Path(self.path).expanduser()
        return path if path.is_absolute() else ROOT / path

    @property
    def label(self) -> str:
        return "bm25" if self.kind == "bm25" else f"{self.kind}:{self.path}"


def parse_member(spec: str) -> Member:
    """``cross-encoder:PATH``, ``bi-encoder:NAME|PATH`` or ``bm25`` (the ``--member`` flag)."""
    if spec == "bm25":
        return Member("bm25", "bm25")
    kind, sep, path = spec.partition(":")
    if not sep or kind not in KINDS[:2] or not path:
        raise PipelineError(f"--member {spec!r}: expected cross-encoder:PATH, bi-encoder:NAME|PATH or bm25")
    return Member(kind, path)


def check_first_stage(members: Sequence[Member], first_stage: str, k1: float = 0.9, b: float = 0.4) -> None:
    """A ``bm25`` member takes the candidates' scores as BM25's: they must come from BM25 with its k1 and b.

    ``first_stage`` is ``bm25`` for a search, the run tag of a candidates file, or the name of
    another first stage (``dense``, ``hybrid``, ``bm25+rm3``, ...), which is refused.
    """
    for m in members:
        if m.kind != "bm25":
            continue
        if "bm25" not in first_stage.lower() or "rm3" in first_stage.lower():
            raise PipelineError(f"the ensemble's bm25 member takes the candidates' scores as BM25's, but they come "
                                f"from {first_stage}: rerank BM25 candidates (--first-stage bm25)")
        if (k1, b) != (m.k1, m.b):
            raise PipelineError(f"the ensemble's bm25 member was fitted on BM25 with k1 {m.k1} and b {m.b}, not "
                                f"{k1} and {b}: search with --k1 {m.k1} --b {m.b}")


def is_ensemble(path: Path) -> bool:
    """True when ``path`` is an ensemble's directory."""
    return (path / ENSEMBLE_FILE).is_file()


def read_ensemble(path: Path) -> list[Member]:
    """The members recorded in ``path/ensemble.json``, each checked."""
    file = path / ENSEMBLE_FILE
    try:
        members = [Member(**m) for m in json.loads(file.read_text())["members"]]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise PipelineError(f"{file}: not an ensemble ({err})") from None
    for m in members:
        if m.kind not in KINDS:
            raise PipelineError(f"{file}: member {m.path} has kind {m.kind!r}, not one of {', '.join(KINDS)}")
    if not members:
        raise PipelineError(f"{file}: an ensemble needs at least one member")
    return members


def write_ensemble(path: Path, members: Sequence[Member], **record: object) -> None:
    """Write ``path/ensemble.json`` atomically, with what the fit measured (``record``)."""
    write_json(path / ENSEMBLE_FILE, {"members": [asdict(m) for m in members], **record})


def combine(runs: Sequence[Run], weights: Sequence[float]) -> Run:
    """``sum_i weights[i] * runs[i][q][d]`` for every pair; every run must score the same pairs."""
    first = runs[0]
    for i, run in enumerate(runs[1:], 1):
        if any(run.get(q, {}).keys() != docs.keys() for q, docs in first.items()) or run.keys() != first.keys():
            raise PipelineError(f"ensemble member {i} scored other pairs than member 0: members must rerank the "
                                f"same candidates")
    return {q: {d: sum(w * run[q][d] for run, w in zip(runs, weights, strict=True)) for d in docs}
            for q, docs in first.items()}


def cosine_rerank(candidates: Run, topics: Topics, passages: Passages, member: Member, device: str = "cpu",
                  progress: bool = True) -> Run:
    """Every candidate scored by a bi-encoder member: ``scale`` x the cosine of query and passage."""
    from pipeline.indexing.biencoder import BiEncoder

    model = BiEncoder(member.location, device=device, max_length=member.max_length)
    queries = {q: topics.get(q, "") for q in candidates}
    texts = {d: passages.get(d) for docs in candidates.values() for d in docs}
    distinct = list(dict.fromkeys([*queries.values(), *texts.values()]))
    with tqdm(total=len(distinct), desc=f"bi-encoder {member.path}", unit=" texts", disable=not progress) as bar:
        vec = model.encode_kept(distinct, on_batch=bar.update)
    return {q: {d: float(member.scale * vec[queries[q]] @ vec[texts[d]]) for d in docs}
            for q, docs in candidates.items()}


def member_run(member: Member, candidates: Run, topics: Topics, passages: Passages, cache: Path | None,
               progress: bool = True) -> Run:
    """``member``'s scores of ``candidates``, cached in ``cache`` (a cross-encoder's rerank resumes from
    its ``.partial`` checkpoint, as ``pipeline.run``'s does); a ``bm25`` member's are the candidates'
    own scores (see :func:`check_first_stage`), and it has no cache."""
    from pipeline.runfiles.trec import read_run, write_run

    if member.kind == "bm25":
        return {q: dict(docs) for q, docs in candidates.items()}
    assert cache is not None
    if cache.is_file():
        return read_run(cache)
    if member.kind == "bi-encoder":
        run = cosine_rerank(candidates, topics, passages, member, progress=progress)
    else:
        from pipeline.common.distributed import available_cores
        from pipeline.rerank.crossencoder import CrossEncoder
        from pipeline.rerank.rescore import clear_checkpoint, rerank

        model = CrossEncoder(member.location, threads=available_cores())
        settings = {"path": str(member.location.resolve()), "max_length": model.max_length,
                    "weights_mtime": weights_mtimes(member.location)}
        partial = cache.with_name(cache.name + ".partial")
        run, _ = rerank(candidates, topics, passages, model, partial, settings, progress=progress)
        clear_checkpoint(partial)
    write_run(cache, run, "member")
    return read_run(cache)  # the scores as stored, so a cached and a fresh fit agree to the digit


class EnsembleScorer:
    """An ensemble's members loaded once, scoring (query, passage) pairs afresh and keeping nothing:
    each bi-encoder encodes the distinct texts once, each cross-encoder scores every pair, and a
    ``bm25`` member takes the first stage's scores given. This is what a rerank costs when no
    member's run is cached, and ``benchmarks/teacher_speedup.py`` times it against the students on
    the same pairs."""

    def __init__(self, members: Sequence[Member], device: str = "cpu") -> None:
        from pipeline.indexing.biencoder import BiEncoder
        from pipeline.rerank.crossencoder import CrossEncoder

        self.members = list(members)
        self.models = [None if m.kind == "bm25" else BiEncoder(m.location, device=device, max_length=m.max_length)
                       if m.kind == "bi-encoder" else CrossEncoder(m.location, device=device) for m in self.members]

    def score(self, queries: Sequence[str], passages: Sequence[str],
              bm25: Sequence[float] | None = None) -> np.ndarray:
        """The weighted sum of the members' raw scores of each pair; ``bm25``: each pair's BM25 score."""
        total = np.zeros(len(queries))
        distinct = list(dict.fromkeys([*queries, *passages]))  # what each bi-encoder encodes, once
        row = {text: i for i, text in enumerate(distinct)}
        query_rows, passage_rows = [row[t] for t in queries], [row[t] for t in passages]
        for member, model in zip(self.members, self.models, strict=True):
            if member.kind == "bm25":
                if bm25 is None or len(bm25) != len(queries):
                    raise PipelineError("the ensemble has a bm25 member: give each pair's BM25 score")
                part = np.asarray(bm25, dtype=float)
            elif member.kind == "bi-encoder":
                vectors = model.encode(distinct)
                part = member.scale * np.einsum("ij,ij->i", vectors[query_rows], vectors[passage_rows])
            else:
                part = model.score(queries, passages)
            total += member.weight * part
        return total


def member_cache(member: Member, name: str, candidates: Run) -> Path | None:
    """Where ``member``'s run of ``candidates`` (of dataset split ``name``) is cached: keyed by the
    member, its weights' times and the candidates (None for ``bm25``, whose run is the candidates)."""
    import hashlib

    from pipeline.common.paths import RUN_CACHE

    if member.kind == "bm25":
        return None
    key = hashlib.sha256(json.dumps([member.label, member.scale, member.max_length, str(member.location.resolve()),
                                     weights_mtimes(member.location),
                                     sorted((q, sorted(d)) for q, d in candidates.items())]).encode()).hexdigest()[:16]
    return RUN_CACHE / f"{name}.ensemble-member.{key}.trec"


def ensemble_rerank(members: Sequence[Member], candidates: Run, topics: Topics, passages: Passages, name: str,
                    progress: bool = True) -> tuple[Run, dict]:
    """Rerank ``candidates`` (of dataset split ``name``) with an ensemble: each member's run (cached, so
    a rerun or another ensemble of the same members scores nothing twice), weighted and summed.

    Returns the run and, per member, its weight, the seconds it took and whether its run was cached.
    """
    import time

    runs, info = [], []
    for m in members:
        cache = member_cache(m, name, candidates)
        cached, t0 = cache is not None and cache.is_file(), time.perf_counter()
        runs.append(member_run(m, candidates, topics, passages, cache, progress))
        info.append({"member": m.label, "weight": m.weight, "cached": cached,
                     "seconds": round(time.perf_counter() - t0, 3)})
    pairs = sum(len(d) for d in candidates.values())
    scored = sum(i["seconds"] for i in info if not i["cached"])
    return combine(runs, [m.weight for m in members]), {
        "members": info, "pairs": pairs, "seconds": round(scored, 3),
        "pairs_per_s": round(pairs / scored, 1) if scored and not any(i["cached"] for i in info) else None}
