"""Fusion against hand-computed values."""

import math

import pytest

from pipeline.candidates.fusion import RankOdds, bayes_fuse, fit_rank_odds, interpolate, normalize, rrf
from pipeline.common.errors import PipelineError
from pipeline.runfiles.trec import read_run

from .conftest import run_cli

A = {"q": {"d1": 3.0, "d2": 2.0, "d3": 1.0}}
B = {"q": {"d3": 10.0, "d4": 5.0}}


def test_rrf_by_hand():
    fused = rrf([A, B], k=60)["q"]
    assert fused["d3"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["d1"] == pytest.approx(1 / 61)
    assert fused["d4"] == pytest.approx(1 / 62)
    assert fused["d2"] == pytest.approx(1 / 62)
    assert rrf([A], k=60, depth=1)["q"] == {"d1": pytest.approx(1 / 61)}
    weighted = rrf([A, B], k=60, weights=[1.0, 3.0])["q"]
    assert weighted == pytest.approx({"d3": 1 / 63 + 3 / 61, "d1": 1 / 61, "d4": 3 / 62, "d2": 1 / 62})
    with pytest.raises(PipelineError):
        rrf([A, B], weights=[1.0])


def test_normalisations_by_hand():
    assert normalize(A["q"]) == {"d1": 1.0, "d2": 0.5, "d3": 0.0}
    z = normalize({"a": 1.0, "b": 3.0}, "zscore")
    assert z == {"a": pytest.approx(-1.0), "b": pytest.approx(1.0)}
    assert normalize({"a": 2.0, "b": 2.0}) == {"a": 0.0, "b": 0.0}
    with pytest.raises(PipelineError, match="unknown normalization"):
        normalize(A["q"], "rank")


def test_interpolation_by_hand():
    fused = interpolate(A, B, alpha=0.25)["q"]
    # A minmax: d1 1, d2 .5, d3 0 (d4 missing -> 0); B minmax: d3 1, d4 0 (d1, d2 missing -> 0)
    assert fused == {"d1": pytest.approx(0.25), "d2": pytest.approx(0.125), "d3": pytest.approx(0.75),
                     "d4": pytest.approx(0.0)}
    with pytest.raises(PipelineError, match="alpha"):
        interpolate(A, B, alpha=1.5)


def test_bayes_fuse_fit_by_hand():
    run = {"q1": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "q2": {"e1": 2.0, "e2": 1.0}, "q3": {"x": 1.0}}
    qrels = {"q1": {"d2": 1, "d9": 1, "d1": 0}, "q2": {"e1": 2}}  # q3 unjudged: not counted
    odds = fit_rank_odds(run, qrels, n_docs=5, edges=(1, 2))
    # rank 1: d1, e1 (1 relevant of 2); rank 2: d2, e2 (1 of 2); not in the top 2: 3 + 3 documents, d9 relevant
    assert (odds.relevant, odds.documents) == ((1, 1, 1), (2, 2, 6))
    assert odds.log_odds == pytest.approx((0.0, 0.0, math.log(1.5 / 5.5)))
    assert (odds.at(1), odds.at(2), odds.at(3), odds.at(None)) == pytest.approx((0.0, 0.0, odds.log_odds[-1]) + (
        odds.log_odds[-1],))
    deeper = fit_rank_odds(run, qrels, n_docs=5, edges=(1, 2, 5, 10))
    # ranks 3-5: d3 (0 of 1); ranks 6-10: no documents, so the odds of ranks 3-5; missing: 2 + 3, d9 relevant
    assert deeper.documents == (2, 2, 1, 0, 5)
    assert deeper.log_odds[2:] == pytest.approx((math.log(0.5 / 1.5), math.log(0.5 / 1.5), math.log(1.5 / 4.5)))
    with pytest.raises(PipelineError, match="no relevant documents"):
        fit_rank_odds(run, {"q1": {"d1": 0}}, n_docs=5)


def test_bayes_fuse_by_hand():
    a = RankOdds((1, 2), (0.0, -1.0, -3.0), (0, 0, 0), (0, 0, 0))
    b = RankOdds((1,), (-0.5, -2.0), (0, 0), (0, 0))
    fused = bayes_fuse([A, B], [a, b])["q"]
    # A: d1 rank 1, d2 rank 2, d3 rank 3 (past the edges: "not retrieved"), d4 missing; B: d3 rank 1, d4 rank 2 (past)
    assert fused == pytest.approx({"d1": 0.0 - 2.0, "d2": -1.0 - 2.0, "d3": -3.0 - 0.5, "d4": -3.0 - 2.0})
    with pytest.raises(PipelineError, match="1 fitted odds for 2 runs"):
        bayes_fuse([A, B], [a])


def test_fuse_cli(tmp_path):
    a, b, out = tmp_path / "a.trec", tmp_path / "b.trec", tmp_path / "f.trec"
    a.write_text("q Q0 d1 1 3.0 a\nq Q0 d2 2 2.0 a\nq Q0 d3 3 1.0 a\n")
    b.write_text("q Q0 d3 1 10.0 b\nq Q0 d4 2 5.0 b\n")
    proc = run_cli("pipeline.fuse", str(a), str(b), "--output", str(out), "--tag", "rrf")
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[2] for line in out.read_text().splitlines()] == ["d3", "d1", "d4", "d2"]
    assert read_run(out)["q"]["d3"] == pytest.approx(1 / 63 + 1 / 61)
    proc = run_cli("pipeline.fuse", str(a), str(b), str(a), "--method", "interpolation", "--output", str(out),
                   "--tag", "x")
    assert proc.returncode == 1 and proc.stderr.strip() == "error: interpolation combines exactly 2 runs, got 3"


