"""Dense first stage: a tiny bi-encoder and a real faiss index built here; exact search equals numpy
brute force; an interrupted encoding resumes; hybrid runs through pipeline.run."""

import json

import numpy as np
import pytest

from pipeline.candidates.dense import DenseSearcher, build_dense_index
from pipeline.collection.corpora import read_corpus
from pipeline.collection.topics import read_topics
from pipeline.indexing.biencoder import BiEncoder

from .conftest import run_cli


@pytest.fixture(scope="module")
def tiny_encoder(tiny_bert, tmp_path_factory):
    """A tiny sentence-transformers directory: BertModel (random weights), mean pooling, Normalize."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = tmp_path_factory.mktemp("tiny-encoder")
    config = BertConfig.from_pretrained(tiny_bert)
    BertModel(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(out)
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": config.hidden_size, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False}))
    (out / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 48}))
    return out


@pytest.fixture(scope="module")
def slice_docs(scifact_slice):
    return list(read_corpus(scifact_slice / "corpus.jsonl", "beir"))


def test_encoder_follows_its_sentence_transformers_config(tiny_encoder):
    from sentence_transformers import SentenceTransformer

    enc = BiEncoder(tiny_encoder)
    assert (enc.pooling, enc.normalize, enc.max_length) == ("mean", True, 48)
    texts = ["cells", "protein folding in the cell " * 20, "a b c"]
    ours = enc.encode(texts)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    theirs = SentenceTransformer(str(tiny_encoder), device="cpu").encode(texts)
    assert np.abs(ours - theirs).max() < 1e-5


def test_exact_search_equals_numpy_brute_force(tiny_encoder, slice_docs, scifact_slice, tmp_path):
    enc = BiEncoder(tiny_encoder)
    manifest = build_dense_index(slice_docs, tmp_path / "dense", enc, {"test": 1}, shard_size=300, progress=False)
    assert manifest["documents"] == len(slice_docs) and manifest["index"]["type"] == "IndexFlatIP"
    topics = dict(list(read_topics(scifact_slice / "queries.jsonl", "beir").items())[:10])
    run = DenseSearcher(tmp_path / "dense").search(topics, k=20, progress=False)
    docs = enc.encode([d.contents for d in slice_docs])
    queries = enc.encode(list(topics.values()))
    for qv, got in zip(queries, run.values(), strict=True):
        scores = docs @ qv
        top = np.argsort(-scores, kind="stable")[:20]
        assert np.allclose(list(got.values()), scores[top], atol=1e-5)
        ids = {slice_docs[i].id: scores[i] for i in top}
        assert all(d in ids or np.isclose(s, scores[top[-1]], atol=1e-5) for d, s in got.items())  # up to ties


def test_interrupted_encoding_resumes_from_its_shards(tiny_encoder, slice_docs, tmp_path):
    enc = BiEncoder(tiny_encoder)
    calls = {"n": 0}
    real = enc.encode

    def dies_on_the_third_shard(texts, on_batch=None, prompt=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(texts, on_batch, prompt)
    enc.encode = dies_on_the_third_shard
    with pytest.raises(KeyboardInterrupt):
        build_dense_index(slice_docs, tmp_path / "resumed", enc, {}, shard_size=200, progress=False)
    assert not (tmp_path / "resumed").exists()  # nothing under the final name
    assert len(list((tmp_path / ".resumed.building" / "shards").glob("*.npy"))) == 2
    enc.encode = real
    manifest = build_dense_index(slice_docs, tmp_path / "resumed", enc, {}, shard_size=200, progress=False)
    assert manifest["resumed_docs"] == 400
    build_dense_index(slice_docs, tmp_path / "straight", enc, {}, shard_size=200, progress=False)
    import faiss

    a = faiss.read_index(str(tmp_path / "resumed" / "index.faiss")).reconstruct_n(0, len(slice_docs))
    b = faiss.read_index(str(tmp_path / "straight" / "index.faiss")).reconstruct_n(0, len(slice_docs))
    assert np.array_equal(a, b) and not (tmp_path / ".resumed.building").exists()


def test_hnsw_index_and_hybrid_run(tiny_encoder, slice_docs, scifact_slice, slice_index, tmp_path):
    enc = BiEncoder(tiny_encoder)
    dense = tmp_path / "hnsw"
    manifest = build_dense_index(slice_docs, dense, enc, {}, hnsw_m=16, ef_search=64, progress=False)
    assert manifest["index"] == {"type": "IndexHNSWFlat", "M": 16, "efConstruction": 200, "efSearch": 64}
    out = tmp_path / "hybrid.trec"
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--dense-index", str(dense),
                   "--first-stage", "hybrid", "--depth", "50", "--output", str(out), "--no-progress",
                   env={"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")})
    assert proc.returncode == 0, proc.stderr[-1500:]
    sidecar = json.loads(out.with_name("hybrid.trec.json").read_text())
    assert sidecar["config"]["candidates"] == "hybrid" and sidecar["timings"]["dense_index"]["type"] == "IndexHNSWFlat"
    lines = out.read_text().splitlines()
    assert len(lines) == 40 * 50 and lines[0].endswith(" hybrid")


def test_bayes_fused_hybrid_is_fitted_on_another_split(tiny_encoder, slice_docs, scifact_slice, slice_index,
                                                       tmp_path):
    from pipeline.candidates.fusion import RankOdds, bayes_fuse
    from pipeline.runfiles.trec import read_run, truncate

    dense = tmp_path / "flat"
    build_dense_index(slice_docs, dense, BiEncoder(tiny_encoder), {}, progress=False)
    lines = (scifact_slice / "test.tsv").read_text().splitlines()[1:]
    qids = list(dict.fromkeys(line.split("\t")[0] for line in lines))
    for name, keep in [("fit", qids[:20]), ("held", qids[20:])]:
        (tmp_path / f"{name}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(
            line for line in lines if line.split("\t")[0] in keep) + "\n")
    (tmp_path / "datasets.toml").write_text(
        f'[sci-halves]\ncorpus = "{scifact_slice / "corpus.jsonl"}"\ncorpus_format = "beir"\n'
        f'topics = "{scifact_slice / "queries.jsonl"}"\ntopics_format = "beir"\nremove_query = true\n'
        f'[sci-halves.splits]\nfit = "{tmp_path / "fit.tsv"}"\nheld = "{tmp_path / "held.tsv"}"\n')
    env = {"PIPELINE_DATASETS": str(tmp_path / "datasets.toml")}
    common = ["--dataset", "sci-halves", "--split", "held", "--index", str(slice_index), "--dense-index", str(dense),
              "--depth", "30", "--no-progress"]
    out = {}
    for stage, extra in [("hybrid", ["--fusion", "bayes", "--fusion-split", "fit"]), ("bm25", []), ("dense", [])]:
        out[stage] = tmp_path / f"{stage}.trec"
        proc = run_cli("pipeline.run", *common, "--first-stage", stage, *extra, "--output", str(out[stage]), env=env)
        assert proc.returncode == 0, proc.stderr[-1500:]
    fusion = json.loads(out["hybrid"].with_name("hybrid.trec.json").read_text())["timings"]["fusion"]
    assert (fusion["fit_split"], fusion["fit_queries"]) == ("fit", 20)
    # the odds were fitted on the 20 "fit" queries: every retrieved or missed document of theirs is counted once
    assert sum(fusion["bm25"]["documents"]) == sum(fusion["dense"]["documents"]) == 20 * len(slice_docs)
    odds = [RankOdds(tuple(f["edges"]), tuple(f["log_odds"]), tuple(f["relevant"]), tuple(f["documents"]))
            for f in (fusion["bm25"], fusion["dense"])]
    expected = truncate(bayes_fuse([read_run(out["bm25"]), read_run(out["dense"])], odds), 30)
    hybrid = read_run(out["hybrid"])
    assert hybrid.keys() == expected.keys() and len(hybrid) == 20
    for qid, docs in hybrid.items():
        assert docs == pytest.approx(expected[qid], abs=1e-4)
    proc = run_cli("pipeline.run", *common, "--first-stage", "hybrid", "--fusion", "bayes", "--fusion-split", "held",
                   "--output", str(tmp_path / "x.trec"), env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: --fusion-split held is the split being run: fit Bayes-fuse on other queries"


def test_interpolated_hybrid_fused_over_the_whole_collection_uses_true_scores(tiny_encoder, slice_docs, scifact_slice,
                                                                               slice_index, tmp_path):
    from pipeline.candidates.fusion import interpolate
    from pipeline.runfiles.trec import read_run, truncate

    dense = tmp_path / "flat"
    build_dense_index(slice_docs, dense, BiEncoder(tiny_encoder), {}, progress=False)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}
    common = ["--dataset", "sci-slice", "--index", str(slice_index), "--dense-index", str(dense), "--no-progress"]
    n = len(slice_docs)
    fusion = ["--fusion", "interpolation", "--normalization", "zscore", "--alpha", "0.3"]
    out = {}
    for name, extra in [("bm25", ["--first-stage", "bm25", "--depth", str(n)]),
                        ("dense", ["--first-stage", "dense", "--depth", str(n)]),
                        ("exact", ["--first-stage", "hybrid", "--depth", "10", "--fusion-depth", "all"]),
                        ("top10", ["--first-stage", "hybrid", "--depth", "10"])]:
        out[name] = tmp_path / f"{name}.trec"
        proc = run_cli("pipeline.run", *common, *extra, *fusion, "--output", str(out[name]), env=env)
        assert proc.returncode == 0, proc.stderr[-1500:]
    sidecar = json.loads(out["exact"].with_name("exact.trec.json").read_text())
    config = sidecar["config"]
    assert (config["fusion_depth"], config["normalization"], config["alpha"]) == ("all", "zscore", 0.3)
    assert sidecar["timings"]["fusion_depth"] == n
    # every document is in both full-depth inputs, so nothing is imputed: the fused scores are the true ones
    expected = truncate(interpolate(read_run(out["bm25"]), read_run(out["dense"]), 0.3, "zscore"), 10)
    exact, top10 = read_run(out["exact"]), read_run(out["top10"])
    assert exact.keys() == expected.keys() and len(exact) == 40
    for qid, docs in exact.items():
        assert docs == pytest.approx(expected[qid], abs=1e-4)
    # fusing only the top 10 of each normalises over other lists and imputes the missing: other scores
    assert any(top10[q] != pytest.approx(expected[q], abs=1e-4) for q in expected)
    proc = run_cli("pipeline.run", *common, "--first-stage", "hybrid", "--depth", "10", "--fusion-depth", "5",
                   "--output", str(tmp_path / "x.trec"), env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("error: --fusion-depth 5 is under --depth 10: fuse at least as deep as the "
                                   "candidates kept")
    proc = run_cli("pipeline.run", *common, "--first-stage", "hybrid", "--fusion-depth", "deep", env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].endswith(
        "argument --fusion-depth: expected a positive number or 'all', got 'deep'")
