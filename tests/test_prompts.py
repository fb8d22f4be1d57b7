"""Query and passage prompts (E5's "query: "/"passage: "): a prompt changes the vectors exactly as
encoding the prefixed text does, the dense index records its prompts, its queries are searched
with its query prompt, and other prompts are refused (passages, reuse) or warned about (queries)."""

import json

import numpy as np
import pytest

from pipeline.candidates.dense import DenseSearcher, build_dense_index
from pipeline.collection.corpora import read_corpus
from pipeline.collection.topics import read_topics
from pipeline.common.errors import PipelineError
from pipeline.indexing.biencoder import BiEncoder

from .conftest import run_cli
from .test_dense import tiny_encoder  # noqa: F401  (the tiny sentence-transformers fixture)

QUERY, PASSAGE = "query: ", "passage: "


def test_a_prompt_encodes_as_the_prefixed_text(tiny_encoder):  # noqa: F811
    from sentence_transformers import SentenceTransformer

    enc = BiEncoder(tiny_encoder, query_prompt=QUERY, passage_prompt=PASSAGE)
    texts = ["cells", "protein folding in the cell " * 20, "a b c", ""]
    queries, passages, plain = enc.encode_queries(texts), enc.encode_passages(texts), enc.encode(texts)
    assert np.array_equal(queries, enc.encode([QUERY + t for t in texts]))
    assert np.array_equal(passages, enc.encode([PASSAGE + t for t in texts]))
    assert (np.abs(queries - plain).max(axis=1) > 1e-4).all() and (np.abs(passages - plain).max(axis=1) > 1e-4).all()
    theirs = SentenceTransformer(str(tiny_encoder), device="cpu").encode(texts, prompt=QUERY)
    assert np.abs(queries - theirs).max() < 1e-5
    assert (enc.describe()["query_prompt"], enc.describe()["passage_prompt"]) == (QUERY, PASSAGE)
    assert BiEncoder(tiny_encoder, query_prompt="").describe()["query_prompt"] is None  # "" is no prompt


@pytest.fixture(scope="module")
def prompted_index(tiny_encoder, scifact_slice, tmp_path_factory):  # noqa: F811
    docs = list(read_corpus(scifact_slice / "corpus.jsonl", "beir"))[:300]
    target = tmp_path_factory.mktemp("prompted") / "dense"
    enc = BiEncoder(tiny_encoder, query_prompt=QUERY, passage_prompt=PASSAGE)
    manifest = build_dense_index(docs, target, enc, {}, shard_size=128, progress=False)
    return target, manifest, docs, enc


def test_the_manifest_records_the_prompts_and_passages_carry_theirs(prompted_index):
    import faiss

    target, manifest, docs, enc = prompted_index
    assert (manifest["encoder"]["query_prompt"], manifest["encoder"]["passage_prompt"]) == (QUERY, PASSAGE)
    assert json.loads((target / "pipeline-dense-index.json").read_text())["encoder"] == manifest["encoder"]
    stored = faiss.read_index(str(target / "index.faiss")).reconstruct_n(0, len(docs))
    assert np.abs(stored - enc.encode([PASSAGE + d.contents for d in docs])).max() < 1e-6
    other = BiEncoder(enc.path, passage_prompt="document: ")  # reusing the index under other prompts: refused
    with pytest.raises(PipelineError, match=r"was built with query prompt 'query: ', passage prompt 'passage: ', "
                                            r"not query prompt None, passage prompt 'document: '; --force"):
        build_dense_index(docs, target, other, {}, progress=False)


def test_queries_are_searched_with_the_recorded_prompt(prompted_index, scifact_slice, capsys):
    target, _, docs, enc = prompted_index
    topics = dict(list(read_topics(scifact_slice / "queries.jsonl", "beir").items())[:5])
    run = DenseSearcher(target).search(topics, k=10, progress=False)
    vectors = enc.encode([d.contents for d in docs], prompt=PASSAGE)
    for qv, got in zip(enc.encode([QUERY + t for t in topics.values()]), run.values(), strict=True):
        assert np.allclose(list(got.values()), np.sort(vectors @ qv)[::-1][:10], atol=1e-5)
    assert "warning" not in capsys.readouterr().err
    plain = DenseSearcher(target, query_prompt="").search(topics, k=10, progress=False)
    assert f"warning: searching {target} with query prompt None; it was built with 'query: '" in \
        capsys.readouterr().err
    assert plain != run
    with pytest.raises(PipelineError, match="was built with passage prompt 'passage: ', not 'document: '"):
        DenseSearcher(target, passage_prompt="document: ")


def test_cli_flags_build_record_and_refuse(tiny_encoder, scifact_slice, tmp_path):  # noqa: F811
    target = tmp_path / "e5"
    common = ["--collection", str(scifact_slice / "corpus.jsonl"), "--format", "beir", "--dense",
              "--encoder", str(tiny_encoder), "--index", str(target)]
    proc = run_cli("pipeline.index", *common, "--query-prompt", QUERY, "--passage-prompt", PASSAGE)
    assert proc.returncode == 0, proc.stderr[-1500:]
    encoder = json.loads((target / "pipeline-dense-index.json").read_text())["encoder"]
    assert (encoder["query_prompt"], encoder["passage_prompt"]) == (QUERY, PASSAGE)
    proc = run_cli("pipeline.index", *common, "--query-prompt", QUERY)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"error: dense index {target} was built with query prompt 'query: ', passage "
                                   f"prompt 'passage: ', not query prompt 'query: ', passage prompt None; --force "
                                   f"rebuilds it, or give it another --index")
    proc = run_cli("pipeline.run", "--dataset", "sci-slice", "--first-stage", "dense", "--dense-index", str(target),
                   "--passage-prompt", "document: ", "--output", str(tmp_path / "x.trec"), "--no-progress",
                   env={"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {target} was built with passage prompt 'passage: ', not 'document: ': drop --passage-prompt, "
        f"or rebuild it with python -m pipeline.index --dense --passage-prompt ... --force")
