"""ir_datasets collections by name: ``--dataset irds:<id>`` (PyTerrier's spelling), e.g. ``irds:beir/scifact/test``.

The corpus, queries, qrels and, where the dataset has them, scored docs come from ``ir_datasets``,
which downloads them on first use into ``$IR_DATASETS_HOME`` (``~/.ir_datasets``); the passages a
reranker reads come from its docstore, so an official candidate list needs no index.

- documents: ``text``, after the ``title`` where there is one (BEIR's and Pyserini's "flat"
  contents); a document type without ``text`` gives its ``default_text()``.
- queries: the ``title`` of TREC-style query types, else the ``text``; ``--topic-field``
  ``description``/``narrative`` takes that field where the query type has one.
- one split, named after the last part of the id that is ``train``, ``dev`` or ``test``, else
  ``test``; an id without qrels (a bare corpus such as ``irds:msmarco-passage``) can be indexed only.
- scored docs become the split's candidates, written as a TREC run under ``runs/.cache/``.

Files made from a dataset are named after :func:`file_name` (``irds_beir_scifact_test``), which
names the dataset as well as ``irds:<id>`` does. Datasets of your own, or of an ir_datasets
extension package, are registered by the modules named in ``$PIPELINE_IRDS_PLUGINS`` (comma-separated,
imported first), with ``ir_datasets.registry.register(id, Dataset(...))``.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pipeline.collection.corpora import Doc, checked
from pipeline.collection.datasets import Dataset, Split
from pipeline.collection.qrels import Qrels
from pipeline.collection.topics import Topics
from pipeline.common.errors import PipelineError, first_line
from pipeline.common.paths import RUN_CACHE
from pipeline.runfiles.trec import Run, write_run

V = TypeVar("V")

PREFIX = "irds:"
FILE_PREFIX = "irds_"
PLUGINS = "PIPELINE_IRDS_PLUGINS"
SPLITS = ("train", "dev", "test")


def is_irds(name: str) -> bool:
    """Whether ``name`` is an ir_datasets name (``irds:<id>``, or its :func:`file_name`)."""
    return name.startswith((PREFIX, FILE_PREFIX))


def file_name(ident: str) -> str:
    """The name of ``irds:<ident>`` in file names: ``irds_`` and the id, ``/`` written ``_``."""
    return FILE_PREFIX + ident.replace("/", "_")


def split_name(ident: str) -> str:
    """The one split of ``irds:<ident>``: the last part of the id that names a split, else ``test``."""
    return next((part for part in reversed(ident.split("/")) if part in SPLITS), "test")


def _registry():
    """ir_datasets' registry, with the datasets of the ``$PIPELINE_IRDS_PLUGINS`` modules added."""
    import ir_datasets

    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise PipelineError(f"${PLUGINS}: cannot import {module!r} ({err})") from err
    return ir_datasets.registry


def _irds_id(name: str) -> str:
    """The id in ``irds:<id>``, or the registered id whose :func:`file_name` is ``name``."""
    if name.startswith(PREFIX):
        return name[len(PREFIX):]
    rest = name[len(FILE_PREFIX):]
    return next((i for i in _registry() if file_name(i) == name), rest.replace("_", "/"))


def _load(ident: str) -> Any:
    """The ir_datasets dataset ``ident``, or an error naming the ids closest to it."""
    registry = _registry()
    try:
        return registry[ident]
    except KeyError:
        close = ", ".join(difflib.get_close_matches(ident, list(registry), n=3))
        raise PipelineError(f"unknown ir_datasets id {ident!r}{f' (did you mean {close}?)' if close else ''}; "
                            f"the ids are listed at https://ir-datasets.com (a dataset of your own: register it "
                            f"in a module named in ${PLUGINS})") from None


def _providing(ident: str, entity: str) -> Any:
    """The ir_datasets dataset ``ident``, or an error when it has no ``entity`` (docs, queries...)."""
    ds = _load(ident)
    if not ds.has(entity):
        raise PipelineError(f"{PREFIX}{ident} has no {entity} in ir_datasets")
    return ds


@contextlib.contextmanager
def _reading(ident: str, entity: str) -> Iterator[None]:
    """Turn ir_datasets' download and read failures of ``entity`` into one :class:`PipelineError`."""
    try:
        yield
    except (OSError, RuntimeError, ValueError) as err:  # requests' errors are OSErrors
        from ir_datasets.util import home_path

        raise PipelineError(f"{PREFIX}{ident}: ir_datasets cannot give its {entity} ({type(err).__name__}: "
                            f"{first_line(err)}); it downloads them on first use into {home_path()}: without a "
                            f"network, put the files there first (see https://ir-datasets.com)") from err


def _doc(raw: Any) -> Doc:
    """One ir_datasets document as a :class:`Doc`: title (where the type has one) and text."""
    if "text" in raw._fields:
        return Doc(raw.doc_id, getattr(raw, "title", "") or "", raw.text or "")
    return Doc(raw.doc_id, "", raw.default_text())


def _query(ident: str, raw: Any, field: str) -> str:
    """The text of ``field`` (:data:`pipeline.collection.topics.FIELDS`) of one ir_datasets query."""
    parts = []
    for name in field.split("+"):
        if name == "title":
            parts.append(raw.title if "title" in raw._fields else raw.default_text())
        elif name in raw._fields:
            parts.append(getattr(raw, name))
        else:
            raise PipelineError(f"{PREFIX}{ident}: its queries ({type(raw).__name__}: "
                                f"{', '.join(raw._fields[1:])}) have no {name} for topic field {field!r}")
    return " ".join(" ".join(p or "" for p in parts).split())


