"""Pseudo-query groups: queries cut from a collection's own passages, negatives from its real BM25 index."""

import random

import pytest

from pipeline.common.errors import PipelineError
from pipeline.training.pseudo_queries import pseudo_query


def test_a_pseudo_query_is_the_title_or_a_window_of_one_sentence():
    title = "Vitamin D and bone density"
    text = ("Short one. Vitamin D supplements were given to two hundred older adults for three years in a "
            "randomised trial with a placebo arm. Bone density rose.")
    sentences = [title.split(), (text.split(". ")[1] + ".").split()]
    seen = set()
    for seed in range(50):
        words = pseudo_query(title, text, random.Random(seed)).split()
        assert 4 <= len(words) <= 12
        # a contiguous window of the title or of the long sentence; never "Short one." or "Bone density rose."
        assert any(words == s[i:i + len(words)] for s in sentences for i in range(len(s) - len(words) + 1))
        seen.add(" ".join(words))
    assert len(seen) > 10  # the sentence and the window vary with the seed
    assert pseudo_query("", "Too short. Also short.", random.Random(0)) is None
    assert pseudo_query(title, text, random.Random(3)) == pseudo_query(title, text, random.Random(3))


def test_pseudo_query_groups_come_from_the_passages_and_their_bm25_neighbours(scifact_slice, slice_index, tmp_path,
                                                                              monkeypatch):
    from pipeline.candidates.bm25 import cached_search
    from pipeline.collection.datasets import get_dataset
    from pipeline.training.data import TrainingData
    from pipeline.training.ensemble_fit import bm25_group_scores
    from pipeline.training.pseudo_queries import pseudo_query_groups

    monkeypatch.setenv("PIPELINE_DATASETS", str(scifact_slice / "datasets.toml"))
    monkeypatch.setattr("pipeline.candidates.bm25.CACHE", tmp_path)  # not our caches
    monkeypatch.setattr("pipeline.training.pseudo_queries.MODEL_CACHE", tmp_path)
    monkeypatch.setattr("pipeline.training.examples.CACHE", tmp_path)
    monkeypatch.setattr("pipeline.indexing.lucene.INDEXES", slice_index.parent)
    ds = get_dataset("sci-slice")
    docs = {d.id: d.contents for d in ds.docs()}
    groups = pseudo_query_groups(ds, 30, negatives=3, depth=20, seed=7)
    assert len(groups) == 30 and len({g.qid for g in groups}) == 30
    queries = {g.qid: g.query for g in groups}
    run = cached_search("sci-slice", "pseudo.s7", queries, slice_index, depth=21)
    for g in groups:
        source = g.qid.removeprefix("pseudo-")
        assert g.docids[0] == source and g.texts[0] == docs[source] and g.dataset == "sci-slice"
        assert " ".join(g.query.split()) in " ".join(docs[source].split())  # cut from its own passage
        top = [d for d in sorted(run[g.qid], key=run[g.qid].get, reverse=True) if d != source][:20]
        assert len(g.docids) == 4 and source not in g.docids[1:] and set(g.docids[1:]) <= set(top)
        assert g.texts[1:] == [docs[d] for d in g.docids[1:]]
    assert pseudo_query_groups(ds, 30, negatives=3, depth=20, seed=7) == groups  # cached, and the same
    assert bm25_group_scores(groups[:5])[0][0] > 0  # its pairs score in the collection's index
    with pytest.raises(PipelineError, match="gives only .* pseudo-query groups"):
        pseudo_query_groups(ds, 5000, negatives=3, depth=20, seed=7)
    # TrainingData mixes them with the labelled groups, after --limit-groups cut those
    data = TrainingData(datasets=("sci-slice",), split="test", negatives=3, limit_groups=8,
                        pseudo_datasets=("sci-slice",), pseudo_groups=30, pseudo_depth=20, seed=7)
    mixed = data.groups()
    assert len(mixed) == 38 and sum(g.qid.startswith("pseudo-") for g in mixed) == 30
    assert {g.qid for g in mixed if g.qid.startswith("pseudo-")} == set(queries)
