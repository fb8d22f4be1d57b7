"""What every ``python -m pipeline.X`` command shares: error reporting and exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pipeline.errors import PipelineError


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """``--debug`` shows the full traceback instead of the one-line error."""
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def run_main(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> None:
    """Call ``main`` and exit with its code; a :class:`PipelineError` becomes one line on stderr.

    Exit codes: 0 success, 1 a :class:`PipelineError`, 130 interrupted by the user.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = main(args)
    except PipelineError as err:
        if "--debug" in args:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code)
