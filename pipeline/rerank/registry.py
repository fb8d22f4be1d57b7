"""Named rerankers: ``teacher``, ``student6L`` and ``student4L`` live in ``models/<name>/``.

Any other value is a path to a Hugging Face checkpoint directory or, when no such directory
exists, a Hugging Face hub id ``owner/name`` (``owner/name@revision`` for a branch, tag or
commit), fetched with ``huggingface_hub.snapshot_download`` into the Hugging Face cache
(``HF_HOME``/``HF_HUB_CACHE``) and found there offline (``HF_HUB_OFFLINE=1``) once it has been
downloaded; only the top-level configs, tokenizer files and safetensors weights are fetched.
``none`` (or its alias ``bm25``) means no reranking at all. A directory holding ``ensemble.json``
is an ensemble teacher (:mod:`pipeline.rerank.ensemble`).
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.common.errors import PipelineError, first_line
from pipeline.common.paths import MODELS
from pipeline.rerank.crossencoder import check_model_dir
from pipeline.rerank.ensemble import is_ensemble

NAMED = {
    "teacher": "python -m pipeline.train teacher",
    "student6L": "python -m pipeline.distill --student 6L",
    "student4L": "python -m pipeline.distill --student 4L",
}
HUB_ID = re.compile(r"(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?:@(?P<revision>[\w./-]+))?")
HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model"]  # configs, vocabularies, sentencepiece; no pickles


def resolve(reranker: str) -> Path | None:
    """The model directory of ``reranker`` (None for ``bm25``), or an error naming the command that builds it."""
    if reranker in ("none", "bm25"):
        return None
    if reranker in NAMED:
        path = MODELS / reranker
        if is_ensemble(path):
            return path
        if not (path / "config.json").is_file():
            raise PipelineError(f"model {reranker!r} not found in {path}; build it with `{NAMED[reranker]}` "
                                f"(or `make models` for all three)")
        check_model_dir(path)
        return path
    path = Path(reranker).expanduser()
    if is_ensemble(path):
        return path
    if not path.exists() and HUB_ID.fullmatch(reranker):
        path = hub_snapshot(reranker)
    elif not path.exists():
        raise PipelineError(f"unknown reranker {reranker!r}: not none, {', '.join(NAMED)}, a model directory "
                            f"or a Hugging Face hub id (owner/name)")
    check_model_dir(path)
    return path


def hub_snapshot(hub_id: str) -> Path:
    """The cached snapshot directory of ``owner/name[@revision]``, downloaded first when the hub can be reached."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        HFValidationError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
    )

    match = HUB_ID.fullmatch(hub_id)
    repo, revision = match["repo"], match["revision"]
    try:
        return Path(snapshot_download(repo, revision=revision, allow_patterns=HUB_FILES, ignore_patterns=["*/*"]))
    except HFValidationError as err:
        raise PipelineError(f"unknown reranker {hub_id!r}: not a model directory, and not a valid hub id "
                            f"({first_line(err)})") from None
    except IncompleteSnapshotError as err:
        raise PipelineError(f"{hub_id}: {first_line(err)}") from None
    except LocalEntryNotFoundError as err:  # no network, or HF_HUB_OFFLINE, and not in the cache
        cause = err.__cause__
        why = ("HF_HUB_OFFLINE is set" if isinstance(cause, OfflineModeIsEnabled) or constants.HF_HUB_OFFLINE
               else f"the hub cannot be reached ({first_line(cause or err)})")
        raise PipelineError(f"cannot download {hub_id} ({why}) and it is not in the Hugging Face cache "
                            f"{constants.HF_HUB_CACHE}: download it where there is a network "
                            f"(hf download {repo}{f' --revision {revision}' if revision else ''}) "
                            f"or pass a local model directory to --reranker instead (no directory {hub_id} "
                            f"exists)") from None
    except OSError as err:  # the hub answered: no such repository or revision, gated, or down
        raise PipelineError(f"cannot download {hub_id} from the Hugging Face hub: {first_line(err)}; pass a "
                            f"local model directory to --reranker instead") from None


def hub_origin(path: Path) -> dict | None:
    """``{"hub_id", "revision"}`` when ``path`` is a snapshot in a Hugging Face cache (revision: its commit)."""
    repo = path.parent.parent.name
    if path.parent.name != "snapshots" or not repo.startswith("models--"):
        return None
    return {"hub_id": repo.removeprefix("models--").replace("--", "/", 1), "revision": path.name}
