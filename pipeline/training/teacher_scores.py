"""The teacher's scores for every training group, computed once and cached: the students' soft labels.

A cross-encoder teacher scores each (query, passage) pair (:func:`teacher_scores`); a bi-encoder
(:func:`biencoder_scores`) gives the scaled cosine of the two vectors, so a cross-encoder can learn
from a ranker that already knows web search. Under ``torchrun`` the cross-encoder's groups are
shared out among the ranks by token count, like reranking (:func:`pipeline.common.distributed.assign`),
and every rank receives all the scores.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tqdm import tqdm

from pipeline.common import distributed
from pipeline.common.atomic import write_json
from pipeline.common.distributed import available_cores
from pipeline.common.paths import MODEL_CACHE
from pipeline.common.provenance import weights_mtimes
from pipeline.common.tokens import pair_tokens, token_counts
from pipeline.rerank.crossencoder import CrossEncoder
from pipeline.training.examples import Group


def teacher_scores(teacher: Path, groups: list[Group], batch_size: int = 32, device: str | None = None,
                   max_length: int | None = None) -> list[list[float]]:
    """Scores of each group's passages by ``teacher``, cached by teacher weights and groups."""
    cache = _cache(teacher, groups, max_length)
    if cache.is_file():
        return json.loads(cache.read_text())
    world = distributed.world()
    model = CrossEncoder(teacher, device=world.device(device), batch_size=batch_size, max_length=max_length,
                         threads=world.cpu_threads(available_cores()))
    mine = list(range(len(groups)))
    if world.distributed:
        distinct = list(dict.fromkeys([g.query for g in groups] + [t for g in groups for t in g.texts]))
        n = dict(zip(distinct, token_counts(model.tokenizer, distinct), strict=True))
        costs = [sum(pair_tokens(n[g.query], n[t], model.max_length) for t in g.texts) for g in groups]
        mine = distributed.assign(costs, world.size)[world.rank]
    pairs = [(groups[i].query, t) for i in mine for t in groups[i].texts]
    with tqdm(total=len(pairs), desc="teacher scores", unit=" pairs", position=world.local_rank) as bar:
        flat = model.score_encoded(model.encode([q for q, _ in pairs], [t for _, t in pairs]), on_batch=bar.update)
    scores: list[list[float] | None] = [None] * len(groups)
    offset = 0
    for i in mine:
        n = len(groups[i].texts)
        scores[i] = flat[offset:offset + n].tolist()
        offset += n
    for share in world.all_gather({i: scores[i] for i in mine}):
        for i, s in share.items():
            scores[i] = s
    if world.main:
        write_json(cache, scores)
    return scores


def biencoder_scores(encoder: Path, groups: list[Group], scale: float = 20.0, max_length: int | None = None,
                     dtype: str = "fp32", device: str = "cpu") -> list[list[float]]:
    """``scale`` x the cosine (or dot, for an unnormalised encoder) of each group's query and passages.

    ``scale`` 20 is sentence-transformers' ``MultipleNegativesRankingLoss`` scale, the softmax
    temperature (1/20) such bi-encoders were trained at. Each distinct text is encoded once, through
    the encoder's vector store (a killed pass resumes); the scores are cached like :func:`teacher_scores`.
    """
    from pipeline.indexing.biencoder import BiEncoder

    cache = _cache(encoder, groups, ["biencoder", scale, max_length, dtype])
    if cache.is_file():
        return json.loads(cache.read_text())
    model = BiEncoder(encoder, device=device, dtype=dtype, max_length=max_length)
    texts = list(dict.fromkeys([g.query for g in groups] + [t for g in groups for t in g.texts]))
    with tqdm(total=len(texts), desc="bi-encoder scores", unit=" texts") as bar:
        vec = model.encode_kept(texts, on_batch=bar.update)
    scores = [[float(scale * vec[g.query] @ vec[t]) for t in g.texts] for g in groups]
    write_json(cache, scores)
    return scores


def _cache(model: Path, groups: list[Group], how: object) -> Path:
    """The cache file of ``model``'s scores of ``groups`` (keyed by its weights' path and times, and ``how``)."""
    h = hashlib.sha256(json.dumps([str(model.resolve()), weights_mtimes(model), how,
                                   [(g.qid, g.docids) for g in groups]]).encode()).hexdigest()[:16]
    return MODEL_CACHE / f"teacher-scores.{model.name}.{h}.json"
