"""A bi-encoder's vector store: a killed pass resumes where its last chunk ended, and the vectors it
gives are the encoder's own."""

import numpy as np
import pytest

from pipeline.indexing import vectors
from pipeline.indexing.biencoder import BiEncoder

TEXTS = [f"text number {i} " + "word " * i for i in range(9)]


class KilledError(Exception):
    pass


def test_a_killed_pass_resumes_and_encodes_each_text_once(tiny_mpnet, tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "MODEL_CACHE", tmp_path)
    model = BiEncoder(tiny_mpnet)
    direct = model.encode(TEXTS)
    store = vectors.store_dir(model.path, model.max_length, model.dtype)
    measured: list[list[str]] = []

    def lengths(texts):
        measured.append(list(texts))
        return [len(t) for t in texts]

    asked: list[list[str]] = []

    def dies_on_the_third_chunk(texts, on_batch):
        asked.append(list(texts))
        if len(asked) == 3:
            raise KilledError
        return model.encode(texts, on_batch)

    with pytest.raises(KilledError):
        vectors.vectors(dies_on_the_third_chunk, TEXTS, store, lengths, chunk_texts=2)
    assert len(list(store.glob("chunk-*.npz"))) == 2 and not list(store.glob(".chunk-*"))
    assert asked[0] == TEXTS[:2] and asked[1] == TEXTS[2:4]  # shortest first
    asked.clear()
    got = vectors.vectors(lambda texts, on_batch: asked.append(list(texts)) or model.encode(texts, on_batch),
                          [*TEXTS, TEXTS[0]], store, lengths, chunk_texts=2)
    assert [t for part in asked for t in part] == TEXTS[4:]  # only what the killed pass had not saved
    assert measured[-1] == TEXTS[4:]  # and only those are measured (tokenized) for their order
    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(got[text], direct[i], atol=1e-5)
    # the encoder's own door to its store: everything is held, nothing more is written
    assert set(model.encode_kept(TEXTS)) == set(TEXTS) and len(list(store.glob("chunk-*.npz"))) == 5
