"""Reading document collections: Pyserini JSONL, BEIR JSONL, TSV and TREC CAR paragraphs.

Every format yields :class:`Doc` records, so indexing and reranking never care where a
collection came from. ``Doc.contents`` is what gets indexed and what rerankers read: the title
and the text joined by a space, the way Anserini's "flat" BEIR indexes are built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from pipeline.car import iter_car
from pipeline.errors import PipelineError, located
from pipeline.textfiles import read_lines

FORMATS = ("jsonl", "beir", "tsv", "car")


class Doc(NamedTuple):
    """One document: its id, an optional title and its body text."""

    id: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        """Title and text joined by a space (just the text when there is no title)."""
        return f"{self.title} {self.text}" if self.title else self.text


def _json_records(path: Path) -> Iterator[tuple[int, dict]]:
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise located(path, lineno, f"not a JSON object ({err.msg})") from None
        if not isinstance(record, dict):
            raise located(path, lineno, "expected a JSON object per line")
        yield lineno, record


def _field(path: Path, lineno: int, record: dict, key: str, required: bool = True) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise located(path, lineno, f"missing field {key!r}")
        return ""
    if not isinstance(value, (str, int)):
        raise located(path, lineno, f"field {key!r} must be a string")
    return str(value)


def _read_jsonl(path: Path) -> Iterator[tuple[int, Doc]]:
    """Pyserini's JsonCollection: ``{"id": ..., "contents": ...}`` (``title`` optional)."""
    for lineno, rec in _json_records(path):
        yield lineno, Doc(_field(path, lineno, rec, "id"), _field(path, lineno, rec, "title", False),
                          _field(path, lineno, rec, "contents"))


def _read_beir(path: Path) -> Iterator[tuple[int, Doc]]:
    """BEIR's ``corpus.jsonl``: ``{"_id": ..., "title": ..., "text": ...}``."""
    for lineno, rec in _json_records(path):
        yield lineno, Doc(_field(path, lineno, rec, "_id"), _field(path, lineno, rec, "title", False),
                          _field(path, lineno, rec, "text"))


def _read_tsv(path: Path) -> Iterator[tuple[int, Doc]]:
    """``id<TAB>text`` (MS MARCO's collection.tsv) or ``id<TAB>title<TAB>text``."""
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) == 2:
            yield lineno, Doc(cols[0], "", cols[1])
        elif len(cols) == 3:
            yield lineno, Doc(cols[0], cols[1], cols[2])
        else:
            raise located(path, lineno, f"expected 2 or 3 tab-separated columns (id, [title,] text), got {len(cols)}")


def _read_car(path: Path) -> Iterator[Doc]:
    """TREC CAR paragraphs (CBOR), read with ``trec-car-tools``; paragraphs have no title."""
    from trec_car.read_data import iter_paragraphs

    yield from iter_car(path, iter_paragraphs, "paragraph", lambda para: Doc(para.para_id, "", para.get_text()))


def _numbered_car(path: Path) -> Iterator[tuple[str, Doc]]:
    for n, doc in enumerate(_read_car(path), start=1):
        yield f"paragraph {n}", doc


_READERS = {"jsonl": _read_jsonl, "beir": _read_beir, "tsv": _read_tsv, "car": _numbered_car}


def read_corpus(path: str | os.PathLike[str], fmt: str) -> Iterator[Doc]:
    """Iterate over the documents of the collection at ``path`` in format ``fmt``.

    Every id is checked as it is read (:func:`checked`), so a collection a run file could not
    describe fails before any indexing or encoding work is done.
    """
    if fmt not in _READERS:
        raise PipelineError(f"unknown corpus format {fmt!r}; known: {', '.join(FORMATS)}")
    return checked(Path(path), _READERS[fmt](Path(path)))


def checked(path: Path, records: Iterable[tuple[int | str, Doc]]) -> Iterator[Doc]:
    """The documents of ``records`` (each with its line or record), refusing ids a TREC run cannot hold.

    A run line is six whitespace-separated columns, so an id that is empty or holds whitespace
    would write a line that no reader (ours, trec_eval) parses; a repeated id would make the index
    return one copy's score for both. Both errors name the file and line, the repeat's first too.
    """
    first: dict[str, int | str] = {}
    for where, doc in records:
        if not doc.id or any(c.isspace() for c in doc.id):
            what = "is empty" if not doc.id else "holds whitespace"
            raise located(path, where, f"document id {doc.id!r} {what}: a TREC run file cannot hold it")
        if doc.id in first:
            raise located(path, where, f"duplicate document id {doc.id!r}; first at {path}:{first[doc.id]}")
        first[doc.id] = where
        yield doc


def without_empty(docs: Iterable[Doc], empty: list[str]) -> Iterator[Doc]:
    """``docs`` less those with no text at all, whose ids are appended to ``empty``.

    Lucene cannot index a document without terms, so both index kinds leave them out, and say so
    (:func:`empty_note`): such a document can never be retrieved, even when it is judged relevant.
    """
    for doc in docs:
        if doc.contents.strip():
            yield doc
        else:
            empty.append(doc.id)


def empty_note(empty: list[str], shown: int = 10) -> str:
    """The warning for documents left out as empty: their count and (the first few) ids."""
    ids = ", ".join(empty[:shown]) + (f" and {len(empty) - shown} more" if len(empty) > shown else "")
    return f"warning: {len(empty)} empty document(s) have no text and are not indexed (never retrievable): {ids}"
