"""Long documents: each candidate split into overlapping passages, every passage scored, the scores
aggregated per document (BERT-MaxP, -FirstP and -SumP of Dai & Callan, SIGIR 2019).

A cross-encoder reads at most its max length; a longer document is otherwise cut, so its score
is FirstP by accident. Here a document's words are cut into windows of ``length`` words every
``stride`` words (PyTerrier's ``pt.text.sliding`` and Dai & Callan use 150 and 75), the last
window reaching the end of the document, and a document's score is one of:

- ``first``: the first passage's score (FirstP);
- ``max``: the best passage's (MaxP);
- ``sum``: the passages' sum (SumP), which favours long documents;
- ``mean``: their mean;
- ``kmax-avg``: the mean of the ``k`` best (all of them when a document has fewer).

Passages are reranked as candidates of their own (ids ``docid%pN``, PyTerrier's convention), so
they are batched across documents by length, checkpointed and resumed exactly as passages are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from pipeline.collection.corpora import Doc
from pipeline.common.errors import PipelineError
from pipeline.indexing.passages import Passages
from pipeline.runfiles.trec import Run

AGGREGATES = ("first", "max", "sum", "mean", "kmax-avg")
SEPARATOR = "%p"  # a passage's id: the document's, this, and its number from 0


@dataclass(frozen=True)
class Splitting:
    """How documents become passages and passage scores a document's score."""

    length: int = 150  # words per passage
    stride: int = 75  # words between the starts of consecutive passages
    aggregate: str = "first"
    k: int = 3  # kmax-avg: passages averaged

    def __post_init__(self) -> None:
        if self.length < 1 or self.stride < 1:
            raise PipelineError(f"--passage-length and --stride must be positive, got {self.length} and {self.stride}")
        if self.stride > self.length:
            raise PipelineError(f"--stride {self.stride} is over --passage-length {self.length}: words between "
                                f"passages would never be read")
        if self.aggregate not in AGGREGATES:
            raise PipelineError(f"--aggregate {self.aggregate!r}: expected one of {', '.join(AGGREGATES)}")
        if self.k < 1:
            raise PipelineError(f"--kmax must be positive, got {self.k}")


def windows(text: str, length: int, stride: int, most: int | None = None) -> list[str]:
    """``text``'s words in windows of ``length`` words starting every ``stride`` words; the last window
    ends at the last word, and a text of at most ``length`` words is one window (an empty one, one
    empty window). ``most``: only the first ``most`` windows."""
    words = text.split()
    starts = [0]
    while starts[-1] + length < len(words) and (most is None or len(starts) < most):
        starts.append(starts[-1] + stride)
    return [" ".join(words[s:s + length]) for s in starts]


def split_candidates(candidates: Run, passages: Passages, splitting: Splitting) -> tuple[Run, Passages, dict]:
    """Every candidate document's passages as candidates (each with its document's first-stage score),
    their texts, and how many passages the documents gave."""
    texts: dict[str, list[str]] = {}
    for docs in candidates.values():
        for d in docs:
            if d not in texts:
                texts[d] = windows(passages.get(d), splitting.length, splitting.stride,
                                   most=1 if splitting.aggregate == "first" else None)
    run = {q: {f"{d}{SEPARATOR}{i}": s for d, s in docs.items() for i in range(len(texts[d]))}
           for q, docs in candidates.items()}
    source = Passages(docs=(Doc(f"{d}{SEPARATOR}{i}", "", t) for d, ts in texts.items() for i, t in enumerate(ts)))
    counts = [len(ts) for ts in texts.values()]
    return run, source, {**asdict(splitting), "documents": len(counts), "passages": sum(counts),
                         "split_documents": sum(n > 1 for n in counts),
                         "passages_per_document": {"mean": round(float(np.mean(counts)), 3) if counts else 0.0,
                                                   "max": max(counts, default=0)}}


def aggregate(scores: Sequence[float], how: str, k: int = 3) -> float:
    """One document's score from its passages' scores, in passage order (see the module's list)."""
    if not scores:
        raise PipelineError("a document with no passage scores")
    if how == "first":
        return float(scores[0])
    if how == "max":
        return float(max(scores))
    if how == "sum":
        return float(sum(scores))
    if how == "mean":
        return float(np.mean(scores))
    if how == "kmax-avg":
        return float(np.mean(sorted(scores, reverse=True)[:k]))
    raise PipelineError(f"unknown aggregate {how!r}: expected one of {', '.join(AGGREGATES)}")


def document_run(passage_run: Run, candidates: Run, splitting: Splitting) -> Run:
    """The documents' scores from their passages' (``docid%pN``), for exactly the candidate documents."""
    out: Run = {}
    for q, docs in candidates.items():
        by_doc: dict[str, list[tuple[int, float]]] = {d: [] for d in docs}
        for pid, s in passage_run.get(q, {}).items():
            d, _, n = pid.rpartition(SEPARATOR)
            by_doc[d].append((int(n), s))
        out[q] = {d: aggregate([s for _, s in sorted(ps)], splitting.aggregate, splitting.k)
                  for d, ps in by_doc.items()}
    return out
