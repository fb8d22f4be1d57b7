"""The teacher's scores for every training group, computed once and cached: the students' soft labels.

Under ``torchrun`` the groups are shared out among the ranks by token count, like reranking
(:func:`pipeline.distributed.assign`), and every rank receives all the scores.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tqdm import tqdm

from pipeline import distributed
from pipeline.atomic import write_json
from pipeline.crossencoder import CrossEncoder, available_cores, pair_tokens, token_counts
from pipeline.examples import CACHE, Group


def teacher_scores(teacher: Path, groups: list[Group], batch_size: int = 32, device: str | None = None,
                   max_length: int | None = None) -> list[list[float]]:
    """Scores of each group's passages by ``teacher``, cached by teacher weights and groups."""
    weights = sorted(teacher.glob("*.safetensors"))
    h = hashlib.sha256(json.dumps([str(teacher.resolve()), [w.stat().st_mtime_ns for w in weights], max_length,
                                   [(g.qid, g.docids) for g in groups]]).encode()).hexdigest()[:16]
    cache = CACHE / f"teacher-scores.{teacher.name}.{h}.json"
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
