"""Ensemble teachers: weighted sums of members' raw scores, fitted on a dev set, and students of them."""

from __future__ import annotations

import json

import pytest

from pipeline.common.errors import PipelineError
from pipeline.evaluation.measures import evaluate
from pipeline.rerank.ensemble import (
    EnsembleScorer,
    Member,
    check_first_stage,
    combine,
    parse_member,
    read_ensemble,
    write_ensemble,
)
from pipeline.runfiles.trec import read_run
from pipeline.training.ensemble_fit import bm25_group_scores, fit_weights

from .conftest import run_cli


def test_combine_sums_weighted_raw_scores_and_refuses_other_pairs():
    a = {"q": {"d1": 1.0, "d2": 3.0}}
    b = {"q": {"d1": 10.0, "d2": -2.0}}
    assert combine([a, b], [1.0, 0.5]) == {"q": {"d1": 6.0, "d2": 2.0}}
    with pytest.raises(PipelineError, match="scored other pairs"):
        combine([a, {"q": {"d1": 1.0}}], [1.0, 1.0])


def test_fit_weights_finds_the_member_that_knows_the_answer():
    qrels = {"q1": {"good": 1}, "q2": {"good": 1}}
    # member 0 ranks the relevant document last, member 1 first but by a small margin
    m0 = {q: {"good": 0.0, "x": 1.0, "y": 5.0} for q in qrels}
    m1 = {q: {"good": 3.0, "x": 0.0, "y": 0.0} for q in qrels}
    weights, best = fit_weights([[m0, m1]], [qrels], grid=(0.0, 0.5, 1.0, 4.0))
    assert weights == [1.0, 4.0] and best == pytest.approx(1.0)
    alone = evaluate(m0, qrels, ["ndcg@10"]).aggregate["ndcg@10"]
    assert alone < best


def test_members_parse_and_an_ensemble_reads_back(tmp_path):
    members = [parse_member("cross-encoder:models/x"), Member("bi-encoder", "mpnet", 0.5, 20.0, 128)]
    assert members[0] == Member("cross-encoder", "models/x")
    write_ensemble(tmp_path, members, dev={"a": 1})
    assert read_ensemble(tmp_path) == members
    assert parse_member("bm25") == Member("bm25", "bm25") and parse_member("bm25").label == "bm25"
    for bad in ("x", "cross-encoder:", "dense:mpnet", "bm25:x"):
        with pytest.raises(PipelineError, match="expected cross-encoder:PATH"):
            parse_member(bad)
    (tmp_path / "ensemble.json").write_text(json.dumps({"members": [{"kind": "dense", "path": "p"}]}))
    with pytest.raises(PipelineError, match="kind 'dense'"):
        read_ensemble(tmp_path)


def test_a_bm25_member_takes_only_bm25_candidates_of_its_parameters():
    members = [Member("cross-encoder", "x"), Member("bm25", "bm25")]
    check_first_stage(members, "bm25")
    check_first_stage(members, "pyserini-bm25")  # an official candidates file's tag
    check_first_stage(members[:1], "dense")  # no bm25 member: any candidates
    for stage in ("dense", "hybrid", "bm25+rm3", "qld", "anserini"):
        with pytest.raises(PipelineError, match="takes the candidates' scores as BM25's"):
            check_first_stage(members, stage)
    with pytest.raises(PipelineError, match="--k1 0.9 --b 0.4"):
        check_first_stage(members, "bm25", k1=1.2, b=0.75)


