"""TREC SGML collections (``corpus_format = "trec"``) and topic fields (``--topic-field``): read as
Anserini's TrecCollection and TrecTopicReader read them (checked against the bundled Anserini),
indexed and searched with Pyserini, and every malformed file refused with its file and line."""

import gzip
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.collection.corpora import read_corpus
from pipeline.collection.datasets import get_dataset
from pipeline.collection.topics import FIELDS, read_topics
from pipeline.common.errors import PipelineError

from .conftest import run_cli

# three newswire documents: BYLINE, PROFILE and PUB are not text Anserini keeps
COLLECTION = """\
<DOC>
<DOCNO> FT911-1 </DOCNO>
<PROFILE>_AN-BEOA7AAIFT</PROFILE>
<DATE>910514
</DATE>
<HEADLINE>
FT  14 MAY 91 / Tanker oil spill off Alaska
</HEADLINE>
<BYLINE>
   By DAVID GOODHART
</BYLINE>
<TEXT>
The tanker ran aground &amp; the oil spill
spread along the coast of Alaska.
</TEXT>
<PUB>The Financial Times</PUB>
</DOC>

<DOC>
<DOCNO>FT911-2</DOCNO>
<TEXT>Cocoa prices in Ghana rose again.</TEXT>
</DOC>
<DOC>
<DOCNO>LA010189-0003</DOCNO>
<HL>Satellite launch</HL>
<TEXT>
<P>
The orbital satellite launch was delayed.
</P>
</TEXT>
</DOC>
"""
CONTENTS = {"FT911-1": "910514 FT 14 MAY 91 / Tanker oil spill off Alaska The tanker ran aground & the oil spill "
                       "spread along the coast of Alaska.",
            "FT911-2": "Cocoa prices in Ghana rose again.",
            "LA010189-0003": "Satellite launch The orbital satellite launch was delayed."}

TOPICS = """\
<top>
<num> Number: 301
<title> oil spill Alaska

<desc> Description:
Find reports on cocoa
prices in Ghana.

<narr> Narrative:
A relevant document describes a satellite launch.
</top>

<top>
<num> Number: 302
<title>   cocoa   Ghana
<desc> Description:
What delayed the orbital launch?
<narr> Narrative:
Reports of the tanker.
</top>
"""


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _error(path, line, message):
    """``path:line: message`` as a pattern for pytest.raises."""
    return f"^{re.escape(f'{path}:{line}: {message}')}"


def test_documents_are_read_as_anserinis_trec_collection_reads_them(tmp_path):
    path = _write(tmp_path / "coll" / "ft.txt", COLLECTION)
    docs = list(read_corpus(path, "trec"))
    assert {d.id: d.contents for d in docs} == CONTENTS and [d.id for d in docs] == list(CONTENTS)
    assert all(d.title == "" for d in docs)

    from pipeline.common.java import start_jvm

    start_jvm()
    from jnius import autoclass

    collection = autoclass("io.anserini.collection.TrecCollection")(autoclass("java.nio.file.Paths").get(
        str(path.parent)))
    anserini = {doc.id(): doc.contents() for segment in collection for doc in segment}
    assert anserini == CONTENTS


