"""Reading document collections: Pyserini JSONL, BEIR JSONL, TSV and TREC CAR paragraphs.

Every format yields :class:`Doc` records, so indexing and reranking never care where a
collection came from. ``Doc.contents`` is what gets indexed and what rerankers read: the title
and the text joined by a space, the way Anserini's "flat" BEIR indexes are built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
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


def _read_jsonl(path: Path) -> Iterator[Doc]:
    """Pyserini's JsonCollection: ``{"id": ..., "contents": ...}`` (``title`` optional)."""
    for lineno, rec in _json_records(path):
        yield Doc(_field(path, lineno, rec, "id"), _field(path, lineno, rec, "title", False),
                  _field(path, lineno, rec, "contents"))


def _read_beir(path: Path) -> Iterator[Doc]:
    """BEIR's ``corpus.jsonl``: ``{"_id": ..., "title": ..., "text": ...}``."""
    for lineno, rec in _json_records(path):
        yield Doc(_field(path, lineno, rec, "_id"), _field(path, lineno, rec, "title", False),
                  _field(path, lineno, rec, "text"))


def _read_tsv(path: Path) -> Iterator[Doc]:
    """``id<TAB>text`` (MS MARCO's collection.tsv) or ``id<TAB>title<TAB>text``."""
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        cols = line.split("\t")
        if not cols[0].strip():
            raise located(path, lineno, "empty document id")
        if len(cols) == 2:
            yield Doc(cols[0], "", cols[1])
        elif len(cols) == 3:
            yield Doc(cols[0], cols[1], cols[2])
        else:
            raise located(path, lineno, f"expected 2 or 3 tab-separated columns (id, [title,] text), got {len(cols)}")


def _read_car(path: Path) -> Iterator[Doc]:
    """TREC CAR paragraphs (CBOR), read with ``trec-car-tools``; paragraphs have no title."""
    from trec_car.read_data import iter_paragraphs

    for para in iter_car(path, iter_paragraphs, "paragraph"):
        yield Doc(para.para_id, "", para.get_text())


_READERS = {"jsonl": _read_jsonl, "beir": _read_beir, "tsv": _read_tsv, "car": _read_car}


def read_corpus(path: str | os.PathLike[str], fmt: str) -> Iterator[Doc]:
    """Iterate over the documents of the collection at ``path`` in format ``fmt``."""
    if fmt not in _READERS:
        raise PipelineError(f"unknown corpus format {fmt!r}; known: {', '.join(FORMATS)}")
    return _READERS[fmt](Path(path))
