"""The reranking stage: rescoring a candidate run with a cross-encoder, resumably.

Queries are processed in fixed chunks (consecutive queries until ``chunk_pairs`` pairs), so
each batch is formed from the pairs of many queries sorted by length. After each chunk its
scores are appended to a checkpoint file and fsynced; a rerun with the same settings skips the
finished chunks. Within a chunk, the batches scored so far are appended too, at least every
``checkpoint_seconds`` of work (default :data:`CHECKPOINT_SECONDS`) and when the run is
interrupted (Ctrl-C or SIGTERM), so a long chunk is not lost either. Chunks and their batches
are a deterministic function of the candidates, so a resumed run computes every batch exactly
as an uninterrupted one and the final run is byte-identical.

Under ``torchrun`` the chunks are shared out among the ranks by their token counts
(:func:`pipeline.common.distributed.assign`); each rank scores its chunks on its own device and appends
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

from pipeline.collection.topics import Topics
from pipeline.common.distributed import World, assign
from pipeline.common.tokens import pair_tokens, token_counts
from pipeline.indexing.passages import Passages
from pipeline.rerank.crossencoder import CrossEncoder
from pipeline.runfiles.trec import Run, rank

CHUNK_PAIRS = 8192
CHECKPOINT_SECONDS = 60.0


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


def clear_checkpoint(checkpoint: Path) -> None:
    """Remove a finished rerank's checkpoint and its ranks' (its run is written: nothing to resume)."""
    for path in checkpoint_files(checkpoint):
        path.unlink(missing_ok=True)


Partial = dict[str, dict[int, list[float]]]  # a chunk's first query -> batch number -> its scores


def _load_checkpoint(path: Path, fingerprint: str) -> tuple[dict[str, dict[str, float]], Partial]:
    """Scores saved by an earlier, interrupted run with the same fingerprint (else nothing): whole
    chunks' scores by query, and the batches of unfinished chunks."""
    done: dict[str, dict[str, float]] = {}
    partial: Partial = {}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return done, partial
    if not lines or lines[0] != json.dumps({"fingerprint": fingerprint}):
        return done, partial
    for line in lines[1:]:
        try:
            saved = json.loads(line)
        except json.JSONDecodeError:  # the last line of a killed write
            break
        if "partial" in saved:
            partial.setdefault(saved["partial"], {}).update({int(b): v for b, v in saved["batches"].items()})
        else:
            done.update(saved)
    return done, partial


def _chunk_tokens(model: CrossEncoder, topics: Topics, passages: Passages, candidates: Run,
                  groups: list[list[str]]) -> list[int]:
    """Tokens each chunk's pairs will take (capped at the model's max length): the cost to balance."""
    qids = list(candidates)
    q_len = dict(zip(qids, token_counts(model.tokenizer, [topics.get(q, "") for q in qids]), strict=True))
    docids = list(dict.fromkeys(d for docs in candidates.values() for d in docs))
    p_len = dict(zip(docids, token_counts(model.tokenizer, [passages.get(d) for d in docids]), strict=True))
    return [sum(pair_tokens(q_len[q], p_len[d], model.max_length) for q in group for d in candidates[q])
            for group in groups]


class _BatchSaver:
    """Appends a chunk's newly scored batches to the checkpoint, at least every ``seconds``, and on
    :meth:`flush`."""

    def __init__(self, log, seconds: float) -> None:
        self.log, self.seconds, self.key, self.pending, self.saved = log, seconds, "", {}, 0
        self.since = time.monotonic()

    def start(self, key: str) -> None:
        """Batches from now on belong to the chunk whose first query is ``key``; ``saved`` counts its pairs
        appended so far (a finished chunk's line supersedes them: :meth:`finish`)."""
        self.key, self.pending, self.saved = key, {}, 0

    def add(self, number: int, scores) -> None:
        self.pending[number] = scores.tolist()
        if time.monotonic() - self.since >= self.seconds:
            self.flush()

    def finish(self, chunk_scores: dict[str, dict[str, float]]) -> None:
        """Append the finished chunk's scores by query, which supersede its batches."""
        self.start("")
        self._append(chunk_scores)

    def flush(self) -> None:
        """Append the batches scored since the last save."""
        if self.pending:
            self._append({"partial": self.key, "batches": self.pending})
            self.saved += sum(len(v) for v in self.pending.values())
            self.pending = {}
        self.since = time.monotonic()

    def _append(self, record: dict) -> None:
        """One JSON line, on disk (fsync) before the next batch is scored."""
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()
        os.fsync(self.log.fileno())
        self.since = time.monotonic()


