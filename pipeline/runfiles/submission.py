"""Checking a run as a TREC submission, rule by rule, the way NIST's check scripts do (and more).

NIST's Perl checkers for TREC DL read a run line by line, report each problem with its line
number, and give up after 25 errors. They check the 6-column format, one well-formed tag, the
topic ids, at least one and at most the allowed number of documents per topic, and duplicate
docids. They do not check what the guidelines also require, so we add it: ranks 1..n without
gaps, scores that never increase down the ranking (by rank), tied documents ranked otherwise than
trec_eval orders them (a warning: trec_eval breaks ties by docid, descending, not by your ranks),
and, when a collection is given, docids it does not hold.

Errors make a run unfit to submit; warnings do not. ``Q0`` in column 2 and ``#`` comment lines
are warnings (trec_eval ignores both; the normalised submission drops comments).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from pipeline.common.textfiles import read_lines
from pipeline.runfiles.trec import Run, rank

MAX_ERRORS = 25
_TAG = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Problem:
    """One finding: the 1-based line it is about (``None`` for a whole topic or file) and what is wrong."""

    line: int | None
    message: str

    def format(self, path: str | os.PathLike[str]) -> str:
        """``path:line: message`` (or ``path: message``), as compilers and NIST's errlog print it."""
        return f"{path}:{self.line}: {self.message}" if self.line is not None else f"{path}: {self.message}"


@dataclass
class _Entry:
    line: int
    docid: str
    rank: int
    score: float


@dataclass
class CheckReport:
    """What :func:`check_run` found, and the run it read (every well-formed line)."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    stopped: bool = False
    tag: str | None = None
    lines: int = 0
    run: Run = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the run can be submitted (warnings allowed)."""
        return not self.errors

    def docs_per_topic(self) -> list[int]:
        """The number of documents of each topic in the run."""
        return [len(docs) for docs in self.run.values()]


def tag_problem(tag: str, max_length: int = 15) -> str | None:
    """Why ``tag`` breaks TREC's rule (1–15 of ``[A-Za-z0-9_-]``; 25 since DL 2022), or ``None``."""
    if not (1 <= len(tag) <= max_length) or not _TAG.match(tag):
        return f"run tag {tag!r} must be 1-{max_length} characters from A-Z a-z 0-9 _ -"
    return None


class _ErrorLimitError(Exception):
    """Raised when the error limit is reached."""


def check_run(path: str | os.PathLike[str], topics: Iterable[str], max_per_topic: int = 1000,
              max_tag_length: int = 15, in_collection: Callable[[Iterable[str]], set[str]] | None = None,
              max_errors: int = MAX_ERRORS) -> CheckReport:
    """Check the run at ``path`` against the submission rules (see the module docstring).

    ``topics`` are the official topic ids; every one needs 1..``max_per_topic`` documents.
    ``in_collection`` maps docids to the subset the collection holds (skipped when ``None``).
    Reading stops once ``max_errors`` errors are found, as NIST's scripts do.
    """
    report = CheckReport()

    def error(line: int | None, message: str) -> None:
        report.errors.append(Problem(line, message))
        if len(report.errors) >= max_errors:
            raise _ErrorLimitError

    try:
        entries, damaged = _read(Path(path), report, max_tag_length, error)
        official = list(dict.fromkeys(topics))
        known = set(official)
        for qid, topic in entries.items():
            if qid not in known:
                error(topic[0].line, f"topic {qid!r} is not one of the {len(official)} topics")
        for qid in official:
            if qid not in entries:
                error(None, f"topic {qid!r} has no documents (every topic needs at least 1)")
        for qid, topic in entries.items():
            _check_topic(qid, topic, max_per_topic, report, error, rejected_lines=qid in damaged)
        if in_collection is not None:
            held = in_collection({e.docid for topic in entries.values() for e in topic})
            for topic in entries.values():
                for e in topic:
                    if e.docid not in held:
                        error(e.line, f"document {e.docid!r} is not in the collection")
    except _ErrorLimitError:
        report.stopped = True
        return report
    report.run = {qid: {e.docid: e.score for e in topic} for qid, topic in entries.items()}
    return report


