"""The commands as users run them: real subprocesses, exit codes and one-line errors."""

import json

import pytest

from pipeline.runfiles.trec import read_run

from .conftest import SHARED, run_cli


def one_line_error(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert lines[-1].startswith("error: ")
    return lines[-1]


def test_run_end_to_end_on_a_user_dataset(scifact_slice, slice_index, tmp_path):
    out = tmp_path / "slice.bm25.trec"
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--output", str(out),
                   "--depth", "100", "--tag", "slice-bm25", "--no-progress",
                   env={"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")})
    assert proc.returncode == 0, proc.stderr
    assert "ndcg@10" in proc.stdout and "(40 queries;" in proc.stdout
    run = read_run(out)
    assert len(run) == 40 and all(len(d) == 100 for d in run.values())
    assert out.read_text().split("\n", 1)[0].endswith(" slice-bm25")
    sidecar = json.loads(out.with_name(out.name + ".json").read_text())
    assert sidecar["config"]["k1"] == 0.9 and sidecar["config"]["b"] == 0.4 and sidecar["seed"] == 42
    assert {"pyserini", "torch", "anserini", "python"} <= set(sidecar["versions"])
    assert sidecar["timings"]["bm25_s"] > 0 and 0 < sidecar["evaluation"]["ndcg@10"] <= 1


@pytest.mark.parametrize("args, message", [
    (("pipeline.run", "--dataset", "nope"), r"unknown dataset 'nope'; known: car-test200, msmarco-dl19, scifact"),
    (("pipeline.run", "--dataset", "scifact", "--index", "/nonexistent/scifact"),
     r"no index at /nonexistent/scifact; build it with python -m pipeline.index --dataset scifact"),
    (("pipeline.run", "--tag", "bad tag"), r"invalid run tag 'bad tag'"),
    (("pipeline.run", "--candidates", "runs/x.trec", "--first-stage", "dense"),
     r"--candidates replaces the first stage: drop --first-stage dense"),
    pytest.param(("pipeline.run", "--dataset", "msmarco-dl19", "--first-stage", "hybrid", "--fusion", "bayes"),
                 r"dataset 'msmarco-dl19' has no split 'train'; it has: test",
                 marks=pytest.mark.skipif(not (SHARED / "qrels.dl19-passage.txt").is_file(),
                                          reason="TREC DL 2019 data not found beside the project")),
    (("pipeline.index", "--collection", "/nonexistent.jsonl", "--format", "jsonl", "--index", "/tmp/x-idx"),
     r"/nonexistent.jsonl: no such file"),
    (("pipeline.submit", "/nonexistent.trec", "--topics", "scifact:test", "--tag", "t"),
     r"/nonexistent.trec: no such file"),
    (("pipeline.submit", "/nonexistent.trec", "--topics", "scifact:test", "--tag", "bad tag"),
     r"--tag: run tag 'bad tag'"),
    (("pipeline.diff", "/nonexistent.trec", "/nonexistent.trec", "--qrels", "scifact:test"),
     r"/nonexistent.trec: no such file"),
    (("pipeline.diff", "a", "b", "--qrels", "nope:test"), r"unknown dataset 'nope'"),
    (("pipeline.diff", "a", "b", "--qrels", "scifact:test", "-m", "nope"), r"unknown measure 'nope'"),
    (("pipeline.compare", "/nonexistent.trec", "--baseline", "/nonexistent.trec", "--qrels", "scifact:test"),
     r"/nonexistent.trec: no such file"),
])
def test_bad_input_gets_a_one_line_error(args, message):
    import re

    assert re.search(message, one_line_error(run_cli(*args)))


def test_evaluate_cli_names_the_bad_line_and_saves_results(tmp_path, dl19):
    bad = tmp_path / "bad.run"
    bad.write_text("1 Q0 d 1 1.0 t\n2 Q0 d 1 x t\n")
    assert one_line_error(run_cli("pipeline.evaluate", "--qrels", "scifact:test", "--run", str(bad))) \
        == f"error: {bad}:2: score must be a number, got 'x'"
    out = tmp_path / "e.json"
    proc = run_cli("pipeline.evaluate", "--qrels", str(dl19 / "qrels.dl19-passage.txt"),
                   "--run", str(dl19 / "dl19.bm25_top100.run"), "--output", str(out), "-q")
    assert proc.returncode == 0 and "ndcg@10      0.5058" in proc.stdout
    saved = json.loads(out.read_text())
    assert len(saved["per_query"]) == 43 and "trec_eval -c" in saved["convention"]


@pytest.mark.parametrize("module", ["pipeline.run", "pipeline.index", "pipeline.evaluate", "pipeline.submit",
                                    "pipeline.diff", "pipeline.compare", "pipeline.fuse"])
def test_every_command_explains_itself(module):
    proc = run_cli(module, "--help")
    assert proc.returncode == 0 and "usage: python -m " + module in proc.stdout
