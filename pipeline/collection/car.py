"""Reading TREC CAR's CBOR files (with ``trec-car-tools``) so damaged files fail cleanly.

The ``cbor`` decoder spins forever on a file cut short, so reads go through a wrapper that
turns a short read into ``EOFError`` (which ends trec-car-tools' loop) and remembers where it
happened: a short read anywhere but right after the last whole record means truncation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from pipeline.common.errors import PipelineError, first_line, located

T = TypeVar("T")


class _StrictReader:
    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.short_read_at: int | None = None

    def read(self, n: int = -1) -> bytes:
        pos = self._f.tell()
        data = self._f.read(n)
        if n is not None and n > 0 and len(data) < n:
            self.short_read_at = pos
            raise EOFError("short read")
        return data

    def peek(self, n: int = 1) -> bytes:
        return self._f.peek(n)

    def tell(self) -> int:
        return self._f.tell()


def _same(item: Any) -> Any:
    """The record as read."""
    return item


def iter_car(path: Path, iterate: Callable[[Any], Iterator[Any]], what: str,
             decode: Callable[[Any], T] = _same) -> Iterator[T]:
    """Yield ``decode(record)`` for each record of a CAR file read by ``iterate`` (e.g. ``iter_paragraphs``).

    trec-car-tools decodes parts of a record lazily (``Paragraph.get_text()``), so ``decode`` is
    where that happens. Any damage, found reading or decoding, becomes a :class:`PipelineError`
    naming the file and the record number.
    """
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    done = 0
    with open(path, "rb") as f:
        reader = _StrictReader(f)
        end_of_last = reader.tell()
        try:
            for item in iterate(reader):
                yield decode(item)
                done += 1
                end_of_last = reader.tell()
        except Exception as err:  # the decoder raises many types on damaged input
            raise located(path, None, f"record {done + 1}: not a readable TREC CAR {what} "
                                      f"({type(err).__name__}: {first_line(err)})") from None
        if reader.short_read_at is not None and reader.short_read_at != end_of_last:
            raise located(path, None, f"record {done + 1}: not a readable TREC CAR {what} "
                                      f"(file truncated at byte {reader.short_read_at})")
