"""A real Lucene index (Pyserini's indexer) of a real SciFact slice, searched with BM25."""

import json

import pytest

from pipeline.candidates.bm25 import BM25
from pipeline.collection.corpora import read_corpus
from pipeline.collection.qrels import read_qrels
from pipeline.collection.topics import read_topics
from pipeline.common.errors import PipelineError
from pipeline.evaluation.measures import evaluate
from pipeline.indexing.lucene import MANIFEST, build_index, read_manifest


def test_index_is_complete_with_manifest_and_stores_raw_contents(slice_index, scifact_slice):
    manifest = read_manifest(slice_index)
    n_docs = sum(1 for _ in read_corpus(scifact_slice / "corpus.jsonl", "beir"))
    assert manifest["documents"] == n_docs and "-storeRaw" in manifest["options"]
    from pyserini.search.lucene import LuceneSearcher

    doc = LuceneSearcher(str(slice_index)).doc("4983")
    first = next(read_corpus(scifact_slice / "corpus.jsonl", "beir"))
    assert json.loads(doc.raw())["contents"] == first.contents


def test_bm25_finds_the_relevant_abstracts(slice_index, scifact_slice):
    topics = read_topics(scifact_slice / "queries.jsonl", "beir")
    qrels = read_qrels(scifact_slice / "test.tsv")
    run = BM25(slice_index, k1=0.9, b=0.4).search(topics, k=100, progress=False)
    assert set(run) == set(topics) and all(len(docs) == 100 for docs in run.values())
    scores = [s for docs in run.values() for s in docs.values()]
    assert all(s > 0 for s in scores)
    # on a 1,000-abstract slice BM25 must do far better than chance
    assert evaluate(run, qrels).aggregate["ndcg@10"] > 0.6


def test_k1_b_are_passed_to_lucene(slice_index, scifact_slice):
    topics = dict(list(read_topics(scifact_slice / "queries.jsonl", "beir").items())[:3])
    a = BM25(slice_index, k1=0.9, b=0.4).search(topics, k=10, progress=False)
    b = BM25(slice_index, k1=1.2, b=0.75).search(topics, k=10, progress=False)
    assert a != b


def test_remove_query_drops_a_hit_whose_docid_is_the_qid(slice_index):
    searcher = BM25(slice_index)
    topics = {"4983": "Microstructural development of human newborn cerebral white matter"}
    assert "4983" in searcher.search(topics, k=5, progress=False)["4983"]
    kept = searcher.search(topics, k=5, remove_query=True, progress=False)["4983"]
    assert "4983" not in kept and len(kept) == 5


def test_complete_index_is_reused_and_force_rebuilds(slice_index, scifact_slice):
    before = read_manifest(slice_index)
    assert build_index(iter(()), slice_index, {}) == before  # reused: the empty input is never read
    docs = list(read_corpus(scifact_slice / "corpus.jsonl", "beir"))[:50]
    rebuilt = build_index(iter(docs), slice_index.parent / "small", {"n": 50})
    assert rebuilt["documents"] == 50


def test_unfinished_directory_never_looks_complete(tmp_path, scifact_slice):
    target = tmp_path / "idx"
    target.mkdir()
    (target / "segments_1").write_text("left by an interrupted build")
    with pytest.raises(PipelineError, match=r"complete index \(no pipeline-index.json\); rebuild it with --force"):
        build_index(read_corpus(scifact_slice / "corpus.jsonl", "beir"), target, {})
    docs = list(read_corpus(scifact_slice / "corpus.jsonl", "beir"))[:20]
    assert build_index(iter(docs), target, {}, force=True)["documents"] == 20
    assert (target / MANIFEST).is_file() and not list(tmp_path.glob(".idx.*"))


def test_a_failing_build_leaves_nothing_behind(tmp_path):
    def broken():
        yield from []
        raise PipelineError("corpus broke half-way")

    with pytest.raises(PipelineError, match="half-way"):
        build_index(broken(), tmp_path / "idx", {})
    assert list(tmp_path.iterdir()) == []


def test_missing_and_prebuilt_indexes_are_clear_errors(tmp_path):
    with pytest.raises(PipelineError, match=r"no index at .*; build it with python -m pipeline.index --dataset no"):
        BM25(tmp_path / "nothing")
    with pytest.raises(PipelineError, match=r"Pyserini prebuilt index.*no network"):
        BM25("beir-v1.0.0-scifact.flat")


@pytest.mark.parametrize("version, message", [(1, "was written by another Lucene version"),
                                              (99, "was written by another Lucene version")])
def test_an_index_from_another_lucene_version_gets_the_fix(slice_index, tmp_path, version, message):
    import shutil

    from pipeline.candidates.bm25 import BM25

    copy = tmp_path / "other-lucene"
    shutil.copytree(slice_index, copy)
    segments = next(copy.glob("segments_*"))
    header = bytearray(segments.read_bytes())
    assert header[4:13] == b"\x08segments"  # CodecUtil header: magic, codec name, then the format version
    header[13:17] = version.to_bytes(4, "big")
    segments.write_bytes(bytes(header))
    with pytest.raises(PipelineError, match=message) as err:
        BM25(copy)
    assert f"python -m pipeline.index --index {copy} --force" in str(err.value) and "\n" not in str(err.value)
