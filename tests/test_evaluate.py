"""Evaluation: trec_eval's numbers, checked against Pyserini's bundled trec_eval and reference values."""

import re

import pytest

from pipeline.collection.qrels import read_qrels
from pipeline.evaluation.measures import evaluate
from pipeline.runfiles.trec import read_run

from .conftest import trec_eval


def pyserini_trec_eval(*args: str) -> dict[str, float]:
    """Pyserini's bundled trec_eval's ``all`` lines."""
    return {m: float(v) for m, v in re.findall(r"^(\S+)\s+all\s+([0-9.]+)$", trec_eval(*args), re.M)}


def test_dl19_bm25_reproduces_the_published_ndcg10(dl19):
    result = evaluate(read_run(dl19 / "dl19.bm25_top100.run"), read_qrels(dl19 / "qrels.dl19-passage.txt"))
    assert f"{result.aggregate['ndcg@10']:.4f}" == "0.5058"
    assert result.queries == 43


def test_pytrec_eval_agrees_with_pyserinis_trec_eval_on_a_real_run(dl19):
    qrels, run_path = dl19 / "qrels.dl19-passage.txt", dl19 / "dl19.bm25_top100.run"
    ours = evaluate(read_run(run_path), read_qrels(qrels)).aggregate
    theirs = pyserini_trec_eval("-c", "-m", "ndcg_cut.10", "-m", "map", "-m", "recall.100", str(qrels), str(run_path))
    mrr = pyserini_trec_eval("-c", "-M", "10", "-m", "recip_rank", str(qrels), str(run_path))
    assert round(ours["ndcg@10"], 4) == theirs["ndcg_cut_10"]
    assert round(ours["map"], 4) == theirs["map"]
    assert round(ours["recall@100"], 4) == theirs["recall_100"]
    assert round(ours["mrr@10"], 4) == mrr["recip_rank"]
    ours_l2 = evaluate(read_run(run_path), read_qrels(qrels), ["map"], relevance_level=2).aggregate
    theirs_l2 = pyserini_trec_eval("-c", "-l", "2", "-m", "map", str(qrels), str(run_path))
    assert round(ours_l2["map"], 4) == theirs_l2["map"]


def test_ties_missing_queries_and_judged_by_hand():
    qrels = {"q1": {"a": 1, "b": 0}, "q2": {"x": 1}}
    # a and c tie: trec_eval puts "c" first (docid descending), so the relevant "a" is at rank 2
    run = {"q1": {"a": 1.0, "c": 1.0, "b": 0.5}, "q3": {"z": 1.0}}
    result = evaluate(run, qrels, ["mrr@10", "judged@10"])
    assert result.per_query["q1"] == {"mrr@10": 0.5, "judged@10": 0.2}
    assert result.per_query["q2"] == {"mrr@10": 0.0, "judged@10": 0.0}  # missing: scores 0 (-c)
    assert "q3" not in result.per_query  # not judged: ignored
    assert result.aggregate["mrr@10"] == pytest.approx(0.25)
    only = evaluate(run, qrels, ["mrr@10"], judged_queries_only=True)
    assert only.queries == 1 and only.aggregate["mrr@10"] == 0.5
