"""Reranking runs end to end with a tiny BERT: order, sidecar, kill and resume, missing models."""

import json
import os
import signal
import subprocess
import sys
import time

from pipeline.collection.datasets import ROOT
from pipeline.runfiles.trec import rank, read_run

from .conftest import run_cli


def _rerank_args(scifact_slice, slice_index, tiny_bert, out, *extra):
    return ("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--reranker", str(tiny_bert),
            "--depth", "30", "--output", str(out), "--no-progress", "--batch-size", "8", *extra)


def test_reranked_run_follows_the_scores_and_records_what_happened(scifact_slice, slice_index, tiny_bert, tmp_path):
    out = tmp_path / "tiny.trec"
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}
    proc = run_cli(*_rerank_args(scifact_slice, slice_index, tiny_bert, out), env=env)
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    by_query: dict[str, list[tuple[int, float, str]]] = {}
    for line in lines:
        qid, _, docid, r, score, tag = line.split()
        by_query.setdefault(qid, []).append((int(r), float(score), docid))
    assert len(by_query) == 40 and all(len(v) == 30 for v in by_query.values())
    for ranked in by_query.values():
        assert [r for r, _, _ in ranked] == list(range(1, 31))
        assert [d for _, _, d in ranked] == [d for d, _ in rank({d: s for _, s, d in ranked})]
    sidecar = json.loads(out.with_name("tiny.trec.json").read_text())
    bm25 = read_run(sidecar["timings"]["bm25_cache"])
    assert {q: set(d) for q, d in read_run(out).items()} == {q: set(d) for q, d in bm25.items()}
    assert sidecar["reranking"]["pairs"] == 1200 and sidecar["reranking"]["truncated_passages"] > 0
    assert sidecar["model"]["max_length"] == 64 and sidecar["model"]["dtype"] == "fp32"
    assert not out.with_name("tiny.trec.partial").exists()


def test_killed_rerank_resumes_to_a_byte_identical_run(scifact_slice, slice_index, tiny_bert, tmp_path):
    env = {**os.environ, "PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}
    whole, resumed = tmp_path / "whole.trec", tmp_path / "resumed.trec"
    chunk = ("--chunk-pairs", "90", "--tag", "tiny")
    assert run_cli(*_rerank_args(scifact_slice, slice_index, tiny_bert, whole, *chunk), env=env).returncode == 0
    partial = resumed.with_name("resumed.trec.partial")
    proc = subprocess.Popen([sys.executable, "-m", *_rerank_args(scifact_slice, slice_index, tiny_bert, resumed,
                                                                 *chunk)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 4:  # header + 3 chunks done
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not resumed.exists()
    done_before = len(partial.read_text().splitlines()) - 1
    again = run_cli(*_rerank_args(scifact_slice, slice_index, tiny_bert, resumed, *chunk), env=env)
    assert again.returncode == 0, again.stderr
    sidecar = json.loads(resumed.with_name("resumed.trec.json").read_text())
    assert sidecar["reranking"]["resumed_pairs"] >= done_before * 90
    assert resumed.read_bytes() == whole.read_bytes()


def test_missing_named_model_names_the_command_that_builds_it(tmp_path):
    proc = run_cli("pipeline.run", "--reranker", "student4L", env={"PIPELINE_HOME": str(tmp_path)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: model 'student4L' not found in {tmp_path}/models/student4L; build it with "
        "`python -m pipeline.distill --student 4L` (or `make models` for all three)")


def test_empty_queries_and_passages_are_scored_and_reported_and_long_ones_cut(tiny_bert, tmp_path):
    import math

    from pipeline.collection.corpora import Doc
    from pipeline.indexing.passages import Passages
    from pipeline.rerank.crossencoder import CrossEncoder
    from pipeline.rerank.rescore import rerank

    docs = [Doc("d1", "", "a passage about cells"), Doc("d2", "", ""), Doc("d3", "", "protein " * 500)]
    candidates = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"d1": 1.0, "d2": 0.5}}
    topics = {"q1": "cells and proteins", "q2": ""}
    model = CrossEncoder(tiny_bert, max_length=64)
    run, stats = rerank(candidates, topics, Passages(docs=docs), model, tmp_path / "x.partial", {"m": 1},
                        progress=False)
    assert {q: set(d) for q, d in run.items()} == {q: set(d) for q, d in candidates.items()}  # nothing dropped
    assert all(math.isfinite(s) for d in run.values() for s in d.values())
    assert stats.empty_queries == ["q2"] and stats.empty_passages == 2  # d2, for both queries
    assert stats.truncated_passages == 1  # d3 is cut to fit 64 tokens, the query is kept whole
