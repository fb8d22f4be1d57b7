"""The one error type users see: a short, actionable message instead of a traceback."""

from __future__ import annotations


class PipelineError(Exception):
    """A user-facing failure (bad input, missing index or model) with a one-line message.

    Raise it with everything the user needs to fix the problem: the file, the line, what was
    expected, or the command that builds the missing piece.
    """


def located(path: object, line: int | str | None, message: str) -> PipelineError:
    """An error that names the file (and line, 1-based, or a record such as ``paragraph 3``) it came
    from: ``path:line: message``."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return PipelineError(f"{where}: {message}")


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type's name when empty): for one-line errors."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
