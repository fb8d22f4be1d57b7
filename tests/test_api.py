"""The Python API: the public names import from ``pipeline``, lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pipeline


def test_import_pipeline_loads_neither_torch_nor_the_jvm():
    code = "import sys, pipeline; print(sorted(m for m in ('torch', 'jnius', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_public_name_resolves_to_its_module_object():
    import importlib

    for name, module in pipeline._EXPORTS.items():
        assert getattr(pipeline, name) is getattr(importlib.import_module(module), name)
    assert pipeline.__all__ == sorted(pipeline._EXPORTS)
    submodules = {p.stem for p in Path(pipeline.__file__).parent.glob("*.py")} | \
        {p.name for p in Path(pipeline.__file__).parent.iterdir() if (p / "__init__.py").is_file()}
    assert not submodules & set(pipeline._EXPORTS)  # importing a submodule would replace the export
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        pipeline.nothing  # noqa: B018