def test_gzipped_files_and_folders_are_read_in_sorted_order(tmp_path):
    folder = tmp_path / "disk"
    _write(folder / "b" / "la.gz", "<DOC>\n<DOCNO>B1</DOCNO>\n<TEXT>gzipped</TEXT>\n</DOC>\n")
    _write(folder / "a.txt", "<DOC>\n<DOCNO>A1</DOCNO>\n<TEXT>plain one</TEXT>\n</DOC>\n"
                             "<DOC>\n<DOCNO>A2</DOCNO>\n<TEXT>plain two</TEXT>\n</DOC>\n")
    # skipped as Anserini's TrecCollection skips them on the TREC disks, and hidden files
    for skipped in ("readme.txt", "dtds/fr.dtd", "cr/cr93.txt", ".DS_Store"):
        _write(folder / skipped, "not a collection file")
    docs = list(read_corpus(folder, "trec"))
    assert [(d.id, d.contents) for d in docs] == [("A1", "plain one"), ("A2", "plain two"), ("B1", "gzipped")]
    assert [d.id for d in read_corpus(folder / "b" / "la.gz", "trec")] == ["B1"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(PipelineError, match="empty: no collection files in this folder"):
        list(read_corpus(tmp_path / "empty", "trec"))


@pytest.mark.parametrize("text, line, message", [
    ("<DOC>\n<DOCNO>d1</DOCNO>\n<TEXT>x</TEXT>\n", 1, "<DOC> never closed (no </DOC> before the end of the file)"),
    ("<DOC>\n<DOCNO>d1</DOCNO>\n<TEXT>x</TEXT>\n<DOC>\n<DOCNO>d2</DOCNO>\n</DOC>\n", 4,
     "<DOC> inside the <DOC> opened at line 1 (a missing </DOC>?)"),
    ("<DOC>\n<DOCNO>d1</DOCNO>\n</DOC>\n<DOC>\n<TEXT>no id</TEXT>\n</DOC>\n", 4,
     "<DOC> without <DOCNO> (closed at line 6)"),
    ("<DOC>\n<DOCNO>d1</DOCNO>\n<DOCNO>d2</DOCNO>\n</DOC>\n", 3, "a second document id in the <DOC> opened at line 1"),
    ("<DOC>\n<DOCNO>d1</DOCNO>\n</DOC>\n</DOC>\n", 4, "</DOC> outside <DOC>...</DOC>"),
    ('{"id": "d1", "contents": "a JSONL line"}\n', 1, "text outside <DOC>...</DOC>: "),
    ("<DOC>\n<DOCNO>d1</DOCNO>\n</DOC>\n<DOC>\n<DOCNO> d1 </DOCNO>\n</DOC>\n", 4,
     "duplicate document id 'd1'; first at "),
    ("<DOC>\n<DOCNO>AP 880101</DOCNO>\n</DOC>\n", 1, "document id 'AP 880101' holds whitespace"),
], ids=["unclosed", "nested", "no-docno", "two-docnos", "stray-close", "not-sgml", "duplicate", "whitespace-id"])
@pytest.mark.parametrize("suffix", [".txt", ".gz"])
def test_malformed_files_are_refused_with_file_and_line(tmp_path, text, line, message, suffix):
    path = _write(tmp_path / f"coll{suffix}", text)
    with pytest.raises(PipelineError, match=_error(path, line, message)):
        list(read_corpus(path, "trec"))


def test_a_docid_repeated_across_files_names_both_files(tmp_path):
    first = _write(tmp_path / "disk" / "a.txt", "<DOC>\n<DOCNO>d0</DOCNO>\n</DOC>\n<DOC>\n<DOCNO>d1</DOCNO>\n</DOC>\n")
    again = _write(tmp_path / "disk" / "z" / "b.gz", "\n<DOC>\n<DOCNO>d1</DOCNO>\n</DOC>\n")
    with pytest.raises(PipelineError, match=_error(again, 2, f"duplicate document id 'd1'; first at {first}:4")):
        list(read_corpus(tmp_path / "disk", "trec"))


SGML_JUNK = st.sampled_from(["<DOC>", "</DOC>", "<DOCNO>", "</DOCNO>", "<TEXT>", "</TEXT>", '<DOC id="x">', "<",
                             ">", "&amp;", "&", "<top>", "</top>", "<desc>", "<narr>", "Description:", " ", "\n",
                             "", "é", "\x00"])


@settings(max_examples=200, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 40), SGML_JUNK), max_size=4))
def test_mutated_collections_and_topics_parse_or_raise_our_error(tmp_path, cuts):
    for name, text, read in [("c.txt", COLLECTION, lambda p: list(read_corpus(p, "trec"))),
                             ("t.txt", TOPICS, lambda p: [read_topics(p, "trec", f) for f in FIELDS])]:
        for at, drop, junk in cuts:  # replace a stretch of the real file by SGML junk
            at %= len(text)
            text = text[:at] + junk + text[at + drop:]
        path = _write(tmp_path / name, text)
        try:
            read(path)
        except PipelineError as err:
            assert str(err).startswith(str(path))


def test_unix_compress_files_get_the_fix(tmp_path):
    path = tmp_path / "fr940104.0z"
    path.write_bytes(b"\x1f\x9d\x90<DOC>")
    with pytest.raises(PipelineError, match=r"compressed with Unix compress \(\.Z\).*gzip -dc fr940104.0z"):
        list(read_corpus(path, "trec"))


def test_topic_fields_are_read_as_anserinis_trec_topic_reader_reads_them(tmp_path):
    path = _write(tmp_path / "topics.txt", TOPICS)
    assert read_topics(path, "trec") == {"301": "oil spill Alaska", "302": "cocoa Ghana"}
    assert read_topics(path, "trec", "title") == read_topics(path, "trec")
    assert read_topics(path, "trec", "description") == {"301": "Find reports on cocoa prices in Ghana.",
                                                        "302": "What delayed the orbital launch?"}
    assert read_topics(path, "trec", "narrative") == {"301": "A relevant document describes a satellite launch.",
                                                      "302": "Reports of the tanker."}
    assert read_topics(path, "trec", "title+description")["301"] == \
        "oil spill Alaska Find reports on cocoa prices in Ghana."

    from pipeline.common.java import start_jvm

    start_jvm()
    from jnius import autoclass

    topics = autoclass("io.anserini.search.topicreader.TrecTopicReader")(
        autoclass("java.nio.file.Paths").get(str(path))).read()
    for entry in topics.entrySet().toArray():
        qid, fields = str(entry.getKey()), entry.getValue()
        for field in ("title", "description", "narrative"):
            assert read_topics(path, "trec", field)[qid] == " ".join(fields.get(field).split())


