"""Readers of corpora, topics and qrels: real files from data/ and malformed input."""

import pytest

from pipeline.collection.corpora import read_corpus
from pipeline.collection.datasets import DATA
from pipeline.collection.qrels import read_qrels
from pipeline.collection.topics import read_topics
from pipeline.common.errors import PipelineError

CAR = DATA / "trec-car-test200"
SCI = DATA / "scifact"


def test_real_corpora_have_their_published_counts():
    assert sum(1 for _ in read_corpus(SCI / "corpus.jsonl", "beir")) == 5183
    car = list(read_corpus(CAR / "all.test200.cbor.paragraphs", "car"))
    assert len(car) == 5332 and all(d.title == "" for d in car)
    first = next(read_corpus(SCI / "corpus.jsonl", "beir"))
    assert first.id == "4983" and first.contents == f"{first.title} {first.text}"


def test_car_outlines_give_one_query_per_section_path_with_title_and_headings():
    topics = read_topics(CAR / "all.test200.cbor.outlines", "car-outlines")
    qrels = read_qrels(CAR / "all.test200.cbor.hierarchical.qrels")
    sections = {q for q in qrels if "/" in q}
    assert len(sections) == 2072 and sections <= set(topics)
    assert topics["ASME/Controversy"] == "ASME Controversy"
    assert all("/" in q for q in topics)


def test_other_corpus_and_topic_formats(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"id": "d1", "contents": "hello world"}\n')
    (tmp_path / "c.tsv").write_text("p1\tsome text\np2\ta title\tmore text\n")
    assert [tuple(d) for d in read_corpus(tmp_path / "c.jsonl", "jsonl")] == [("d1", "", "hello world")]
    assert [d.contents for d in read_corpus(tmp_path / "c.tsv", "tsv")] == ["some text", "a title more text"]
    (tmp_path / "q.tsv").write_text("1\tfirst  query\n2\tsecond\n")
    assert read_topics(tmp_path / "q.tsv", "tsv") == {"1": "first query", "2": "second"}
    (tmp_path / "t.txt").write_text("<top>\n<num> Number: 301\n<title> International Organized Crime\n"
                                    "<desc> Description:\nIdentify organizations\n</top>\n"
                                    "<top><num> Number: 302 <title> Poliomyelitis and Post-Polio\n</top>\n")
    assert read_topics(tmp_path / "t.txt", "trec") == {"301": "International Organized Crime",
                                                      "302": "Poliomyelitis and Post-Polio"}


def test_qrels_trec_and_beir_layouts(tmp_path):
    assert len(read_qrels(SCI / "qrels" / "test.tsv")) == 300
    (tmp_path / "q.txt").write_text("1 0 d1 2\n1 0 d2 0\n2 0 d1 1\n")
    assert read_qrels(tmp_path / "q.txt") == {"1": {"d1": 2, "d2": 0}, "2": {"d1": 1}}


@pytest.mark.parametrize("reader, content, message", [
    (lambda p: read_qrels(p), "1 0 d1 1\n1 0 d1 x\n", r":2: relevance must be an integer"),
    (lambda p: read_qrels(p), "1 0 d1 1\n1 0 d1 0\n", r":2: duplicate judgment"),
    (lambda p: read_qrels(p), "1 0 d1 1 extra\n", r":1: expected 4 columns"),
    (lambda p: read_topics(p, "tsv"), "1\tok\n2 no tab\n", r":2: expected 2 tab-separated columns"),
    (lambda p: read_topics(p, "tsv"), "1\ta\n1\tb\n", r":2: duplicate query id"),
    (lambda p: read_topics(p, "beir"), '{"_id": "1", "text": "a"}\n{"_id": 2\n', r":2: not a JSON object"),
    (lambda p: read_topics(p, "trec"), "<top><num> 1 <title> x\n", r":1: <top> never closed"),
    (lambda p: list(read_corpus(p, "beir")), '{"_id": "1", "text": "a"}\n{"title": "t"}\n', r":2: missing field '_id'"),
    (lambda p: list(read_corpus(p, "tsv")), "d1\tx\nd2\n", r":2: expected 2 or 3 tab-separated columns"),
])
def test_malformed_input_is_one_error_naming_file_and_line(tmp_path, reader, content, message):
    path = tmp_path / "input.txt"
    path.write_text(content)
    with pytest.raises(PipelineError, match=rf"input.txt{message}"):
        reader(path)


def test_non_utf8_and_missing_files(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("1\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(PipelineError, match=r"latin1.tsv:1: not UTF-8"):
        read_topics(path, "tsv")
    with pytest.raises(PipelineError, match=r"nowhere.txt: no such file"):
        read_qrels(tmp_path / "nowhere.txt")


def test_truncated_cbor_is_a_clear_error(tmp_path):
    data = (CAR / "all.test200.cbor.paragraphs").read_bytes()
    path = tmp_path / "cut.cbor"
    path.write_bytes(data[:10_000])
    with pytest.raises(PipelineError, match=r"cut.cbor: record \d+: not a readable TREC CAR paragraph"):
        list(read_corpus(path, "car"))
