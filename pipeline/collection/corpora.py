"""Reading document collections: Pyserini JSONL, BEIR JSONL, TSV, TREC CAR paragraphs and TREC SGML.

Every format yields :class:`Doc` records, so indexing and reranking never care where a
collection came from. ``Doc.contents`` is what gets indexed and what rerankers read: the title
and the text joined by a space, the way Anserini's "flat" BEIR indexes are built.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from pipeline.collection.car import iter_car
from pipeline.common.errors import PipelineError, located
from pipeline.common.textfiles import read_lines

FORMATS = ("jsonl", "beir", "tsv", "car", "trec")
Where = int | str | tuple[Path, int]  # a line or record of the collection file, or (file, line) in a folder


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


# Anserini's TrecCollection keeps the text of these elements only (DOCID, BYLINE, PROFILE... are dropped)
_TREC_KEPT = ("TEXT", "HEADLINE", "TITLE", "HL", "HEAD", "TTL", "DD", "DATE", "LP", "LEADPARA")
_TREC_TAG = re.compile(rf"<(/?)(DOCNO|DOC|{'|'.join(_TREC_KEPT)})(\s[^<>]*)?>", re.IGNORECASE)
_TREC_DOC_ID = re.compile(r'\bid\s*=\s*"([^"]*)"', re.IGNORECASE)
_TREC_SKIPPED_DIRS = {"cr", "dtd", "dtds"}
_MARKUP = re.compile(r"</?[A-Za-z!][^<>]*>")


def _trec_files(path: Path) -> list[Path]:
    """``path`` itself, or the files under the folder ``path`` in sorted order, less what Anserini's
    TrecCollection skips on the TREC disks (``readme*`` files, ``cr``/``dtd``/``dtds`` folders) and
    hidden files."""
    if not path.is_dir():
        return [path]

    def kept(file: Path) -> bool:
        parts = file.relative_to(path).parts
        return (not any(part.startswith(".") for part in parts) and not file.name.lower().startswith("readme")
                and not any(part.lower() in _TREC_SKIPPED_DIRS for part in parts[:-1]))

    files = sorted(p for p in path.rglob("*") if p.is_file() and kept(p))
    if not files:
        raise PipelineError(f"{path}: no collection files in this folder")
    return files


def _trec_text(segments: list[str]) -> str:
    """Kept text as Anserini indexes it (Jsoup's text of it): markup removed, entities decoded,
    whitespace collapsed. A tag counts as a word break (Jsoup joins the words around an inline tag
    such as ``<b>``, which newswire does not use)."""
    return " ".join(html.unescape(_MARKUP.sub(" ", " ".join(segments))).split())


def _read_trec_file(path: Path) -> Iterator[tuple[tuple[Path, int], Doc]]:
    """The ``<DOC>`` records of one TREC SGML file, each with the line of its ``<DOC>``."""
    if path.is_file():
        with open(path, "rb") as f:
            if f.read(2) == b"\x1f\x9d":
                raise PipelineError(f"{path}: compressed with Unix compress (.Z), which cannot be read here; "
                                    f"decompress it first (gzip -dc {path.name} > {path.stem})")
    start = 0  # the line of the open <DOC>; 0 between documents
    docno: list[str] | None = None
    in_docno, depth, text = False, 0, []
    for lineno, line in read_lines(path):
        pos = 0
        for m in [*_TREC_TAG.finditer(line), None]:
            segment = line[pos:m.start() if m else len(line)]
            if in_docno:
                docno.append(segment)
            elif depth:
                text.append(segment)
            elif not start and segment.strip():
                raise located(path, lineno, f"text outside <DOC>...</DOC>: {segment.strip()[:40]!r} "
                                            f"(not a TREC SGML file?)")
            if m is None:
                break
            pos = m.end()
            closing, tag = m.group(1), m.group(2).upper()
            if tag == "DOC" and not closing:
                if start:
                    raise located(path, lineno, f"<DOC> inside the <DOC> opened at line {start} (a missing </DOC>?)")
                attr = _TREC_DOC_ID.search(m.group(3) or "")  # <DOC id="..."> (NTCIR), as Anserini accepts
                start, docno, in_docno, depth, text = lineno, [attr.group(1)] if attr else None, False, 0, []
            elif not start:
                raise located(path, lineno, f"<{closing}{m.group(2)}> outside <DOC>...</DOC>")
            elif tag == "DOC":
                if in_docno:
                    raise located(path, lineno, f"</DOC> inside <DOCNO> (the <DOC> opened at line {start})")
                if docno is None:
                    raise located(path, start, f"<DOC> without <DOCNO> (closed at line {lineno})")
                yield (path, start), Doc(" ".join(docno).strip(), "", _trec_text(text))
                start = 0
            elif tag == "DOCNO" and closing:
                if not in_docno:
                    raise located(path, lineno, "</DOCNO> without <DOCNO>")
                in_docno = False
            elif tag == "DOCNO":
                if docno is not None:
                    raise located(path, lineno, f"a second document id in the <DOC> opened at line {start}")
                docno, in_docno = [], True
            else:
                depth = max(depth - 1, 0) if closing else depth + 1
    if start:
        raise located(path, start, "<DOC> never closed (no </DOC> before the end of the file)")


def _read_trec(path: Path) -> Iterator[tuple[tuple[Path, int], Doc]]:
    """TREC SGML (newswire: ``<DOC><DOCNO>id</DOCNO><TEXT>...</TEXT></DOC>``), one file or a folder
    of them, plain or gzipped, read as Anserini's TrecCollection reads them.

    The id is the stripped ``<DOCNO>`` (or ``<DOC id="...">``); the contents are the text inside
    the elements TrecCollection keeps (``TEXT``, ``HEADLINE``, ``TITLE``, ``HL``, ``HEAD``, ``TTL``,
    ``DD``, ``DATE``, ``LP``, ``LEADPARA``), without markup. Tags are matched in any case (Anserini's
    in upper case only). Text outside ``<DOC>``, a ``<DOC>`` never closed, one inside another and
    one without ``<DOCNO>`` are errors naming the file and line.
    """
    for file in _trec_files(path):
        yield from _read_trec_file(file)


_READERS = {"jsonl": _read_jsonl, "beir": _read_beir, "tsv": _read_tsv, "car": _numbered_car, "trec": _read_trec}


def read_corpus(path: str | os.PathLike[str], fmt: str) -> Iterator[Doc]:
    """Iterate over the documents of the collection at ``path`` in format ``fmt``.

    Every id is checked as it is read (:func:`checked`), so a collection a run file could not
    describe fails before any indexing or encoding work is done.
    """
    if fmt not in _READERS:
        raise PipelineError(f"unknown corpus format {fmt!r}; known: {', '.join(FORMATS)}")
    return checked(Path(path), _READERS[fmt](Path(path)))


def checked(path: Path, records: Iterable[tuple[Where, Doc]]) -> Iterator[Doc]:
    """The documents of ``records`` (each with its line or record in ``path``, or its ``(file, line)``
    in the folder ``path``), refusing ids a TREC run cannot hold.

    A run line is six whitespace-separated columns, so an id that is empty or holds whitespace
    would write a line that no reader (ours, trec_eval) parses; a repeated id would make the index
    return one copy's score for both. Both errors name the file and line, the repeat's first too.
    """
    first: dict[str, Where] = {}
    for where, doc in records:
        file, at = where if isinstance(where, tuple) else (path, where)
        if not doc.id or any(c.isspace() for c in doc.id):
            what = "is empty" if not doc.id else "holds whitespace"
            raise located(file, at, f"document id {doc.id!r} {what}: a TREC run file cannot hold it")
        if doc.id in first:
            seen = first[doc.id]
            raise located(file, at, f"duplicate document id {doc.id!r}; first at "
                                    f"{':'.join(map(str, seen)) if isinstance(seen, tuple) else f'{path}:{seen}'}")
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
