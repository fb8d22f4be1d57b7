"""Long documents: passages by sliding windows of words, every passage scored, scores aggregated per document."""

from __future__ import annotations

import json

import pytest

from pipeline.collection.corpora import Doc
from pipeline.common.errors import PipelineError
from pipeline.indexing.passages import Passages
from pipeline.rerank.long_documents import Splitting, aggregate, document_run, split_candidates, windows
from pipeline.runfiles.trec import read_run

from .conftest import run_cli


def test_windows_cover_every_word_and_end_at_the_last():
    words = [f"w{i}" for i in range(10)]
    got = windows(" ".join(words), 4, 2)
    assert [w.split() for w in got] == [words[0:4], words[2:6], words[4:8], words[6:10]]
    odd = windows(" ".join(words), 4, 3)  # starts 0, 3, 6: the last window reaches w9
    assert [w.split()[0] for w in odd] == ["w0", "w3", "w6"] and odd[-1].split()[-1] == "w9"
    assert windows("a  short\ttext", 150, 75) == ["a short text"]  # whitespace as one space, as the words
    assert windows("", 150, 75) == [""]
    assert len(windows(" ".join(words), 10, 5)) == 1 and len(windows(" ".join(words), 9, 5)) == 2


def test_aggregates_are_the_passage_scores_maths():
    scores = [1.0, 5.0, 2.0]
    got = {how: aggregate(scores, how, k=2) for how in ("first", "max", "sum", "mean", "kmax-avg")}
    assert got == {"first": 1.0, "max": 5.0, "sum": 8.0, "mean": pytest.approx(8 / 3), "kmax-avg": 3.5}
    assert aggregate([4.0], "kmax-avg", k=3) == 4.0  # fewer passages than k: all of them
    with pytest.raises(PipelineError, match="no passage scores"):
        aggregate([], "max")


def test_splittings_that_would_skip_words_or_name_no_aggregate_are_refused():
    for bad, match in ((dict(length=10, stride=20), "would never be read"), (dict(length=0), "must be positive"),
                       (dict(aggregate="median"), "expected one of"), (dict(k=0), "--kmax")):
        with pytest.raises(PipelineError, match=match):
            Splitting(**bad)


def test_split_candidates_and_back_to_documents():
    passages = Passages(docs=[Doc("long", "", " ".join(f"w{i}" for i in range(9))), Doc("short", "", "tiny doc")])
    candidates = {"q1": {"long": 3.0, "short": 2.0}, "q2": {"short": 1.0}}
    split = Splitting(length=4, stride=2, aggregate="max")
    run, texts, info = split_candidates(candidates, passages, split)
    assert run == {"q1": {**{f"long%p{i}": 3.0 for i in range(4)}, "short%p0": 2.0}, "q2": {"short%p0": 1.0}}
    assert texts.get("long%p3") == "w6 w7 w8" and texts.get("short%p0") == "tiny doc"
    assert info["documents"] == 2 and info["passages"] == 5 and info["split_documents"] == 1
    assert info["passages_per_document"] == {"mean": 2.5, "max": 4}
    scored = {"q1": {"long%p0": 0.1, "long%p1": 0.9, "long%p2": 0.4, "long%p3": 0.2, "short%p0": 0.5},
              "q2": {"short%p0": -1.0}}
    assert document_run(scored, candidates, split) == {"q1": {"long": 0.9, "short": 0.5}, "q2": {"short": -1.0}}
    first, _, info = split_candidates(candidates, passages, Splitting(length=4, stride=2, aggregate="first"))
    assert set(first["q1"]) == {"long%p0", "short%p0"} and info["passages"] == 2  # FirstP scores one passage


def test_maxp_and_firstp_reranking_score_the_windows(scifact_slice, slice_index, tiny_bert, tmp_path):
    """``pipeline.run --aggregate max`` gives each document the best of its windows' scores, as the model
    scores those windows directly; ``first`` with a passage length the first window's; the sidecar counts
    the passages, and the default output name says which aggregate made the run."""
    from pipeline.collection.topics import read_topics
    from pipeline.rerank.crossencoder import CrossEncoder

    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "sci-slice").symlink_to(slice_index)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    common = ("pipeline.run", "--dataset", "sci-slice", "--split", "test", "--depth", "3", "--reranker",
              str(tiny_bert), "--passage-length", "40", "--stride", "20", "--no-progress")
    for how in ("max", "first"):
        proc = run_cli(*common, "--aggregate", how, env=env)
        assert proc.returncode == 0, proc.stderr[-1500:]
    runs = {how: tmp_path / "runs" / f"sci-slice.test.{tiny_bert.name}.{how}p.trec" for how in ("max", "first")}
    maxp, firstp = read_run(runs["max"]), read_run(runs["first"])
    info = json.loads(runs["max"].with_name(runs["max"].name + ".json").read_text())["model"]["passages"]
    assert info["aggregate"] == "max" and info["length"] == 40 and info["documents"] == len(
        {d for docs in maxp.values() for d in docs})
    assert info["split_documents"] > 0 and info["passages"] > info["documents"]  # abstracts are longer than 40 words
    assert "documents as" in proc.stdout
    texts = {json.loads(line)["_id"]: json.loads(line) for line in (scifact_slice / "corpus.jsonl").open()}
    topics = read_topics(scifact_slice / "queries.jsonl", "beir")
    model = CrossEncoder(tiny_bert)
    n = 0
    for q in list(maxp)[:4]:
        for d in maxp[q]:
            doc = texts[d]
            parts = windows(f"{doc['title']} {doc['text']}" if doc["title"] else doc["text"], 40, 20)
            scores = model.score([topics[q]] * len(parts), parts)
            assert maxp[q][d] == pytest.approx(float(scores.max()), abs=1e-5)
            assert firstp[q][d] == pytest.approx(float(scores[0]), abs=1e-5)
            n += len(parts) > 1
    assert n > 0  # some checked document had several windows, so max and first could differ


def test_splitting_needs_a_cross_encoder():
    proc = run_cli("pipeline.run", "--aggregate", "max")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "give --reranker" in proc.stderr.strip().splitlines()[-1]
