"""Bad input a new user really makes (issue 19): each case is refused with the file and line, or
counted and reported; never a silently wrong number or a run the project cannot read back."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.collection.datasets import ROOT, get_dataset, registry
from pipeline.collection.qrels import read_qrels
from pipeline.common.errors import PipelineError
from pipeline.runfiles.trec import read_run

from .conftest import run_cli
from .test_dense import tiny_encoder  # noqa: F401  (a fixture)


def _error(proc) -> str:
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def _corpus(tmp_path: Path, ids: list[str], empty: tuple[str, ...] = ()) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"id": i, "contents": "" if i in empty else f"text of {i} about cells"}) + "\n"
                            for i in ids))
    return path


@pytest.mark.parametrize("dense", [False, True], ids=["lucene", "dense"])
def test_a_repeated_docid_names_both_lines(tmp_path, dense, tiny_encoder):  # noqa: F811
    corpus = _corpus(tmp_path, ["d1", "d2", "d3", "d2"])
    extra = ("--dense", "--encoder", str(tiny_encoder)) if dense else ()
    proc = run_cli("pipeline.index", "--collection", str(corpus), "--format", "jsonl", "--index",
                   str(tmp_path / "idx"), *extra)
    assert _error(proc) == f"error: {corpus}:4: duplicate document id 'd2'; first at {corpus}:2"
    assert not (tmp_path / "idx").exists()


@pytest.mark.parametrize("bad, what", [("doc 6", "holds whitespace"), ("", "is empty"), ("d\t7", "holds whitespace")])
def test_a_docid_a_run_file_cannot_hold_is_refused_before_any_work(tmp_path, bad, what):
    corpus = tmp_path / "c.tsv"
    corpus.write_text(f"d1\tfirst\n{bad}\tsecond\n" if "\t" not in bad else "d1\tfirst\nd\u00a07\tsecond\n")
    proc = run_cli("pipeline.index", "--collection", str(corpus), "--format", "tsv", "--index", str(tmp_path / "i"))
    assert _error(proc).startswith(f"error: {corpus}:2: document id ") and what in _error(proc)
    assert "a TREC run file cannot hold it" in proc.stderr and not (tmp_path / "i").exists()


def test_a_model_without_a_trained_head_is_refused_unless_allowed(scifact_slice, slice_index, tiny_encoder,  # noqa: F811
                                                                   tmp_path):
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}
    args = ("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--reranker", str(tiny_encoder),
            "--depth", "5", "--no-progress", "--output", str(tmp_path / "r.trec"))
    message = _error(run_cli(*args, env=env))
    assert "has no trained scoring head" in message and "--allow-untrained-head" in message
    assert not (tmp_path / "r.trec").exists()
    proc = run_cli(*args, "--allow-untrained-head", env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(read_run(tmp_path / "r.trec")) == 40


def test_an_index_of_another_collection_is_refused_with_the_fix(scifact_slice, slice_index, tmp_path):
    other = tmp_path / "other"
    built = run_cli("pipeline.index", "--collection", str(_corpus(tmp_path, ["x1", "x2", "x3"])), "--format",
                    "jsonl", "--index", str(other))
    assert built.returncode == 0, built.stderr
    manifest = json.loads((other / "pipeline-index.json").read_text())
    assert manifest["collection"]["documents"] == 3 and len(manifest["collection"]["fingerprint"]) == 64
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}
    message = _error(run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(other), "--no-progress",
                             "--output", str(tmp_path / "r.trec"), env=env))
    assert message == (f"error: {other} is an index of corpus.jsonl (3 documents), not of sci-slice: build "
                       f"sci-slice's with python -m pipeline.index --dataset sci-slice, or pass its --index")
    # the right collection under another name (built from the file) is accepted by its fingerprint
    same = tmp_path / "same"
    assert run_cli("pipeline.index", "--collection", str(scifact_slice / "corpus.jsonl"), "--format", "beir",
                   "--index", str(same)).returncode == 0
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(same), "--no-progress",
                   "--output", str(tmp_path / "ok.trec"), env=env)
    assert proc.returncode == 0, proc.stderr


def test_qrels_without_the_relevance_column_and_comment_lines(tmp_path):
    lost = tmp_path / "lost.qrels"
    lost.write_text("q1 0 d1\nq1 0 d2\n")
    with pytest.raises(PipelineError, match=r"lost.qrels:1: 3 columns 'q1 0 d1' are not 'qid docid relevance'"):
        read_qrels(lost)
    words = tmp_path / "words.qrels"
    words.write_text("q1 d1 relevant\n")
    with pytest.raises(PipelineError, match=r"words.qrels:1: 3 columns"):
        read_qrels(words)
    fine = tmp_path / "fine.qrels"
    fine.write_text("# judged by hand\nq1 d1 2\nq1 0 d2 1\n  # indented comment\n")
    assert read_qrels(fine) == {"q1": {"d1": 2, "d2": 1}}


def test_empty_and_topicless_queries_are_counted_on_stderr_and_in_the_sidecar(scifact_slice, slice_index, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    for name in ("corpus.jsonl",):
        (data / name).write_text((scifact_slice / name).read_text())
    queries = [json.loads(line) for line in (scifact_slice / "queries.jsonl").read_text().splitlines()]
    queries[0]["text"], queries[1]["text"] = "   ", "the of and"  # whitespace only; all stopwords
    dropped = queries.pop(2)["_id"]  # judged, but no topic
    (data / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (data / "test.tsv").write_text((scifact_slice / "test.tsv").read_text())
    (data / "datasets.toml").write_text((scifact_slice / "datasets.toml").read_text())
    out = tmp_path / "r.trec"
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--no-progress",
                   "--output", str(out), env={"PIPELINE_DATASETS": str(data / "datasets.toml")})
    assert proc.returncode == 0, proc.stderr
    assert "warning: 2 queries returned no candidates" in proc.stderr
    assert f"warning: 1 queries are judged but have no topic text: averaged in as 0: {dropped}" in proc.stderr
    warnings = json.loads(out.with_name("r.trec.json").read_text())["warnings"]
    assert warnings["queries_without_candidates"] == [queries[0]["_id"], queries[1]["_id"]]
    assert warnings["judged_queries_without_topic"] == [dropped]
    assert "-> no reranking" in proc.stdout


@pytest.mark.parametrize("dense", [False, True], ids=["lucene", "dense"])
def test_empty_documents_are_reported_and_left_out_on_both_paths(tmp_path, dense, tiny_encoder):  # noqa: F811
    corpus = _corpus(tmp_path, ["d1", "d2", "d3", "d4"], empty=("d2", "d4"))
    extra = ("--dense", "--encoder", str(tiny_encoder)) if dense else ()
    proc = run_cli("pipeline.index", "--collection", str(corpus), "--format", "jsonl", "--index",
                   str(tmp_path / "idx"), *extra)
    assert proc.returncode == 0, proc.stderr
    assert "warning: 2 empty document(s) have no text and are not indexed (never retrievable): d2, d4" in proc.stderr
    manifest = json.loads(next((tmp_path / "idx").glob("pipeline-*.json")).read_text())
    assert manifest["empty_documents"] == ["d2", "d4"] and manifest["documents"] == 2
    assert manifest["collection"]["documents"] == 2  # what is indexed, as the fingerprint is


def test_one_bad_datasets_toml_entry_affects_only_that_entry(tmp_path, monkeypatch, capsys):
    config = tmp_path / "datasets.toml"
    for name in ("c.tsv", "q.tsv", "qrels.txt"):
        (tmp_path / name).write_text("x\ty\n")
    good = '[good]\ncorpus = "c.tsv"\ncorpus_format = "tsv"\ntopics = "q.tsv"\ntopics_format = "tsv"\n' \
           'colour = "blue"\n[good.splits]\ntest = "qrels.txt"\n'
    config.write_text(good + '[bad]\ncorpus = "c.tsv"\n[scifact]\ncorpus = "c.tsv"\ncorpus_format = "tsv"\n'
                      'topics = "q.tsv"\ntopics_format = "tsv"\n[scifact.splits]\ntest = "qrels.txt"\n')
    monkeypatch.setenv("PIPELINE_DATASETS", str(config))
    assert get_dataset("car-test200").name == "car-test200"  # built-ins still there
    assert get_dataset("good").corpus == tmp_path / "c.tsv"
    with pytest.raises(PipelineError, match=r"\[bad\] lacks corpus_format, topics, topics_format, splits"):
        get_dataset("bad")
    err = capsys.readouterr().err
    assert "[good] has unknown keys colour" in err and "[scifact] replaces the built-in dataset 'scifact'" in err
    config.write_text("[x\n")
    assert "scifact" in registry() and get_dataset("car-test200").name == "car-test200"
    with pytest.raises(PipelineError, match=r"unknown dataset 'x'; .*not valid TOML"):
        get_dataset("x")


def _default_sigint() -> None:
    """In the child before it starts: SIGINT's default action. A job a shell started in the background
    (``cmd &``, as CI scripts do) passes SIGINT on ignored, and Python then never raises
    KeyboardInterrupt; a terminal's foreground job, which Ctrl-C reaches, has the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["sigterm", "sigint"])
