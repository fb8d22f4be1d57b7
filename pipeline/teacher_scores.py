"""The teacher's scores for every training group, computed once and cached: the students' soft labels."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tqdm import tqdm

from pipeline.atomic import write_json
from pipeline.crossencoder import CrossEncoder
from pipeline.examples import CACHE, Group


def teacher_scores(teacher: Path, groups: list[Group], batch_size: int = 32, device: str = "cpu",
                   max_length: int | None = None) -> list[list[float]]:
    """Scores of each group's passages by ``teacher``, cached by teacher weights and groups."""
    weights = sorted(teacher.glob("*.safetensors"))
    h = hashlib.sha256(json.dumps([str(teacher.resolve()), [w.stat().st_mtime_ns for w in weights], max_length,
                                   [(g.qid, g.docids) for g in groups]]).encode()).hexdigest()[:16]
    cache = CACHE / f"teacher-scores.{teacher.name}.{h}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    model = CrossEncoder(teacher, device=device, batch_size=batch_size, max_length=max_length)
    pairs = [(g.query, t) for g in groups for t in g.texts]
    with tqdm(total=len(pairs), desc="teacher scores", unit=" pairs") as bar:
        flat = model.score_encoded(model.encode([q for q, _ in pairs], [t for _, t in pairs]), on_batch=bar.update)
    scores, i = [], 0
    for g in groups:
        scores.append(flat[i:i + len(g.texts)].tolist())
        i += len(g.texts)
    write_json(cache, scores)
    return scores
