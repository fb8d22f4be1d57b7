"""Reading query sets: TSV, TREC topic files, BEIR queries and TREC CAR outlines.

Every format gives :data:`Topics`, an insertion-ordered ``{qid: text}`` dict.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pipeline.car import iter_car
from pipeline.errors import PipelineError, located
from pipeline.textfiles import read_lines

Topics = dict[str, str]
FORMATS = ("tsv", "trec", "beir", "car-outlines")


def _add(topics: Topics, path: Path, where: int | str, qid: str, text: str) -> None:
    if not qid:
        raise located(path, where if isinstance(where, int) else None, f"empty query id ({where})")
    if qid in topics:
        raise located(path, where if isinstance(where, int) else None, f"duplicate query id {qid!r}")
    topics[qid] = " ".join(text.split())


def _read_tsv(path: Path) -> Topics:
    """``qid<TAB>text`` per line (MS MARCO's queries.*.tsv, Anserini's TsvString topics)."""
    topics: Topics = {}
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 2:
            raise located(path, lineno, f"expected 2 tab-separated columns (qid, text), got {len(cols)}")
        _add(topics, path, lineno, cols[0].strip(), cols[1])
    return topics


_TAG = re.compile(r"<(/?)(top|num|title|desc|narr)>", re.IGNORECASE)


def _read_trec(path: Path, field: str = "title") -> Topics:
    """A classic TREC topic file (``<top><num> Number: 301 <title> ... </top>``); the title is the query."""
    topics: Topics = {}
    current: dict[str, str] | None = None
    section = ""
    start_line = 0
    for lineno, line in read_lines(path):
        pos = 0
        for m in _TAG.finditer(line):
            text = line[pos:m.start()]
            if current is not None and section:
                current[section] = current.get(section, "") + " " + text
            closing, tag = m.group(1), m.group(2).lower()
            pos = m.end()
            if tag == "top" and not closing:
                if current is not None:
                    raise located(path, lineno, "<top> opened before the previous </top>")
                current, section, start_line = {}, "", lineno
            elif tag == "top":
                if current is None:
                    raise located(path, lineno, "</top> without <top>")
                qid = re.sub(r"^\s*Number:\s*", "", current.get("num", ""), flags=re.IGNORECASE).strip()
                _add(topics, path, start_line, qid, current.get(field, ""))
                current, section = None, ""
            elif current is None:
                raise located(path, lineno, f"<{tag}> outside <top>")
            else:
                section = "" if closing else tag
        if current is not None and section:
            current[section] = current.get(section, "") + " " + line[pos:]
    if current is not None:
        raise located(path, start_line, "<top> never closed")
    return topics


def _read_beir(path: Path) -> Topics:
    """BEIR's ``queries.jsonl``: ``{"_id": ..., "text": ...}`` per line."""
    topics: Topics = {}
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise located(path, lineno, f"not a JSON object ({err.msg})") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("_id"), (str, int)) \
                or not isinstance(rec.get("text"), str):
            raise located(path, lineno, 'expected {"_id": ..., "text": ...}')
        _add(topics, path, lineno, str(rec["_id"]), rec["text"])
    return topics


def _read_car_outlines(path: Path) -> Topics:
    """TREC CAR outlines (CBOR): one query per section path of each page.

    The id is ``page_id/heading_id/...`` (the qrels' convention) and the text is the page title
    followed by the headings along the path.
    """
    from trec_car.read_data import iter_outlines

    topics: Topics = {}
    for record, page in enumerate(iter_car(path, iter_outlines, "outline"), start=1):
        for sections in page.flat_headings_list():
            qid = "/".join([page.page_id] + [s.headingId for s in sections])
            text = " ".join([page.page_name] + [s.heading for s in sections])
            _add(topics, path, f"record {record}", qid, text)
    return topics


_READERS = {"tsv": _read_tsv, "trec": _read_trec, "beir": _read_beir, "car-outlines": _read_car_outlines}


def read_topics(path: str | os.PathLike[str], fmt: str) -> Topics:
    """Read the query set at ``path`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in _READERS:
        raise PipelineError(f"unknown topics format {fmt!r}; known: {', '.join(FORMATS)}")
    return _READERS[fmt](Path(path))
