"""Golden files: the commands' outputs on the test fixtures, fixed before the package was laid out by
stage (issue 20), so a move of code cannot change what a user gets.

The BM25 run (Lucene's float scores) and the evaluation of it must match byte for byte. The tiny
model's rerank must match in everything but the last digits of its scores: the same documents for
each query and the same tag, each score within 1e-5 of its size, and each rank moved only past
documents whose scores are that close, since float sums in a forward pass differ between CPUs'
vector units (AVX2 and AVX-512 kernels) though not between runs on one machine, and a random
model scores many pairs within a few parts in a million of one another. To remake
them after a change that is meant to change outputs: ``PIPELINE_WRITE_GOLDEN=1 pytest
tests/test_golden.py``, and say why in the commit.
"""

import os
from pathlib import Path

import pytest

from .conftest import run_cli

GOLDEN = Path(__file__).parent / "golden"
WRITE = os.environ.get("PIPELINE_WRITE_GOLDEN") == "1"


def _check(produced: str, name: str) -> str:
    """The golden text of ``name`` (written from ``produced`` when remaking them)."""
    if WRITE:
        (GOLDEN / name).write_text(produced)
    return (GOLDEN / name).read_text()


@pytest.fixture(scope="module")
def env(scifact_slice) -> dict:
    return {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}


def test_bm25_run_and_its_evaluation_are_unchanged(env, slice_index, tmp_path):
    out = tmp_path / "sci-slice.bm25.trec"
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--output", str(out),
                   "--depth", "100", "--tag", "golden-bm25", "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == _check(out.read_text(), "sci-slice.bm25.trec")
    proc = run_cli("pipeline.evaluate", "--qrels", "sci-slice:test", "--run", str(out), "-m", "ndcg@10", "mrr@10",
                   "map", "recall@100", "judged@10", "--output", str(tmp_path / "eval.json"), env=env)
    assert proc.returncode == 0, proc.stderr
    table = proc.stdout.replace(str(out), "RUN")
    assert table == _check(table, "sci-slice.bm25.evaluation.txt")


def test_tiny_model_rerank_is_unchanged(env, slice_index, tiny_bert, tmp_path):
    out = tmp_path / "sci-slice.tiny.trec"
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--reranker",
                   str(tiny_bert), "--depth", "20", "--output", str(out), "--tag", "golden-tiny", "--no-progress",
                   "--batch-size", "8", env=env)
    assert proc.returncode == 0, proc.stderr
    produced, golden = _scores(out.read_text()), _scores(_check(out.read_text(), "sci-slice.tiny.trec"))
    assert {q: set(d) for q, d in produced.items()} == {q: set(d) for q, d in golden.items()}
    assert sum(len(d) for d in golden.values()) == 40 * 20
    for qid, docs in golden.items():
        for docid, (rank, score, tag) in docs.items():
            mine_rank, mine_score, mine_tag = produced[qid][docid]
            assert mine_tag == tag and mine_score == pytest.approx(score, rel=1e-5), (qid, docid)
            # the rank may move only past documents whose scores are within the tolerance
            near = [d for d, (_, s, _) in docs.items() if s == pytest.approx(score, rel=1e-5)]
            assert abs(mine_rank - rank) < len(near), (qid, docid, mine_rank, rank)


def _scores(text: str) -> dict[str, dict[str, tuple[int, float, str]]]:
    """qid -> docid -> (rank, score, tag) of a run file's text."""
    out: dict[str, dict[str, tuple[int, float, str]]] = {}
    for line in text.splitlines():
        qid, _, docid, rank, score, tag = line.split()
        out.setdefault(qid, {})[docid] = (int(rank), float(score), tag)
    return out
