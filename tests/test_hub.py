"""Hugging Face hub ids as rerankers: the real huggingface_hub cache lookup, offline and with a
network that fails (nothing is downloaded here), and a tiny BERT laid out as the hub cache lays
it out, found offline, scored with, and recorded in the run's sidecar."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.collection.datasets import ROOT
from pipeline.common.errors import PipelineError
from pipeline.rerank.crossencoder import CrossEncoder
from pipeline.rerank.registry import hub_origin, resolve

HUB_ID = "cross-encoder/ms-marco-MiniLM-L6-v2"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _python(code: str, hf_home: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (huggingface_hub reads its environment on import) with
    ``HF_HOME`` as the only Hugging Face setting."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("HF_", "HUGGINGFACE_")) and k not in ("TRANSFORMERS_OFFLINE", "TRANSFORMERS_CACHE")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**clean, "HF_HOME": str(hf_home), **env})


def _run_cli(*args: str, hf_home: Path, **env: str) -> subprocess.CompletedProcess:
    return _python(f"import sys; from pipeline.run import main_cli; sys.argv[1:] = {list(args)!r}; main_cli()",
                   hf_home, **env)


def test_offline_and_not_cached_is_one_line_naming_the_fix(tmp_path):
    hf_home = tmp_path / "hf"
    proc = _run_cli("--reranker", HUB_ID, hf_home=hf_home, HF_HUB_OFFLINE="1")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: cannot download {HUB_ID} (HF_HUB_OFFLINE is set) and it is not in the "
                               f"Hugging Face cache {hf_home / 'hub'}")
    assert "pass a local model directory to --reranker instead" in lines[0]


def test_a_network_that_fails_is_the_same_one_line(tmp_path):
    with socket.socket() as closed:  # bound, never listening: connecting to it is refused
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
        proc = _run_cli("--reranker", f"{HUB_ID}@main", hf_home=tmp_path / "hf", HF_ENDPOINT=endpoint)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"error: cannot download {HUB_ID}@main (the hub cannot be reached (")
    assert "Connection refused" in lines[0] and f"hf download {HUB_ID} --revision main" in lines[0]


def test_names_that_are_neither_a_directory_nor_a_hub_id_are_unknown():
    for name in ("no-such-model", "a/b/c", "./x/y"):
        with pytest.raises(PipelineError, match=f"unknown reranker '{re.escape(name)}': not none, teacher, "
                                                f"student6L, student4L, a model directory or a Hugging Face hub"):
            resolve(name)


@pytest.fixture
def hub_cache(tiny_bert, tmp_path) -> tuple[Path, Path]:
    """``HF_HOME`` holding ``tiny-org/tiny-ranker`` as huggingface_hub caches a download: files in
    ``blobs/``, a snapshot of symlinks to them under ``snapshots/<commit>/``, ``refs/main``."""
    hf_home = tmp_path / "hf"
    repo = hf_home / "hub" / "models--tiny-org--tiny-ranker"
    snapshot = repo / "snapshots" / COMMIT
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for i, f in enumerate(sorted(f for f in tiny_bert.iterdir() if f.is_file())):  # not onnx/ of int8 tests
        blob = repo / "blobs" / f"{i:040x}"
        blob.write_bytes(f.read_bytes())
        (snapshot / f.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)  # as huggingface_hub writes it: no newline
    return hf_home, snapshot


def test_a_cached_hub_model_is_found_offline_and_scores(hub_cache, tiny_bert):
    hf_home, snapshot = hub_cache
    code = ("import json; from pipeline.rerank.registry import resolve\n"
            "from pipeline.rerank.crossencoder import CrossEncoder\n"
            "from pipeline.common.errors import PipelineError\n"
            "paths = [resolve(n) for n in ('tiny-org/tiny-ranker', 'tiny-org/tiny-ranker@main', "
            f"'tiny-org/tiny-ranker@{COMMIT}')]\n"
            "scores = CrossEncoder(paths[0]).score(['protein folding'], ['cells fold proteins'])\n"
            "try:\n    resolve('tiny-org/tiny-ranker@v2')\nexcept PipelineError as err:\n    missing = str(err)\n"
            "print(json.dumps({'paths': [str(p) for p in paths], 'score': float(scores[0]), 'v2': missing}))")
    proc = _python(code, hf_home, HF_HUB_OFFLINE="1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["paths"] == [str(snapshot)] * 3
    expected = CrossEncoder(tiny_bert).score(["protein folding"], ["cells fold proteins"])[0]
    assert np.isclose(got["score"], expected, atol=1e-6)
    assert hub_origin(snapshot) == {"hub_id": "tiny-org/tiny-ranker", "revision": COMMIT}
    assert hub_origin(tiny_bert) is None
    assert got["v2"].startswith("cannot download tiny-org/tiny-ranker@v2 (HF_HUB_OFFLINE is set)")  # never fetched


def test_a_run_with_a_hub_reranker_records_its_id_and_commit(hub_cache, scifact_slice, tmp_path):
    hf_home, snapshot = hub_cache
    qrels = [line.split("\t") for line in (scifact_slice / "test.tsv").read_text().splitlines()[1:4]]
    docids = [json.loads(line)["_id"] for line in (scifact_slice / "corpus.jsonl").open()][:3]
    candidates = tmp_path / "candidates.trec"
    candidates.write_text("".join(f"{q} Q0 {d} {r + 1} {3 - r} bm25\n" for q, *_ in qrels
                                  for r, d in enumerate(docids)))
    out = tmp_path / "hub.trec"
    proc = _run_cli("--dataset", "sci-slice", "--reranker", "tiny-org/tiny-ranker", "--candidates", str(candidates),
                    "--output", str(out), "--no-progress", hf_home=hf_home, HF_HUB_OFFLINE="1",
                    PIPELINE_DATASETS=str(scifact_slice / "datasets.toml"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    sidecar = json.loads(out.with_name("hub.trec.json").read_text())
    assert sidecar["config"]["reranker"] == "tiny-org/tiny-ranker"
    assert sidecar["model"]["path"] == str(snapshot.resolve())
    assert sidecar["model"]["hub"] == {"hub_id": "tiny-org/tiny-ranker", "revision": COMMIT}
    assert sidecar["queries"] == len({q for q, *_ in qrels})
