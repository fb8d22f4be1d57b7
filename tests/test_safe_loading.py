"""Safe loading, checked on the package's own source: no pickle, no remote code, torch.load only with
weights_only=True; model weights come from safetensors (a .bin-only directory is refused)."""

import re

import pytest

from pipeline.collection.datasets import ROOT
from pipeline.common.errors import PipelineError
from pipeline.rerank.crossencoder import check_model_dir

SOURCES = sorted((ROOT / "pipeline").rglob("*.py"))


def test_the_package_never_unpickles_or_runs_remote_code():
    assert len(SOURCES) > 20
    for path in SOURCES:
        text = path.read_text()
        assert not re.search(r"^\s*(import pickle|from pickle|import dill|import joblib)", text, re.M), path
        assert "trust_remote_code=True" not in text, path
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, (path, call)


def test_pickle_only_weights_are_refused_with_the_fix(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(PipelineError, match="pickle weights, which are not loaded for safety; convert them"):
        check_model_dir(tmp_path)
