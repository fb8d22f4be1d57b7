"""The students committed in models/ (a fresh clone reranks with them, no training): each loads as
the ``--reranker`` name, is stored as the README says, and ranks real SciFact pairs."""

import json

import pytest

from pipeline.collection.datasets import DATA, ROOT, get_dataset

SHIPPED = ("student4L", "student6L")


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_student_loads_and_ranks_real_pairs(name):
    import torch
    from safetensors import safe_open

    from pipeline.rerank.crossencoder import CrossEncoder
    from pipeline.rerank.registry import resolve

    folder = ROOT / "models" / name
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"models/{name} is not shipped in this checkout")
    if not (DATA / "scifact").is_dir():
        pytest.skip("the embedded SciFact collection is missing")
    assert resolve(name) == folder
    record = json.loads((folder / "pipeline-training.json").read_text())
    assert record["student_layers"] == json.loads((folder / "config.json").read_text())["num_hidden_layers"]
    with safe_open(folder / "model.safetensors", "pt") as weights:  # stored in fp16, computed in fp32
        assert {weights.get_tensor(k).dtype for k in weights.keys()} == {torch.float16}
    ds = get_dataset("scifact")
    topics, qrels = ds.topics_for("test"), ds.qrels("test")
    docs = {d.id: d.contents for d in ds.docs()}
    judged = [q for q in topics if any(g > 0 for g in qrels.get(q, {}).values())][:20]
    unjudged = sorted(d for d in docs if not any(d in qrels.get(q, {}) for q in judged))
    queries, passages = [], []
    for i, q in enumerate(judged):
        relevant = next(d for d, g in qrels[q].items() if g > 0)
        queries += [topics[q], topics[q]]
        passages += [docs[relevant], docs[unjudged[i * 97 % len(unjudged)]]]
    scores = CrossEncoder(folder).score(queries, passages)
    assert scores.dtype.kind == "f" and all(abs(s) < 1e4 for s in scores)
    wins = sum(scores[2 * i] > scores[2 * i + 1] for i in range(len(judged)))
    assert wins >= 0.9 * len(judged), f"{name} put the relevant abstract first for only {wins} of {len(judged)} queries"
