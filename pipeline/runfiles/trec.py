"""TREC run files: the one place that reads and writes them.

A :data:`Run` is ``{qid: {docid: score}}``. Writing sorts each query the way trec_eval does
(score descending, ties by docid in *descending* string order, as ``strcmp`` in trec_eval's
``form_res_rels.c``), numbers ranks from 1 in that order and writes scores at full precision
(``repr`` of the float), so the rank column always agrees with what trec_eval computes.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.common.atomic import atomic_open
from pipeline.common.errors import PipelineError, located
from pipeline.common.textfiles import read_lines

Run = dict[str, dict[str, float]]
Ranking = list[tuple[str, float]]
OUTPUT_FORMATS = ("trec", "msmarco")

_TAG = re.compile(r"^[A-Za-z0-9_-]+$")


def validate_tag(tag: str, max_length: int = 15) -> str:
    """Check a run tag against TREC's rule (1–15 of ``[A-Za-z0-9_-]``; 25 since DL 2022)."""
    if not (1 <= len(tag) <= max_length) or not _TAG.match(tag):
        raise PipelineError(f"invalid run tag {tag!r}: use 1-{max_length} characters from A-Z a-z 0-9 _ -")
    return tag


def rank(docs: dict[str, float]) -> Ranking:
    """One query's documents in trec_eval's order: score descending, then docid descending."""
    by_docid = sorted(docs.items(), key=lambda item: item[0], reverse=True)
    return sorted(by_docid, key=lambda item: -item[1])


def truncate(run: Run, depth: int) -> Run:
    """Keep the top ``depth`` documents of every query (in trec_eval's order)."""
    return {qid: dict(rank(docs)[:depth]) for qid, docs in run.items()}


def iter_run_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, list[str]]]:
    """``(line number, whitespace-separated columns)`` of every line that is not blank or a ``#`` comment."""
    for lineno, line in read_lines(Path(path)):
        cols = line.split()
        if cols and not cols[0].startswith("#"):
            yield lineno, cols


def read_run(path: str | os.PathLike[str]) -> Run:
    """Read a TREC 6-column run (or MS MARCO's 3-column ``qid pid rank``), plain or gzipped.

    As trec_eval does, the rank column of a TREC run is ignored and a docid repeated within a
    query is an error. For 3-column files the score is ``-rank``, which preserves their order.
    Lines starting with ``#`` are comments.
    """
    run: Run = {}
    for lineno, cols in iter_run_lines(path):
        if len(cols) == 6:
            qid, docid, score_text = cols[0], cols[2], cols[4]
        elif len(cols) == 3:
            qid, docid, score_text = cols[0], cols[1], cols[2]
        else:
            raise located(path, lineno, f"expected 6 columns (qid Q0 docid rank score tag) "
                                        f"or 3 (qid docid rank), got {len(cols)}")
        try:
            score = float(score_text)
        except ValueError:
            what = "score" if len(cols) == 6 else "rank"
            raise located(path, lineno, f"{what} must be a number, got {score_text!r}") from None
        if not math.isfinite(score):
            raise located(path, lineno, f"score must be finite, got {score_text!r}")
        if len(cols) == 3:
            score = -score
        docs = run.setdefault(qid, {})
        if docid in docs:
            raise located(path, lineno, f"document {docid!r} appears twice for query {qid!r}")
        docs[docid] = score
    return run


def format_trec(qid: str, ranking: Ranking, tag: str) -> Iterable[str]:
    """The 6-column lines of one query's ranking (already in order)."""
    for i, (docid, score) in enumerate(ranking, start=1):
        yield f"{qid} Q0 {docid} {i} {float(score)!r} {tag}\n"


def format_msmarco(qid: str, ranking: Ranking) -> Iterable[str]:
    """MS MARCO's tab-separated ``qid pid rank`` lines of one query's ranking."""
    for i, (docid, _) in enumerate(ranking, start=1):
        yield f"{qid}\t{docid}\t{i}\n"


def write_run(path: str | os.PathLike[str], run: Run, tag: str, fmt: str = "trec",
              depth: int | None = None) -> None:
    """Write ``run`` atomically in ``fmt`` (``trec`` or ``msmarco``); ``.gz`` paths are gzipped.

    Queries are written in the run's own order; within a query, in trec_eval's order, cut to
    ``depth`` when given.
    """
    validate_tag(tag, max_length=25)
    if fmt not in OUTPUT_FORMATS:
        raise PipelineError(f"unknown run format {fmt!r}; known: {', '.join(OUTPUT_FORMATS)}")
    with atomic_open(path) as f:
        for qid, docs in run.items():
            ranking = rank(docs)[:depth] if depth else rank(docs)
            f.writelines(format_trec(qid, ranking, tag) if fmt == "trec" else format_msmarco(qid, ranking))


def to_frame(run: Run, topics: dict[str, str] | None = None, passages=None):
    """``run`` as a pandas DataFrame with PyTerrier's columns ``qid``, ``docno``, ``score``, ``rank``
    (from 0, as PyTerrier numbers them), in trec_eval's order; plus ``query`` from ``topics`` and
    ``text`` from ``passages`` (anything with ``.get(docno)``, e.g. :class:`pipeline.indexing.passages.Passages`)
    when given."""
    import pandas as pd

    rows = [(qid, docno, score, i) for qid, docs in run.items() for i, (docno, score) in enumerate(rank(docs))]
    frame = pd.DataFrame(rows, columns=["qid", "docno", "score", "rank"])
    frame = frame.astype({"qid": str, "docno": str, "score": float, "rank": int})
    if topics is not None:
        frame.insert(1, "query", [topics.get(q, "") for q in frame["qid"]])
    if passages is not None:
        frame["text"] = [passages.get(d) for d in frame["docno"]]
    return frame


def from_frame(frame) -> Run:
    """A run from a DataFrame with PyTerrier's ``qid``, ``docno`` and ``score`` columns (others ignored;
    the order comes from the scores, as trec_eval's does); a docno twice in a query is an error."""
    missing = [c for c in ("qid", "docno", "score") if c not in frame.columns]
    if missing:
        raise PipelineError(f"a run's DataFrame needs columns qid, docno and score; missing {', '.join(missing)}")
    run: Run = {}
    for qid, docno, score in zip(frame["qid"].astype(str), frame["docno"].astype(str), frame["score"], strict=True):
        docs = run.setdefault(qid, {})
        if docno in docs:
            raise PipelineError(f"document {docno!r} appears twice for query {qid!r} in the DataFrame")
        if not math.isfinite(float(score)):
            raise PipelineError(f"query {qid!r}, document {docno!r}: score {score!r} is not a finite number")
        docs[docno] = float(score)
    return run


def run_tag(path: Path) -> str:
    """The tag (sixth column) of a run file's first line: what made its scores."""
    for _, line in read_lines(path):
        cols = line.split()
        return cols[5] if len(cols) == 6 else ""
    return ""
