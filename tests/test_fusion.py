"""Fusion against hand-computed values."""

import pytest

from pipeline.errors import PipelineError
from pipeline.fusion import interpolate, normalize, rrf
from pipeline.runs import read_run

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
