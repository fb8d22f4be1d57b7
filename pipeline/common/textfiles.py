"""Reading line-oriented text inputs (plain or ``.gz``) with errors that name file and line.

Every reader of runs, qrels, topics and corpora iterates through :func:`read_lines`, so a
missing file, a truncated gzip stream or bytes that are not UTF-8 all become one
:class:`~pipeline.common.errors.PipelineError` naming the file and line.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

from pipeline.common.errors import PipelineError, located


def _open_binary(path: Path):
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` for each line of ``path``, without the line ending.

    Gzip is detected by its magic bytes, so ``.gz`` and plain files both work whatever their
    name. Windows line endings are accepted; a UTF-8 byte-order mark on the first line is dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    lineno = 0
    try:
        with _open_binary(path) as f:
            for lineno, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise located(path, lineno, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
                if lineno == 1 and line.startswith("\ufeff"):
                    line = line[1:]
                yield lineno, line.rstrip("\r\n")
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise located(path, lineno + 1, f"corrupt or truncated gzip data ({err})") from None
    except OSError as err:
        raise PipelineError(f"{path}: cannot read ({err.strerror or err})") from None
