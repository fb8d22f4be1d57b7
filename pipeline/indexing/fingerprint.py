"""Which collection an index was built from, and the check that a run searches the right one.

Every index manifest (Lucene and dense) records ``collection``: the dataset's name (or the
collection file's), its document count, and a fingerprint (sha256 over every indexed document's
id and contents, in order; empty documents are not indexed, see
:func:`pipeline.collection.corpora.without_empty`). Searching an index of another collection returns real-looking
scores for the wrong documents (MAP 0.0004, exit 0), so :func:`check_index` refuses it with the fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipeline.collection.corpora import Doc, without_empty
from pipeline.common.errors import PipelineError


class Fingerprint:
    """Counts and hashes documents as they stream past (``for d in fp.over(docs)``)."""

    def __init__(self) -> None:
        self._sha, self.documents = hashlib.sha256(), 0

    def over(self, docs: Iterable[Doc]) -> Iterator[Doc]:
        for doc in docs:
            self._sha.update(f"{doc.id}\t{doc.contents}\n".encode())
            self.documents += 1
            yield doc

    @property
    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def source_name(source: dict, default: str) -> str:
    """The name an index records for its collection: the dataset's, else the collection file's."""
    return source.get("dataset") or (Path(source["collection"]).name if source.get("collection") else default)


def describe(name: str, docs: Iterable[Doc]) -> dict:
    """The ``collection`` record of ``docs`` (read once, to the end)."""
    fp = Fingerprint()
    for _ in fp.over(docs):
        pass
    return {"name": name, "documents": fp.documents, "fingerprint": fp.hexdigest}


def check_index(index: Path, manifest: dict, ds, kind: str = "") -> None:
    """Refuse ``index`` (its ``manifest``) unless it was built from dataset ``ds``'s collection.

    The names are compared first; an index built from a collection file (or an older one with
    only its ``source``) is compared by document count, then by fingerprint (hashing every
    document only when the counts agree).
    """
    built = manifest.get("collection") or {}
    name = built.get("name") or (manifest.get("source") or {}).get("dataset")
    if name == ds.name:
        return
    if built.get("fingerprint") and sum(1 for _ in without_empty(ds.docs(), [])) == built.get("documents") and \
            describe(ds.name, without_empty(ds.docs(), []))["fingerprint"] == built["fingerprint"]:
        return
    flag = " --dense" if kind == "dense" else ""
    raise PipelineError(f"{index} is an index of {name or 'another collection'!s}"
                        f"{' (' + str(built['documents']) + ' documents)' if built.get('documents') else ''}, "
                        f"not of {ds.name}: build {ds.name}'s with python -m pipeline.index --dataset {ds.name}{flag}, "
                        f"or pass its --{'dense-' if kind == 'dense' else ''}index")