def _rerank_chunk(group: list[str], candidates: Run, topics: Topics, passages: Passages, model: CrossEncoder,
                  done: dict[str, dict[str, float]], partial: Partial, out: Run, stats: RerankStats,
                  saver: _BatchSaver, bar: tqdm) -> None:
    """Score one chunk (or take it from the checkpoint), add it to ``out`` and append it to the log."""
    if all(q in done for q in group):
        for q in group:
            out[q] = done[q]
        n = sum(len(candidates[q]) for q in group)
        stats.resumed_pairs += n
        bar.update(n)
        return
    docids = [(q, d) for q in group for d, _ in rank(candidates[q])]
    texts = [passages.get(d) for _, d in docids]
    stats.empty_passages += sum(not t.strip() for t in texts)
    encoded = model.encode([topics.get(q, "") for q, _ in docids], texts)
    stats.truncated_passages += encoded.truncated
    resumed = partial.get(group[0], {})
    n_resumed = sum(len(v) for v in resumed.values())
    stats.resumed_pairs += n_resumed
    saver.start(group[0])
    scores = model.score_encoded(encoded, on_batch=bar.update, done=resumed, on_scores=saver.add)
    chunk_scores: dict[str, dict[str, float]] = {q: {} for q in group}
    for (q, d), s in zip(docids, scores.tolist(), strict=True):
        chunk_scores[q][d] = s
    out.update(chunk_scores)
    stats.scored_now += len(docids) - n_resumed
    saver.finish(chunk_scores)


def rerank(candidates: Run, topics: Topics, passages: Passages, model: CrossEncoder, checkpoint: Path,
           settings: dict, chunk_pairs: int = CHUNK_PAIRS, progress: bool = True,
           world: World | None = None, checkpoint_seconds: float = CHECKPOINT_SECONDS,
           ) -> tuple[Run | None, RerankStats | None]:
    """Rescore every candidate with ``model``; returns the reranked run and statistics.

    ``settings`` (model, dtype, max length...) and the candidates themselves decide whether a
    checkpoint left by an interrupted run can be reused. With a distributed ``world``, every rank
    calls this with the same candidates and only rank 0 gets the run and the statistics (the other
    ranks get ``None``).
    """
    world = world or World()
    fingerprint = _fingerprint({**settings, "chunk_pairs": chunk_pairs}, candidates)
    saved = {path: _load_checkpoint(path, fingerprint) for path in checkpoint_files(checkpoint)}
    done = {q: scores for chunk, _ in saved.values() for q, scores in chunk.items()}
    partial = {key: batches for _, part in saved.values() for key, batches in part.items()}
    groups = list(chunks(candidates, chunk_pairs))
    if world.distributed:
        if world.main and len(groups) < 4 * world.size:
            print(f"note: {len(groups)} chunks for {world.size} ranks: shares are whole chunks, so some ranks will "
                  f"wait; a smaller --chunk-pairs (now {chunk_pairs}) balances them", file=sys.stderr)
        mine = assign(_chunk_tokens(model, topics, passages, candidates, groups), world.size)[world.rank]
        groups = [groups[i] for i in mine]
        checkpoint = checkpoint.with_name(f"{checkpoint.name}.rank{world.rank}")
    own = saved.get(checkpoint, ({}, {}))
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    if not any(own):
        with open(checkpoint, "w", encoding="utf-8") as f:
            f.write(json.dumps({"fingerprint": fingerprint}) + "\n")
    stats = RerankStats(pairs=sum(len(candidates[q]) for group in groups for q in group))
    stats.empty_queries = [q for group in groups for q in group if not topics.get(q, "").strip()]
    out: Run = {}
    t0 = time.perf_counter()
    with tqdm(total=stats.pairs, desc="rerank" + (f" rank {world.rank}" if world.distributed else ""),
              unit=" pairs", unit_scale=True, disable=not progress, position=world.local_rank) as bar, \
            open(checkpoint, "a", encoding="utf-8") as log:
        saver = _BatchSaver(log, checkpoint_seconds)
        try:
            for group in groups:
                _rerank_chunk(group, candidates, topics, passages, model, done, partial, out, stats, saver, bar)
        except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: keep the finished batches, say how to resume
            saver.flush()
            err.args = (f"{stats.resumed_pairs + stats.scored_now + saver.saved} of {stats.pairs} pairs are saved "
                        f"in {checkpoint}; run the same command again to resume",)
            raise
    stats.seconds = time.perf_counter() - t0
    stats.recomputed_fp32_batches = model.recomputed_batches
    gathered = world.gather((out, stats))
    if gathered is None:
        return None, None
    for part, part_stats in gathered[1:]:
        out.update(part)
        stats = stats.merge(part_stats)
    return {q: out[q] for q in candidates}, stats
