"""Passage text for reranking: from a collection file, or from the raw documents an index stores.

A reranker needs the text of every candidate. For a registered dataset the corpus is read
once into memory (fast, no JVM); for an index built elsewhere the stored raw document is used
(``{"contents": ...}`` for JsonCollection, or the raw string itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pipeline.collection.corpora import Doc
from pipeline.common.errors import PipelineError


class Passages:
    """``docid -> contents`` lookups over a collection or a Lucene index."""

    def __init__(self, docs: Iterable[Doc] | None = None, index: str | Path | None = None) -> None:
        if (docs is None) == (index is None):
            raise ValueError("give exactly one of docs or index")
        self._text: dict[str, str] = {d.id: d.contents for d in docs} if docs is not None else {}
        self._searcher = None
        if index is not None:
            from pipeline.common.java import start_jvm

            start_jvm()
            from pipeline.indexing.lucene import open_searcher

            self._searcher = open_searcher(Path(index))

    def get(self, docid: str) -> str:
        """The contents of ``docid``; an error naming it when the collection lacks it."""
        text = self._text.get(docid)
        if text is None and self._searcher is not None:
            doc = self._searcher.doc(docid)
            raw = doc.raw() if doc is not None else None
            if raw is not None:
                try:
                    text = json.loads(raw).get("contents", raw)
                except (json.JSONDecodeError, AttributeError):
                    text = raw
                self._text[docid] = text
        if text is None:
            raise PipelineError(f"document {docid!r} is not in the collection (a candidate run from another corpus?)")
        return text
