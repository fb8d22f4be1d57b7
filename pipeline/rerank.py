"""The reranking stage: rescoring a candidate run with a cross-encoder, resumably.

Queries are processed in fixed chunks (consecutive queries until ``chunk_pairs`` pairs), so
each batch is formed from the pairs of many queries sorted by length. After each chunk its
scores are appended to a checkpoint file and fsynced; a rerun with the same settings skips the
finished chunks. Chunks are a deterministic function of the candidates, so a resumed run
computes every batch exactly as an uninterrupted one and the final run is byte-identical.

Under ``torchrun`` the chunks are shared out among the ranks by their token counts
(:func:`pipeline.distributed.assign`); each rank scores its chunks on its own device and appends
them to its own checkpoint file, and rank 0 gathers the scores. A rank restarted after a failure
reads every rank's checkpoint, so only unfinished chunks are scored again, and since a chunk is
batched the same way wherever it runs, the run equals the single-process one.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from pipeline.crossencoder import CrossEncoder, pair_tokens, token_counts
from pipeline.distributed import World, assign
from pipeline.passages import Passages
from pipeline.runs import Run, rank
from pipeline.topics import Topics

CHUNK_PAIRS = 8192


@dataclass
class RerankStats:
    """What happened during reranking, for the run's sidecar."""

    pairs: int = 0
    scored_now: int = 0
    resumed_pairs: int = 0
    truncated_passages: int = 0
    empty_passages: int = 0
    empty_queries: list[str] = field(default_factory=list)
    recomputed_fp32_batches: int = 0
    seconds: float = 0.0

    @property
    def pairs_per_s(self) -> float:
        return self.scored_now / self.seconds if self.seconds else 0.0

    def merge(self, other: RerankStats) -> RerankStats:
        """The statistics of two ranks' shares of one run (their wall time is the longer one)."""
        summed = {k: getattr(self, k) + getattr(other, k) for k in
                  ("pairs", "scored_now", "resumed_pairs", "truncated_passages", "empty_passages",
                   "empty_queries", "recomputed_fp32_batches")}
        return RerankStats(**summed, seconds=max(self.seconds, other.seconds))

    def as_dict(self) -> dict:
        return {**asdict(self), "pairs_per_s": round(self.pairs_per_s, 1)}


def chunks(candidates: Run, chunk_pairs: int = CHUNK_PAIRS) -> Iterator[list[str]]:
    """Consecutive groups of query ids holding at least ``chunk_pairs`` pairs (the last may hold fewer)."""
    group: list[str] = []
    size = 0
    for qid, docs in candidates.items():
        group.append(qid)
        size += len(docs)
        if size >= chunk_pairs:
            yield group
            group, size = [], 0
    if group:
        yield group


def _fingerprint(settings: dict, candidates: Run) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for qid, docs in candidates.items():
        h.update(qid.encode())
        for docid, _ in rank(docs):
            h.update(b"\0" + docid.encode())
    return h.hexdigest()


def checkpoint_files(checkpoint: Path) -> list[Path]:
    """The checkpoint file and those of the ranks of a distributed run (``<checkpoint>.rank<N>``)."""
    return sorted(checkpoint.parent.glob(checkpoint.name + "*")) if checkpoint.parent.is_dir() else []


def _load_checkpoint(path: Path, fingerprint: str) -> dict[str, dict[str, float]]:
    """Scores saved by an earlier, interrupted run with the same fingerprint (else nothing)."""
    done: dict[str, dict[str, float]] = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return done
    if not lines or lines[0] != json.dumps({"fingerprint": fingerprint}):
        return done
    for line in lines[1:]:
        try:
            done.update(json.loads(line))
        except json.JSONDecodeError:  # the last line of a killed write
            break
    return done


