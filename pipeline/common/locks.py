"""One writer per output: a lock file beside what a long job writes.

``<path>.lock`` is created atomically (``O_CREAT | O_EXCL``) and holds the owner's pid, host and
start time. A second process that wants the same output gets a one-line error naming the owner.
A lock left by a process that no longer runs on this host (say, killed with ``kill -9``) is
stale: it is removed and taken over, with a note on stderr. A lock from another host (a shared
disk) cannot be checked and is respected.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pipeline.common.errors import PipelineError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def lock_path(path: str | os.PathLike[str]) -> Path:
    """The lock file that guards ``path``."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def exclusive(path: str | os.PathLike[str], what: str = "written") -> Iterator[Path]:
    """Hold the lock on ``path`` for the ``with`` block; a clear error if a live process holds it."""
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = json.loads(lock.read_text())
                pid, host = int(owner["pid"]), str(owner["host"])
            except (OSError, ValueError, KeyError, TypeError):
                owner, pid, host = {}, -1, ""
            if pid > 0 and (host != me["host"] or _alive(pid)):
                raise PipelineError(f"{path} is being {what} by another process (pid {pid} on {host}, since "
                                    f"{owner.get('started', '?')}); wait for it, or delete {lock} if that process "
                                    f"is gone") from None
            if not owner and time.time() - _mtime(lock) < 2:  # being written right now by its creator
                time.sleep(0.5)
                continue
            print(f"note: removing the stale lock {lock} (pid {pid} is not running)", file=sys.stderr)
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            continue
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me))
        try:
            yield lock
        finally:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
        return
    raise PipelineError(f"could not take the lock {lock}; delete it if no pipeline process is running")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
