"""Reading relevance judgments: TREC qrels (``qid iter docid rel``) and BEIR's qrels TSV.

:data:`Qrels` is ``{qid: {docid: relevance}}``, the shape pytrec_eval takes. As in trec_eval, a
(qid, docid) pair judged twice is an error. Lines starting with ``#`` are comments, as in runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.common.errors import located
from pipeline.common.textfiles import read_lines

Qrels = dict[str, dict[str, int]]


def read_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Read TREC qrels (4 columns) or BEIR qrels (3 tab-separated columns with a header).

    Columns may be separated by any whitespace; relevance must be an integer. A 3-column line is
    ``qid docid relevance`` only when its third column is an integer grade and its second is not
    ``0``/``Q0``: ``qid 0 docid`` is a 4-column line that lost its relevance, and an error.
    """
    path = Path(path)
    qrels: Qrels = {}
    for lineno, line in read_lines(path):
        cols = line.split()
        if not cols or cols[0].startswith("#"):
            continue
        if lineno == 1 and cols[:2] == ["query-id", "corpus-id"]:
            continue  # BEIR header
        if len(cols) == 4:
            qid, _, docid, rel = cols
        elif len(cols) == 3:
            qid, docid, rel = cols
            if docid in ("0", "Q0") or not _is_int(rel):
                raise located(path, lineno, f"3 columns {line.strip()!r} are not 'qid docid relevance': a TREC "
                                            "qrels line needs 4 (qid iter docid relevance); is the relevance missing?")
        else:
            raise located(path, lineno, f"expected 4 columns (qid iter docid relevance), got {len(cols)}")
        try:
            grade = int(rel)
        except ValueError:
            raise located(path, lineno, f"relevance must be an integer, got {rel!r}") from None
        judged = qrels.setdefault(qid, {})
        if docid in judged:
            raise located(path, lineno, f"duplicate judgment for query {qid!r}, document {docid!r}")
        judged[docid] = grade
    return qrels


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
