"""Property-based: every reader, fed random and mutated real input, either parses or raises our one
error type (``PipelineError``, shown as one line) — never another exception.

Runs are reproducible: the default ``ci`` Hypothesis profile is derandomized (the same examples
every run, no example database). ``HYPOTHESIS_PROFILE=long`` picks the ``long`` profile instead:
random, ten times the examples, failures saved to ``.hypothesis/`` and replayed. The number of
examples per test is ``PIPELINE_FUZZ_EXAMPLES`` when set (default: 300 for ``ci``, 3000 for ``long``).
"""

import gzip
import itertools
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.collection.corpora import read_corpus
from pipeline.collection.datasets import DATA, get_dataset
from pipeline.collection.qrels import read_qrels
from pipeline.collection.topics import read_topics
from pipeline.common.errors import PipelineError
from pipeline.runfiles.submission import check_run
from pipeline.runfiles.trec import read_run

_EXAMPLES = os.environ.get("PIPELINE_FUZZ_EXAMPLES")
_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}
settings.register_profile("ci", derandomize=True, database=None, max_examples=int(_EXAMPLES or 300), **_COMMON)
settings.register_profile("long", derandomize=False, max_examples=int(_EXAMPLES or 3000), **_COMMON)
FUZZ = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SCIFACT = DATA / "scifact"
REAL = {
    "run": [f"{q} Q0 {d} {r} {s} bm25" for q, d, r, s in [("1", "31715818", 1, 7.25), ("1", "4983", 2, 6.5),
                                                         ("3", "14717500", 1, 5.0)]],
    "qrels_trec": ["1 0 31715818 1", "3 0 14717500 2", "3 0 4983 0"],
    "qrels_beir": (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[:5],
    "topics_tsv": ["1\t0-dimensional biomaterials show inductive properties.", "3\t1,000 genomes project"],
    "topics_trec": ["<top>", "<num> Number: 301", "<title> international organized crime", "</top>"],
    "topics_beir": list(itertools.islice((SCIFACT / "queries.jsonl").open(), 3)),
    "corpus_beir": list(itertools.islice((SCIFACT / "corpus.jsonl").open(), 2)),
    "corpus_jsonl": ['{"id": "d1", "contents": "a passage"}', '{"id": "d2", "contents": "another"}'],
    "corpus_tsv": ["d1\tthe first passage", "d2\tthe second passage"],
}
READERS = {
    "run": lambda p: read_run(p),
    "qrels_trec": lambda p: read_qrels(p),
    "qrels_beir": lambda p: read_qrels(p),
    "topics_tsv": lambda p: read_topics(p, "tsv"),
    "topics_trec": lambda p: read_topics(p, "trec"),
    "topics_beir": lambda p: read_topics(p, "beir"),
    "corpus_beir": lambda p: list(read_corpus(p, "beir")),
    "corpus_jsonl": lambda p: list(read_corpus(p, "jsonl")),
    "corpus_tsv": lambda p: list(read_corpus(p, "tsv")),
    "submission": lambda p: check_run(p, ["1", "3"]),
}
REAL["submission"] = REAL["run"]

JUNK = st.sampled_from(["\t", " ", "\n", "\r\n", '"', "{", "}", ":", ",", "-1", "nan", "inf", "1e999", "Q0", "é",
                        "\x00", "\ufeff", "#", "<top>", "</top>", "<num>", "", "0", "x" * 300])


@st.composite
def mutated(draw, lines):
    """Real lines with random edits: deleted, duplicated, swapped, cut, or spliced with junk."""
    out = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            out.append("")
        i = draw(st.integers(0, len(out) - 1))
        line = out[i]
        op = draw(st.sampled_from(["cut", "insert", "delete_line", "duplicate", "swap_cols", "replace_col"]))
        if op == "cut":
            out[i] = line[: draw(st.integers(0, len(line)))]
        elif op == "insert":
            at = draw(st.integers(0, len(line)))
            out[i] = line[:at] + draw(st.one_of(JUNK, st.text(max_size=8))) + line[at:]
        elif op == "delete_line":
            del out[i]
        elif op == "duplicate":
            out.insert(i, line)
        else:
            cols = line.split("\t" if "\t" in line else " ")
            if len(cols) > 1:
                a, b = draw(st.integers(0, len(cols) - 1)), draw(st.integers(0, len(cols) - 1))
                if op == "swap_cols":
                    cols[a], cols[b] = cols[b], cols[a]
                else:
                    cols[a] = draw(JUNK)
                out[i] = ("\t" if "\t" in line else " ").join(cols)
    return "\n".join(out)


def outcome(read, path):
    """Parse, or our own error, one line naming the file; anything else fails the test."""
    try:
        read(path)
    except PipelineError as err:
        assert "\n" not in str(err).strip() and path.name in str(err), repr(err)


@pytest.mark.parametrize("kind", sorted(READERS))
@FUZZ
@given(data=st.data())
def test_mutated_real_lines_parse_or_raise_our_error(kind, data, tmp_path):
    text = data.draw(mutated(REAL[kind]))
    path = tmp_path / f"input.{kind}.txt"
    if kind.endswith("beir") and kind != "qrels_beir":
        path = path.with_suffix(".jsonl")
    path.write_bytes(text.encode("utf-8", errors="replace"))
    outcome(READERS[kind], path)


@pytest.mark.parametrize("kind", sorted(READERS))
@FUZZ
@given(raw=st.binary(max_size=400), gz=st.booleans(), cut=st.integers(0, 400))
def test_random_bytes_and_truncated_gzip_parse_or_raise_our_error(kind, raw, gz, cut, tmp_path):
    real = "\n".join(REAL[kind]).encode() + raw
    if gz:
        path = tmp_path / "input.txt.gz"
        packed = gzip.compress(real)
        path.write_bytes(packed[: max(1, cut)] if cut < len(packed) else packed)
    else:
        path = tmp_path / "input.txt"
        path.write_bytes(raw)
    outcome(READERS[kind], path)


@FUZZ
@given(text=st.text(max_size=300), mutate=mutated(['[my-set]', 'corpus = "c.tsv"', 'corpus_format = "tsv"',
                                                    'topics = "q.tsv"', 'topics_format = "tsv"', '[my-set.splits]',
                                                    'test = "qrels.txt"']))
def test_dataset_configs_parse_or_raise_our_error(text, mutate, tmp_path, monkeypatch):
    for name in ("c.tsv", "q.tsv", "qrels.txt"):
        (tmp_path / name).write_text("x\ty\n")
    for content in (text, mutate):
        config = tmp_path / "datasets.toml"
        config.write_text(content)
        monkeypatch.setenv("PIPELINE_DATASETS", str(config))
        outcome(lambda _: get_dataset("my-set"), config)


CAR = DATA / "trec-car-test200"


@pytest.mark.parametrize("name, read", [("all.test200.cbor.outlines", lambda p: read_topics(p, "car-outlines")),
                                        ("all.test200.cbor.paragraphs", lambda p: list(read_corpus(p, "car")))])
@FUZZ
@given(cut=st.integers(1, 4000), edits=st.lists(st.tuples(st.integers(0, 3999), st.integers(0, 255)), max_size=3))
@example(cut=1327, edits=[(741, 0)])  # issue 19: a paragraph's text decodes to a list; get_text() raised TypeError
def test_truncated_and_corrupted_cbor_parse_or_raise_our_error(name, read, cut, edits, tmp_path):
    """The first 4000 bytes of a real file, cut after ``cut`` bytes, with each ``(position, byte)`` of ``edits``
    written over the bytes left (the position taken modulo their number)."""
    blob = bytearray((CAR / name).read_bytes()[:cut])
    for at, byte in edits:
        blob[at % len(blob)] = byte
    path = tmp_path / "input.cbor"
    path.write_bytes(bytes(blob))
    outcome(read, path)
