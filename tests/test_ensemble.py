"""Ensemble teachers: weighted sums of members' raw scores, fitted on a dev set, and students of them."""

from __future__ import annotations

import json

import pytest

from pipeline.ensemble import Member, combine, fit_weights, parse_member, read_ensemble, write_ensemble
from pipeline.errors import PipelineError
from pipeline.evaluate import evaluate
from pipeline.runs import read_run

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
    for bad in ("x", "cross-encoder:", "dense:mpnet"):
        with pytest.raises(PipelineError, match="expected cross-encoder:PATH"):
            parse_member(bad)
    (tmp_path / "ensemble.json").write_text(json.dumps({"members": [{"kind": "dense", "path": "p"}]}))
    with pytest.raises(PipelineError, match="kind 'dense'"):
        read_ensemble(tmp_path)


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

    common = ("--student", "1L", "--teacher", str(out), "--lm", str(tiny_bert), "--dataset", "sci-slice",
              "--split", "test", "--limit-groups", "8", "--negatives", "3", "--batch-groups", "4", "--max-steps",
              "2", "--max-length", "64")
    for procedure in (("--procedure", "ranker", "--student-from", "lm"), ("--procedure", "lm+ranker")):
        student = tmp_path / f"student-{procedure[1]}"
        proc = run_cli("pipeline.distill", *common, *procedure, "--lr", "1e-2", "--output", str(student), env=env)
        assert proc.returncode == 0, proc.stderr[-1500:]
        log = json.loads((student / "pipeline-training.json").read_text())["log"]
        assert all("loss_score" in h for h in log)
        if procedure[1] == "lm+ranker":
            assert all("loss_hidden" in h for h in log)