def test_a_topic_without_the_field_and_formats_with_one_text_are_refused(tmp_path):
    path = _write(tmp_path / "topics.txt", "\n<top>\n<num> Number: 7\n<title> only a title\n</top>\n")
    message = "topic '7' has no <desc> (topic field 'title+description')"
    with pytest.raises(PipelineError, match=_error(path, 2, message)):
        read_topics(path, "trec", "title+description")
    tsv = _write(tmp_path / "q.tsv", "1\tquery\n")
    with pytest.raises(PipelineError, match="tsv topics have one text per query; topic field 'narrative' needs trec"):
        read_topics(tsv, "tsv", "narrative")
    with pytest.raises(PipelineError, match="unknown topic field 'body'; known: title, description, narrative"):
        read_topics(path, "trec", "body")


def test_beir_queries_give_their_text_and_metadata_fields(tmp_path):
    path = _write(tmp_path / "queries.jsonl", "".join(json.dumps(q) + "\n" for q in [
        {"_id": "1", "text": "Should teachers get tenure?",
         "metadata": {"description": "A user asks about tenure.", "narrative": "Relevant arguments..."}},
        {"_id": "2", "text": "origin of COVID-19", "metadata": {"query": "coronavirus origin"}}]))
    assert read_topics(path, "beir") == {"1": "Should teachers get tenure?", "2": "origin of COVID-19"}
    path1 = _write(tmp_path / "one.jsonl", path.read_text().splitlines()[0] + "\n")
    assert read_topics(path1, "beir", "title+description") == \
        {"1": "Should teachers get tenure? A user asks about tenure."}
    assert read_topics(path1, "beir", "narrative") == {"1": "Relevant arguments..."}
    with pytest.raises(PipelineError, match=_error(path, 2, "query '2' has no metadata.description for topic field "
                                                            "'description' (its metadata keys: query)")):
        read_topics(path, "beir", "description")


def _dataset(tmp_path, topic_field=None):
    """A datasets.toml entry of the three-document TREC file, TREC topics and qrels."""
    _write(tmp_path / "ft.txt", COLLECTION)
    _write(tmp_path / "topics.txt", TOPICS)
    _write(tmp_path / "qrels.txt", "301 0 FT911-1 1\n302 0 FT911-2 1\n")
    extra = f'topic_field = "{topic_field}"\n' if topic_field else ""
    config = _write(tmp_path / "datasets.toml", '[tiny-trec]\ncorpus = "ft.txt"\ncorpus_format = "trec"\n'
                    f'topics = "topics.txt"\ntopics_format = "trec"\n{extra}[tiny-trec.splits]\ntest = "qrels.txt"\n')
    return config


def test_a_trec_collection_is_indexed_and_searched_and_topic_fields_reach_bm25(tmp_path, monkeypatch):
    from pyserini.search.lucene import LuceneSearcher

    from pipeline.candidates.bm25 import BM25
    from pipeline.indexing.lucene import build_index

    monkeypatch.setenv("PIPELINE_DATASETS", str(_dataset(tmp_path / "d")))
    ds = get_dataset("tiny-trec")
    assert ds.topic_field == "title"
    index = tmp_path / "idx"
    assert build_index(ds.docs(), index, {"dataset": ds.name}, threads=1)["documents"] == 3
    stored = LuceneSearcher(str(index)).doc("FT911-1")
    assert json.loads(stored.raw())["contents"] == CONTENTS["FT911-1"]

    bm25 = BM25(index)
    top = {}
    from dataclasses import replace

    for field in ("title", "description", "narrative"):
        run = bm25.search(replace(ds, topic_field=field).topics_for("test"), k=3, threads=1, progress=False)
        top[field] = {q: next(iter(docs)) for q, docs in run.items()}
    assert top == {"title": {"301": "FT911-1", "302": "FT911-2"},
                   "description": {"301": "FT911-2", "302": "LA010189-0003"},
                   "narrative": {"301": "LA010189-0003", "302": "FT911-1"}}
    assert bm25.search({"q": "GOODHART Financial Times"}, k=3, threads=1, progress=False)["q"] == {}  # not kept

    # the same dataset with topic_field in its entry
    monkeypatch.setenv("PIPELINE_DATASETS", str(_dataset(tmp_path / "e", "narrative")))
    assert get_dataset("tiny-trec").topics_for("test")["302"] == "Reports of the tanker."


def test_run_topic_field_flag_names_the_run_and_is_recorded(tmp_path):
    from pipeline.indexing.lucene import build_index

    config = _dataset(tmp_path / "d")
    build_index(read_corpus(tmp_path / "d" / "ft.txt", "trec"), tmp_path / "idx", {"dataset": "tiny-trec"},
                threads=1)
    home = tmp_path / "home"
    proc = run_cli("pipeline.run", "--dataset", "tiny-trec", "--index", str(tmp_path / "idx"), "--no-progress",
                   "--topic-field", "description", "--depth", "3", "--threads", "1",
                   env={"PIPELINE_DATASETS": str(config), "PIPELINE_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    run = home / "runs" / "tiny-trec.test.bm25.description.trec"
    first = {line.split()[0]: line.split()[2] for line in reversed(run.read_text().splitlines())}
    assert first == {"301": "FT911-2", "302": "LA010189-0003"}  # rank 1 of each query, from the description
    assert json.loads(run.with_name(run.name + ".json").read_text())["config"]["topic_field"] == "description"
    assert not (home / "runs" / "tiny-trec.test.bm25.trec").exists()