@dataclass(frozen=True)
class IrdsDataset(Dataset):
    """A :class:`~pipeline.collection.datasets.Dataset` read from ir_datasets (``corpus`` and ``topics`` are
    its ``irds:<id>``, a name, not a file)."""

    irds_id: str = ""

    def _read(self, entity: str, items: Callable[[Any], Iterable[Any]]) -> Iterator[Any]:
        """``items(dataset)``, its download or read failures one :class:`PipelineError`."""
        ds = _providing(self.irds_id, entity)
        with _reading(self.irds_id, entity):
            yield from items(ds)

    def split(self, name: str) -> Split:
        """The split ``name``; its candidates run, when the dataset has scored docs, is (re)written
        from them first."""
        s = self._judged(name)
        if s.candidates is not None:
            self._write_candidates(s.candidates, name)
        return s

    def _judged(self, name: str) -> Split:
        if not self.splits:
            raise PipelineError(f"{PREFIX}{self.irds_id} has no qrels in ir_datasets: name one of its subsets with "
                                f"judgments (a corpus alone can only be indexed)")
        return super().split(name)

    def qrels(self, split: str) -> Qrels:
        """The judgments (the dataset has one split)."""
        self._judged(split)
        rows = ((q.query_id, q.doc_id, int(q.relevance)) for q in self._read("qrels", lambda ds: ds.qrels_iter()))
        return self._by_query(rows, "duplicate judgment for query {q!r}, document {d!r}")

    def topics_for(self, split: str) -> Topics:
        """The judged queries (their :attr:`topic_field`), in ir_datasets' order."""
        judged = self.qrels(split)
        topics: Topics = {}
        for query in self._read("queries", lambda ds: ds.queries_iter()):
            if query.query_id in topics:
                raise PipelineError(f"{PREFIX}{self.irds_id}: duplicate query id {query.query_id!r}")
            if query.query_id in judged:
                topics[query.query_id] = _query(self.irds_id, query, self.topic_field)
        return topics

    def docs(self) -> Iterator[Doc]:
        """The corpus, its ids checked as a collection file's are (:func:`pipeline.collection.corpora.checked`)."""
        docs = self._read("docs", lambda ds: ds.docs_iter())
        return checked(self.corpus, ((f"document {n}", _doc(d)) for n, d in enumerate(docs, start=1)))

    def passages(self) -> DocstorePassages:
        """Passage texts for reranking from ir_datasets' docstore (no index needed)."""
        return DocstorePassages(self.irds_id)

    def _by_query(self, rows: Iterable[tuple[str, str, V]], duplicate: str) -> dict[str, dict[str, V]]:
        """``{query: {doc: value}}`` from ``(query, doc, value)`` rows; a pair seen twice is an error
        (``duplicate`` says how, with ``{q}`` and ``{d}``)."""
        out: dict[str, dict[str, V]] = {}
        for q, d, value in rows:
            docs = out.setdefault(q, {})
            if d in docs:
                raise PipelineError(f"{PREFIX}{self.irds_id}: " + duplicate.format(q=q, d=d))
            docs[d] = value
        return out

    def _write_candidates(self, path: Path, split: str) -> None:
        rows = ((s.query_id, s.doc_id, float(s.score))
                for s in self._read("scoreddocs", lambda ds: ds.scoreddocs_iter()))
        run: Run = self._by_query(rows, "scored docs list document {d!r} twice for query {q!r}")
        tied = [q for q, docs in run.items() if len(docs) > 1 and len(set(docs.values())) == 1]
        if tied:
            print(f"warning: {self.name}:{split}: the scored docs of {len(tied)} of {len(run)} queries all have one "
                  f"score (MS MARCO's top-1000 lists carry none), so their order is no ranking: rerank all of "
                  f"them (--depth {max(len(run[q]) for q in tied)}) and disregard the first stage's measures",
                  file=sys.stderr)
        write_run(path, run, "scoreddocs")


class DocstorePassages:
    """``docid -> contents`` from ir_datasets' docstore (which ir_datasets builds on first use)."""

    def __init__(self, ident: str) -> None:
        self._ident = ident
        self._store: Any = None

    def get(self, docid: str) -> str:
        """The contents of ``docid``; an error naming it when the collection lacks it."""
        ident = self._ident
        with _reading(ident, "docs"):
            if self._store is None:
                self._store = _providing(ident, "docs").docs_store()
            found = self._store.get_many([docid])
        if docid not in found:
            raise PipelineError(f"document {docid!r} is not in {PREFIX}{ident} (a candidate run from another "
                                f"corpus?)")
        return _doc(found[docid]).contents


def irds_dataset(name: str) -> IrdsDataset:
    """The dataset ``irds:<id>`` (or its :func:`file_name`) from ir_datasets."""
    ident = _irds_id(name)
    ds = _load(ident)
    split = split_name(ident)
    candidates = RUN_CACHE / f"{file_name(ident)}.{split}.scoreddocs.trec" if ds.has_scoreddocs() else None
    splits = {split: Split(qrels=Path(PREFIX + ident), candidates=candidates)} if ds.has_qrels() else {}
    provides = [e for e in ("docs", "queries", "qrels", "scoreddocs") if ds.has(e)]
    return IrdsDataset(name=file_name(ident), corpus=Path(PREFIX + ident), corpus_format="irds",
                       topics=Path(PREFIX + ident), topics_format="irds", splits=splits,
                       description=f"ir_datasets {ident} ({', '.join(provides)})",
                       remove_query=ident.startswith("beir/"), default_split=split, irds_id=ident)
