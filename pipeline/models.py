"""Named rerankers: ``teacher``, ``student6L`` and ``student4L`` live in ``models/<name>/``.

Any other value is taken as a path to a Hugging Face checkpoint directory; ``none`` (or its
alias ``bm25``) means no reranking at all.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.crossencoder import check_model_dir
from pipeline.errors import PipelineError
from pipeline.paths import MODELS

NAMED = {
    "teacher": "python -m pipeline.train teacher",
    "student6L": "python -m pipeline.distill --student 6L",
    "student4L": "python -m pipeline.distill --student 4L",
}


def resolve(reranker: str) -> Path | None:
    """The model directory of ``reranker`` (None for ``bm25``), or an error naming the command that builds it."""
    if reranker in ("none", "bm25"):
        return None
    if reranker in NAMED:
        path = MODELS / reranker
        if not (path / "config.json").is_file():
            raise PipelineError(f"model {reranker!r} not found in {path}; build it with `{NAMED[reranker]}` "
                                f"(or `make models` for all three)")
        check_model_dir(path)
        return path
    path = Path(reranker).expanduser()
    if not path.exists():
        raise PipelineError(f"unknown reranker {reranker!r}: not none, {', '.join(NAMED)}, or a model directory")
    check_model_dir(path)
    return path