def test_an_interrupted_rerank_below_one_chunk_keeps_its_work_and_resumes(scifact_slice, slice_index, tiny_bert,
                                                                          tmp_path, sig, code):
    from .test_rerank import _rerank_args

    env = {**os.environ, "PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}
    whole, resumed = tmp_path / "whole.trec", tmp_path / "resumed.trec"
    extra = ("--tag", "tiny", "--batch-size", "1")  # 1,200 pairs: one chunk of the default 8,192, in 1,200 batches
    # (each saved and fsynced as it finishes), so the run is still going when the signal comes, on a fast CPU too
    every_batch = ("--checkpoint-seconds", "0")  # so that the test knows when batches are done
    assert run_cli(*_rerank_args(scifact_slice, slice_index, tiny_bert, whole, *extra), env=env).returncode == 0
    partial = resumed.with_name("resumed.trec.partial")
    proc = subprocess.Popen([sys.executable, "-m", *_rerank_args(scifact_slice, slice_index, tiny_bert, resumed,
                                                                 *extra, *every_batch)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and not (partial.exists() and
                                                                   '"partial"' in partial.read_text()):
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(sig)
    stderr = proc.communicate(timeout=60)[1]
    assert proc.returncode == code and "Traceback" not in stderr, stderr
    assert "pairs are saved in" in stderr and "run the same command again to resume" in stderr
    assert not list(tmp_path.glob("hs_err_pid*")) and not list(ROOT.glob("hs_err_pid*"))
    assert '"partial"' in partial.read_text()  # the finished batches of the unfinished chunk
    again = run_cli(*_rerank_args(scifact_slice, slice_index, tiny_bert, resumed, *extra, *every_batch), env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(resumed.with_name("resumed.trec.json").read_text())["reranking"]["resumed_pairs"] > 0
    assert resumed.read_bytes() == whole.read_bytes()


def test_long_chunks_are_checkpointed_while_they_run(tiny_bert, tmp_path):
    import pipeline.rerank.rescore as rerank_module
    from pipeline.collection.corpora import Doc
    from pipeline.indexing.passages import Passages
    from pipeline.rerank.crossencoder import CrossEncoder

    docs = [Doc(f"d{i}", "", f"passage {i} about cells " * (i % 5 + 1)) for i in range(20)]
    candidates = {"q1": {d.id: float(i) for i, d in enumerate(docs)}}
    model = CrossEncoder(tiny_bert, max_length=64, batch_size=4)
    checkpoint = tmp_path / "x.partial"
    run, _ = rerank_module.rerank(candidates, {"q1": "cells"}, Passages(docs=docs), model, checkpoint, {"m": 1},
                                  progress=False, checkpoint_seconds=0.0)  # every batch: the clock is not the test
    lines = [json.loads(line) for line in checkpoint.read_text().splitlines()[1:]]
    assert sum("partial" in line for line in lines) == 5  # 20 pairs in batches of 4, each saved as it finished
    assert lines[-1] == run  # then the whole chunk