def test_a_bm25_member_scores_training_pairs_as_the_search_scored_them(scifact_slice, slice_index, tmp_path,
                                                                       monkeypatch):
    """A group's negatives come from the BM25 run: Anserini's pair score of each equals its search score,
    and the relevant passage (often outside the top 100) is scored too."""
    from pipeline.candidates.bm25 import cached_search
    from pipeline.collection.datasets import get_dataset
    from pipeline.training.examples import Group, bm25_groups

    monkeypatch.setenv("PIPELINE_DATASETS", str(scifact_slice / "datasets.toml"))
    monkeypatch.setattr("pipeline.candidates.bm25.CACHE", tmp_path)  # the groups and their run: not our caches
    monkeypatch.setattr("pipeline.training.examples.CACHE", tmp_path)
    monkeypatch.setattr("pipeline.indexing.lucene.INDEXES", slice_index.parent)  # where sci-slice is found
    ds = get_dataset("sci-slice")
    groups = bm25_groups(ds, "test", negatives=3, index=slice_index)
    assert groups and all(g.dataset == "sci-slice" for g in groups)
    scores = bm25_group_scores(groups[:10])
    run = cached_search("sci-slice", "test", ds.topics_for("test"), slice_index, depth=100, remove_query=True)
    for g, s in zip(groups[:10], scores, strict=True):
        assert len(s) == 4 and all(x >= 0 for x in s)
        for d, x in zip(g.docids[1:], s[1:], strict=True):
            assert x == pytest.approx(run[g.qid][d], abs=1e-3)
        if g.docids[0] in run[g.qid]:
            assert s[0] == pytest.approx(run[g.qid][g.docids[0]], abs=1e-3)
    with pytest.raises(PipelineError, match="from no indexed dataset"):
        bm25_group_scores([Group("q", "text", ["a"], ["a text"])])
    foreign = Group(groups[0].qid, groups[0].query, [groups[0].docids[0], "no-such-doc"], ["a", "b"],
                    dataset="sci-slice")
    with pytest.raises(PipelineError, match="holds no document 'no-such-doc'"):
        bm25_group_scores([foreign])
    # a blank passage (the indexer leaves blank documents out) scores 0, as BM25 scores a document of no terms
    blank = Group(groups[0].qid, groups[0].query, ["blank-doc", *groups[0].docids[1:]], [" ", *groups[0].texts[1:]],
                  dataset="sci-slice")
    assert bm25_group_scores([blank]) == [[0.0, *scores[0][1:]]]


def test_an_ensemble_is_fitted_on_a_dev_set_and_students_learn_it(scifact_slice, slice_index, tiny_bert, tiny_mpnet,
                                                                  tmp_path):
    """``pipeline.train ensemble`` scores the dev candidates with every member, keeps the best weights, and
    ``pipeline.distill --teacher ENSEMBLE`` trains a student on the weighted sum (layer losses against the
    cross-encoder member)."""
    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "sci-slice").symlink_to(slice_index)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    out = tmp_path / "ens"
    proc = run_cli("pipeline.train", "ensemble", "--member", f"cross-encoder:{tiny_bert}", "--member",
                   f"bi-encoder:{tiny_mpnet}", "--fit-on", "sci-slice:test", "--depth", "5", "--grid", "0", "1", "3",
                   "--max-length", "64", "--output", str(out), "--no-progress", env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-1500:]
    record = json.loads((out / "ensemble.json").read_text())
    members = read_ensemble(out)
    assert [m.kind for m in members] == ["cross-encoder", "bi-encoder"] and members[0].weight == 1.0
    assert members[1].weight in (0.0, 1.0, 3.0) and members[1].max_length == 64
    row = record["dev"]["sci-slice.test.top5"]
    assert row["ensemble"] >= row["members"][f"cross-encoder:{tiny_bert}"]  # weight 0 was on the grid
    # the recorded figure is the weighted sum of the cached member runs, evaluated
    cached = sorted((tmp_path / "runs" / ".cache").glob("sci-slice.test.ensemble-member.*.trec"))
    assert len(cached) == 2
    assert "versions" in record and record["fitted_on"] == ["sci-slice:test"]
    assert f"sci-slice.test.top5: ensemble nDCG@10 {row['ensemble']:.4f}" in proc.stdout
    runs = [read_run(p) for p in cached]
    qrels: dict[str, dict[str, int]] = {}
    for line in (scifact_slice / "test.tsv").read_text().splitlines()[1:]:
        q, d, g = line.split("\t")
        qrels.setdefault(q, {})[d] = int(g)
    sums = {round(evaluate(combine(r, [m.weight for m in members]), qrels, ["ndcg@10"])
                  .aggregate["ndcg@10"], 4) for r in (runs, runs[::-1])}  # cache names do not say which is which
    assert row["ensemble"] in sums

    # pipeline.run reranks with the ensemble: the same candidates give the fit's figure, from the cached members
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--split", "test", "--depth", "5", "--reranker", str(out),
                   "--output", str(tmp_path / "ens.trec"), "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr[-1500:]
    sidecar = json.loads((tmp_path / "ens.trec.json").read_text())
    assert round(sidecar["evaluation"]["ndcg@10"], 4) == row["ensemble"]
    assert [m["cached"] for m in sidecar["model"]["ensemble"]["members"]] == [True, True]
    assert "(cached)" in proc.stdout

    # with BM25 as a third member, the run adds 0.5 x each candidate's own BM25 score to the cached members' sum
    with_bm25 = tmp_path / "ens-bm25"
    write_ensemble(with_bm25, [*members, Member("bm25", "bm25", 0.5)])
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--split", "test", "--depth", "5", "--reranker",
                   str(with_bm25), "--output", str(tmp_path / "ens-bm25.trec"), "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr[-1500:]
    bm25 = read_run(next((tmp_path / "runs" / ".cache").glob("sci-slice.test.bm25.*.trec")))
    reranked = read_run(tmp_path / "ens-bm25.trec")
    expected = {q: {d: sum(m.weight * r[q][d] for m, r in zip(members, runs, strict=True)) for d in docs}
                for q, docs in reranked.items()}
    expected_rev = {q: {d: sum(m.weight * r[q][d] for m, r in zip(members, runs[::-1], strict=True)) for d in docs}
                    for q, docs in reranked.items()}
    assert any(all(reranked[q][d] == pytest.approx(e[q][d] + 0.5 * bm25[q][d], abs=1e-6)
                   for q in reranked for d in reranked[q]) for e in (expected, expected_rev))
    with pytest.raises(AssertionError):  # and the BM25 term is really there
        assert all(reranked[q][d] == pytest.approx(expected[q][d], abs=1e-6) for q in reranked for d in reranked[q])
    sidecar = json.loads((tmp_path / "ens-bm25.trec.json").read_text())
    assert [m["member"] for m in sidecar["model"]["ensemble"]["members"]][-1] == "bm25"

    common = ("--student", "1L", "--lm", str(tiny_bert), "--dataset", "sci-slice",
              "--split", "test", "--limit-groups", "8", "--negatives", "3", "--batch-groups", "4", "--max-steps",
              "2", "--max-length", "64")
    for procedure, teacher in ((("--procedure", "ranker", "--student-from", "lm"), with_bm25),
                               (("--procedure", "lm+ranker"), out)):
        student = tmp_path / f"student-{procedure[1]}"
        proc = run_cli("pipeline.distill", *common, "--teacher", str(teacher), *procedure, "--lr", "1e-2",
                       "--output", str(student), env=env, timeout=900)
        assert proc.returncode == 0, proc.stderr[-1500:]
        log = json.loads((student / "pipeline-training.json").read_text())["log"]
        assert all("loss_score" in h for h in log)
        if procedure[1] == "lm+ranker":
            assert all("loss_hidden" in h for h in log)