def _chunk_tokens(model: CrossEncoder, topics: Topics, passages: Passages, candidates: Run,
                  groups: list[list[str]]) -> list[int]:
    """Tokens each chunk's pairs will take (capped at the model's max length): the cost to balance."""
    qids = list(candidates)
    q_len = dict(zip(qids, token_counts(model.tokenizer, [topics.get(q, "") for q in qids]), strict=True))
    docids = list(dict.fromkeys(d for docs in candidates.values() for d in docs))
    p_len = dict(zip(docids, token_counts(model.tokenizer, [passages.get(d) for d in docids]), strict=True))
    return [sum(pair_tokens(q_len[q], p_len[d], model.max_length) for q in group for d in candidates[q])
            for group in groups]


def rerank(candidates: Run, topics: Topics, passages: Passages, model: CrossEncoder, checkpoint: Path,
           settings: dict, chunk_pairs: int = CHUNK_PAIRS, progress: bool = True,
           world: World | None = None) -> tuple[Run | None, RerankStats | None]:
    """Rescore every candidate with ``model``; returns the reranked run and statistics.

    ``settings`` (model, dtype, max length...) and the candidates themselves decide whether a
    checkpoint left by an interrupted run can be reused. With a distributed ``world``, every rank
    calls this with the same candidates and only rank 0 gets the run and the statistics (the other
    ranks get ``None``).
    """
    world = world or World()
    fingerprint = _fingerprint({**settings, "chunk_pairs": chunk_pairs}, candidates)
    saved = {path: _load_checkpoint(path, fingerprint) for path in checkpoint_files(checkpoint)}
    done = {q: scores for chunk in saved.values() for q, scores in chunk.items()}
    groups = list(chunks(candidates, chunk_pairs))
    if world.distributed:
        if world.main and len(groups) < 4 * world.size:
            print(f"note: {len(groups)} chunks for {world.size} ranks: shares are whole chunks, so some ranks will "
                  f"wait; a smaller --chunk-pairs (now {chunk_pairs}) balances them", file=sys.stderr)
        mine = assign(_chunk_tokens(model, topics, passages, candidates, groups), world.size)[world.rank]
        groups = [groups[i] for i in mine]
        checkpoint = checkpoint.with_name(f"{checkpoint.name}.rank{world.rank}")
    own = saved.get(checkpoint)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if not own:
        with open(checkpoint, "w", encoding="utf-8") as f:
            f.write(json.dumps({"fingerprint": fingerprint}) + "\n")
    stats = RerankStats(pairs=sum(len(candidates[q]) for group in groups for q in group))
    stats.empty_queries = [q for group in groups for q in group if not topics.get(q, "").strip()]
    out: Run = {}
    t0 = time.perf_counter()
    with tqdm(total=stats.pairs, desc="rerank" + (f" rank {world.rank}" if world.distributed else ""),
              unit=" pairs", unit_scale=True, disable=not progress, position=world.local_rank) as bar, \
            open(checkpoint, "a", encoding="utf-8") as log:
        for group in groups:
            if all(q in done for q in group):
                for q in group:
                    out[q] = done[q]
                n = sum(len(candidates[q]) for q in group)
                stats.resumed_pairs += n
                bar.update(n)
                continue
            docids = [(q, d) for q in group for d, _ in rank(candidates[q])]
            texts = [passages.get(d) for _, d in docids]
            stats.empty_passages += sum(not t.strip() for t in texts)
            encoded = model.encode([topics.get(q, "") for q, _ in docids], texts)
            stats.truncated_passages += encoded.truncated
            scores = model.score_encoded(encoded, on_batch=bar.update)
            chunk_scores: dict[str, dict[str, float]] = {q: {} for q in group}
            for (q, d), s in zip(docids, scores.tolist(), strict=True):
                chunk_scores[q][d] = s
            out.update(chunk_scores)
            stats.scored_now += len(docids)
            log.write(json.dumps(chunk_scores) + "\n")
            log.flush()
            os.fsync(log.fileno())
    stats.seconds = time.perf_counter() - t0
    stats.recomputed_fp32_batches = model.recomputed_batches
    gathered = world.gather((out, stats))
    if gathered is None:
        return None, None
    for part, part_stats in gathered[1:]:
        out.update(part)
        stats = stats.merge(part_stats)
    return {q: out[q] for q in candidates}, stats