def _read(path: Path, report: CheckReport, max_tag_length: int,
          error: Callable[[int | None, str], None]) -> tuple[dict[str, list[_Entry]], set[str]]:
    """Line rules: 6 columns, one well-formed tag, integer rank, finite score, no duplicate docid.

    Returns the accepted lines by topic, and the topics that had a line rejected.
    """
    entries: dict[str, list[_Entry]] = {}
    seen: dict[tuple[str, str], int] = {}
    damaged: set[str] = set()

    def reject(lineno: int, qid: str, message: str) -> None:
        damaged.add(qid)
        error(lineno, message)

    for lineno, raw in read_lines(path):
        cols = raw.split()
        if not cols:
            continue
        if cols[0].startswith("#"):
            report.warnings.append(Problem(lineno, "comment line (trec_eval skips it; NIST's checker rejects it)"))
            continue
        report.lines += 1
        if len(cols) != 6:
            reject(lineno, cols[0], f"expected 6 columns (qid Q0 docid rank score tag), got {len(cols)}")
            continue
        qid, q0, docid, rank_text, score_text, tag = cols
        if q0 != "Q0" and not any("column 2" in w.message for w in report.warnings):
            report.warnings.append(Problem(lineno, f"column 2 is {q0!r}, not 'Q0' (ignored)"))
        if report.tag is None:
            report.tag = tag
            problem = tag_problem(tag, max_tag_length)
            if problem:
                error(lineno, problem)
        elif tag != report.tag:
            reject(lineno, qid, f"run tag {tag!r} differs from {report.tag!r} on the first line (one tag per file)")
            continue
        try:
            rank = int(rank_text)
        except ValueError:
            reject(lineno, qid, f"rank must be an integer, got {rank_text!r}")
            continue
        try:
            score = float(score_text)
        except ValueError:
            reject(lineno, qid, f"score must be a number, got {score_text!r}")
            continue
        if not math.isfinite(score):
            reject(lineno, qid, f"score must be finite, got {score_text!r}")
            continue
        if (qid, docid) in seen:
            reject(lineno, qid, f"document {docid!r} appears twice for topic {qid!r} "
                                f"(first on line {seen[qid, docid]})")
            continue
        seen[qid, docid] = lineno
        entries.setdefault(qid, []).append(_Entry(lineno, docid, rank, score))
    if report.lines == 0:
        error(None, "the run has no result lines")
    return entries, damaged


def _check_topic(qid: str, topic: list[_Entry], max_per_topic: int, report: CheckReport,
                 error: Callable[[int | None, str], None], rejected_lines: bool = False) -> None:
    """Per-topic rules: at most the maximum, ranks 1..n, non-increasing scores, ties in trec_eval's order (warning).

    A topic with ``rejected_lines`` is not checked for gaps in its ranks: the rejected lines
    hold the missing ranks, and they have been reported already.
    """
    n = len(topic)
    if n > max_per_topic:
        error(topic[max_per_topic].line, f"topic {qid!r} has {n} documents, more than the maximum {max_per_topic}")
    by_rank: dict[int, _Entry] = {}
    for e in topic:
        if e.rank < 1 or (e.rank > n and not rejected_lines):
            error(e.line, f"rank {e.rank} out of 1..{n} for topic {qid!r} (ranks must be 1..n without gaps)")
        elif e.rank in by_rank:
            error(e.line, f"rank {e.rank} repeats line {by_rank[e.rank].line} for topic {qid!r}")
        else:
            by_rank[e.rank] = e
    ordered = [by_rank[r] for r in sorted(by_rank)]
    for above, below in zip(ordered, ordered[1:], strict=False):
        if below.score > above.score:
            error(below.line, f"score {below.score!r} at rank {below.rank} is higher than {above.score!r} "
                              f"at rank {above.rank} (scores must not increase down the ranking)")
    streaks = (list(group) for _, group in groupby(ordered, key=lambda e: e.score))  # consecutive ranks, one score
    tied = [group for group in streaks if len(group) > 1]
    misplaced = [e for group in tied
                 for e, (docid, _) in zip(group, rank({e.docid: e.score for e in group}), strict=True)
                 if e.docid != docid]
    if misplaced:
        report.warnings.append(Problem(
            misplaced[0].line, f"topic {qid!r}: {len(misplaced)} of {sum(map(len, tied))} tied documents are not "
                               "in trec_eval's order (it breaks score ties by docid, descending, not by your ranks)"))