def test_the_ensemble_scorer_gives_the_scores_of_an_ensemble_rerank(scifact_slice, slice_index, tiny_bert, tiny_mpnet,
                                                                    tmp_path):
    """EnsembleScorer (what benchmarks/teacher_speedup.py times) scores each pair as ``pipeline.run`` with
    the ensemble does (members cached there, computed afresh here); a bm25 member needs the BM25 scores."""
    from pipeline.collection.corpora import read_corpus
    from pipeline.collection.topics import read_topics
    from pipeline.runfiles.trec import rank

    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "sci-slice").symlink_to(slice_index)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    ens = tmp_path / "ens"
    write_ensemble(ens, [Member("cross-encoder", str(tiny_bert)), Member("bi-encoder", str(tiny_mpnet), 0.5, 20.0, 64),
                         Member("bm25", "bm25", 0.25)])
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--split", "test", "--depth", "5", "--reranker", str(ens),
                   "--output", str(tmp_path / "ens.trec"), "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr[-1500:]
    reranked = read_run(tmp_path / "ens.trec")
    bm25 = read_run(next((tmp_path / "runs" / ".cache").glob("sci-slice.test.bm25.*.trec")))
    topics = read_topics(scifact_slice / "queries.jsonl", "beir")
    texts = {d.id: d.contents for d in read_corpus(scifact_slice / "corpus.jsonl", "beir")}
    pairs = [(q, d) for q in sorted(reranked) for d, _ in rank(bm25[q])[:5]]
    scorer = EnsembleScorer(read_ensemble(ens))
    scores = scorer.score([topics[q] for q, _ in pairs], [texts[d] for _, d in pairs], [bm25[q][d] for q, d in pairs])
    assert len(pairs) == 5 * len(reranked) > 0
    assert list(scores) == pytest.approx([reranked[q][d] for q, d in pairs], abs=1e-4)
    with pytest.raises(PipelineError, match="give each pair's BM25 score"):
        scorer.score([topics[q] for q, _ in pairs], [texts[d] for _, d in pairs])