def test_fuse_cli_bayes(tmp_path):
    a, b, out = tmp_path / "a.trec", tmp_path / "b.trec", tmp_path / "f.trec"
    a.write_text("q Q0 d1 1 3.0 a\nq Q0 d2 2 2.0 a\nq Q0 d3 3 1.0 a\n")
    b.write_text("q Q0 d3 1 10.0 b\nq Q0 d4 2 5.0 b\n")
    fa, fb, qrels = tmp_path / "fa.trec", tmp_path / "fb.trec", tmp_path / "train.qrels"
    fa.write_text("t1 Q0 x1 1 9.0 a\nt1 Q0 x2 2 8.0 a\nt2 Q0 y1 1 9.0 a\n")
    fb.write_text("t1 Q0 x3 1 9.0 b\nt2 Q0 y2 1 9.0 b\nt2 Q0 y1 2 8.0 b\n")
    qrels.write_text("t1 0 x1 1\nt1 0 x3 1\nt2 0 y1 1\n")
    proc = run_cli("pipeline.fuse", str(a), str(b), "--method", "bayes", "--fit-runs", str(fa), str(fb),
                   "--fit-qrels", str(qrels), "--collection-size", "10", "--output", str(out), "--tag", "bayes")
    assert proc.returncode == 0, proc.stderr
    # run a at rank 1 found 2 relevant of 2, at rank 2 0 of 1, and missed 1 relevant of the other 17 documents;
    # run b at rank 1 found 1 of 2, at rank 2 1 of 1, and missed 1 of 17
    odds_a = [math.log(2.5 / 0.5), math.log(0.5 / 1.5), math.log(1.5 / 16.5)]
    odds_b = [math.log(1.5 / 1.5), math.log(1.5 / 0.5), math.log(1.5 / 16.5)]
    expected = {"d1": odds_a[0] + odds_b[2], "d2": odds_a[1] + odds_b[2], "d3": odds_a[1] + odds_b[0],
                "d4": odds_a[2] + odds_b[1]}
    assert read_run(out)["q"] == pytest.approx(expected, abs=1e-4)
    proc = run_cli("pipeline.fuse", str(a), str(b), "--method", "bayes", "--output", str(out), "--tag", "x")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: bayes needs --fit-runs, --fit-qrels and --collection-size"


def test_fuse_cli_refuses_a_single_run_and_runs_sharing_no_query(tmp_path):
    a, other, out = tmp_path / "a.trec", tmp_path / "other.trec", tmp_path / "f.trec"
    a.write_text("q Q0 d1 1 3.0 a\nq Q0 d2 2 2.0 a\n")
    other.write_text("x1 Q0 e1 1 3.0 o\nx2 Q0 e2 1 2.0 o\n")  # another collection's topics
    proc = run_cli("pipeline.fuse", str(a), "--output", str(out), "--tag", "rrf")
    assert proc.returncode == 1 and proc.stderr.strip() == "error: fusion needs at least 2 runs, got 1"
    for flag in ([], ["--allow-partial-overlap"]):
        proc = run_cli("pipeline.fuse", str(a), str(other), "--output", str(out), "--tag", "rrf", *flag)
        assert proc.returncode == 1 and proc.stderr.strip() == (
            f"error: {a} shares no query with {other} (e.g. 'q' is only in {a}): runs of different topics cannot "
            "be fused")
    assert not out.exists()


def test_fuse_cli_partial_query_overlap_needs_the_flag_and_fuses_the_union(tmp_path):
    a, b, out = tmp_path / "a.trec", tmp_path / "b.trec", tmp_path / "f.trec"
    a.write_text("q Q0 d1 1 3.0 a\nq Q0 d2 2 2.0 a\nq2 Q0 e1 1 1.0 a\nq3 Q0 e2 1 1.0 a\n")
    b.write_text("q Q0 d2 1 10.0 b\n")
    proc = run_cli("pipeline.fuse", str(a), str(b), "--output", str(out), "--tag", "rrf")
    assert proc.returncode == 1 and proc.stderr.strip() == (
        f"error: the runs' query sets differ: {b} lacks 2 of the 3 queries (e.g. 'q2'); "
        "--allow-partial-overlap fuses them anyway, over the union")
    assert not out.exists()
    proc = run_cli("pipeline.fuse", str(a), str(b), "--output", str(out), "--tag", "rrf", "--allow-partial-overlap")
    assert proc.returncode == 0, proc.stderr
    fused = read_run(out)
    assert fused == {"q": pytest.approx({"d2": 1 / 62 + 1 / 61, "d1": 1 / 61}), "q2": pytest.approx({"e1": 1 / 61}),
                     "q3": pytest.approx({"e2": 1 / 61})}
