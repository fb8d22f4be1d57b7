"""Reading query sets: TSV, TREC topic files, BEIR queries and TREC CAR outlines.

Every format gives :data:`Topics`, an insertion-ordered ``{qid: text}`` dict. The query is the
topic's title unless another field is asked for (:data:`FIELDS`): TREC topics have a title, a
description and a narrative; BEIR queries their ``text`` (the title here) and, in some sets, a
``description`` and ``narrative`` in their ``metadata``; TSV and CAR outlines have one text only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pipeline.collection.car import iter_car
from pipeline.common.errors import PipelineError, located
from pipeline.common.textfiles import read_lines

Topics = dict[str, str]
FORMATS = ("tsv", "trec", "beir", "car-outlines")
FIELDS = ("title", "description", "narrative", "title+description")


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
_SECTION = {"description": "desc", "narrative": "narr"}
_LABEL = {"desc": re.compile(r"^\s*Description\s*:", re.IGNORECASE),
          "narr": re.compile(r"^\s*Narrative\s*:", re.IGNORECASE)}


def _trec_query(path: Path, line: int, qid: str, sections: dict[str, str], field: str) -> str:
    """The text of ``field`` of one topic. The title is taken as it stands (a topic without one is an
    empty query, counted later); a description or narrative loses its ``Description:`` or
    ``Narrative:`` label, as Anserini's TrecTopicReader drops it, and must be there."""
    parts = []
    for name in field.split("+"):
        if name == "title":
            parts.append(sections.get("title", ""))
            continue
        tag = _SECTION[name]
        if tag not in sections:
            raise located(path, line, f"topic {qid!r} has no <{tag}> (topic field {field!r})")
        parts.append(_LABEL[tag].sub("", sections[tag], count=1))
    return " ".join(parts)


def _read_trec(path: Path, field: str = "title") -> Topics:
    """A classic TREC topic file (``<top><num> Number: 301 <title> ... <desc> ... <narr> ... </top>``);
    the query is ``field`` (:data:`FIELDS`), the title by default."""
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
                _add(topics, path, start_line, qid, _trec_query(path, start_line, qid, current, field))
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


def _beir_query(path: Path, lineno: int, rec: dict, field: str) -> str:
    """The text of ``field`` of one BEIR query: ``text`` for the title, ``metadata.description`` and
    ``metadata.narrative`` (Touché 2020 has both, TREC-COVID a narrative) for the others."""
    parts = []
    for name in field.split("+"):
        meta = rec.get("metadata")
        value = rec["text"] if name == "title" else meta.get(name) if isinstance(meta, dict) else None
        if not isinstance(value, str):
            keys = ", ".join(meta) if isinstance(meta, dict) and meta else "none"
            raise located(path, lineno, f"query {rec['_id']!r} has no metadata.{name} for topic field {field!r} "
                                        f"(its metadata keys: {keys})")
        parts.append(value)
    return " ".join(parts)


def _read_beir(path: Path, field: str = "title") -> Topics:
    """BEIR's ``queries.jsonl``: ``{"_id": ..., "text": ..., "metadata": {...}}`` per line."""
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
        _add(topics, path, lineno, str(rec["_id"]), _beir_query(path, lineno, rec, field))
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


_READERS = {"tsv": _read_tsv, "car-outlines": _read_car_outlines}
_FIELDED = {"trec": _read_trec, "beir": _read_beir}  # the formats with more than one text per query


def read_topics(path: str | os.PathLike[str], fmt: str, field: str = "title") -> Topics:
    """Read the query set at ``path`` in format ``fmt`` (one of :data:`FORMATS`), each query's
    ``field`` (one of :data:`FIELDS`) as its text."""
    if fmt not in _READERS and fmt not in _FIELDED:
        raise PipelineError(f"unknown topics format {fmt!r}; known: {', '.join(FORMATS)}")
    if field not in FIELDS:
        raise PipelineError(f"unknown topic field {field!r}; known: {', '.join(FIELDS)}")
    if fmt in _FIELDED:
        return _FIELDED[fmt](Path(path), field)
    if field != "title":
        raise PipelineError(f"{path}: {fmt} topics have one text per query; topic field {field!r} needs trec "
                            f"topics (or beir queries with that metadata)")
    return _READERS[fmt](Path(path))
