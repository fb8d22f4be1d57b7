"""What every ``python -m pipeline.X`` command shares: error reporting and exit codes."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence

from pipeline.common.errors import PipelineError


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """``--debug`` shows the full traceback instead of the one-line error."""
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> None:
    """Call ``main`` and exit with its code; a :class:`PipelineError` becomes one line on stderr.

    Exit codes: 0 success, 1 a :class:`PipelineError`, 130 interrupted (Ctrl-C), 143 terminated
    (SIGTERM). SIGTERM is raised as :class:`Terminated`, a ``KeyboardInterrupt``, so long work
    flushes what it finished on either signal (:func:`pipeline.rerank.rescore.rerank`) before exiting.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = main(args)
    except PipelineError as err:
        if "--debug" in args:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as err:
        print(f"interrupted{f': {err}' if str(err) else ''}", file=sys.stderr)
        sys.exit(143 if isinstance(err, Terminated) else 130)
    sys.exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C's ``KeyboardInterrupt``."""


def _terminate(signum, frame) -> None:
    raise Terminated()
