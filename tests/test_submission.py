"""The submission checker: each rule rejects a real run with that one fault injected, at the right line."""

import gzip
import re

import pytest

from pipeline.collection.topics import read_topics
from pipeline.runfiles.submission import check_run
from pipeline.runfiles.trec import read_run, write_run

from .conftest import run_cli


@pytest.fixture
def real(slice_runs, scifact_slice):
    """The slice's BM25 run as lines (a fresh copy per test), and its 40 topic ids."""
    lines = slice_runs["bm25"].read_text().splitlines()
    return lines, list(read_topics(scifact_slice / "queries.jsonl", "beir"))


def write(tmp_path, lines, name="run.trec"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def cols(line, **changes):
    qid, q0, docid, rank, score, tag = line.split()
    fields = dict(qid=qid, q0=q0, docid=docid, rank=rank, score=score, tag=tag) | changes
    return " ".join(fields[k] for k in ("qid", "q0", "docid", "rank", "score", "tag"))


def only_error(report):
    assert not report.ok and len(report.errors) == 1, report.errors
    return report.errors[0]


def test_the_clean_real_run_passes(real, tmp_path):
    lines, topics = real
    report = check_run(write(tmp_path, lines), topics)
    assert report.ok and report.tag == "bm25" and report.lines == 4000
    assert report.run == read_run(write(tmp_path, lines))


def test_malformed_line(real, tmp_path):
    lines, topics = real
    lines[41] = lines[41].rsplit(" ", 1)[0]
    e = only_error(check_run(write(tmp_path, lines), topics))
    assert e.line == 42 and "expected 6 columns" in e.message and "got 5" in e.message


@pytest.mark.parametrize("bad, field, message", [
    ("x1", "rank", "rank must be an integer"), ("high", "score", "score must be a number"),
    ("nan", "score", "score must be finite")])
def test_rank_and_score_must_be_numbers(real, tmp_path, bad, field, message):
    lines, topics = real
    lines[7] = cols(lines[7], **{field: bad})
    e = only_error(check_run(write(tmp_path, lines), topics))
    assert e.line == 8 and message in e.message


def test_tag_rules(real, tmp_path):
    lines, topics = real
    long = [cols(line, tag="a-sixteen-chars1") for line in lines]
    e = only_error(check_run(write(tmp_path, long), topics))
    assert e.line == 1 and "1-15 characters" in e.message
    assert check_run(write(tmp_path, long), topics, max_tag_length=25).ok
    lines[100] = cols(lines[100], tag="other")
    e = only_error(check_run(write(tmp_path, lines), topics))
    assert e.line == 101 and "one tag per file" in e.message
    bad = [cols(line, tag="bad.tag") for line in real[0]]
    assert "must be 1-15 characters" in only_error(check_run(write(tmp_path, bad), topics)).message


def test_unknown_topic(real, tmp_path):
    lines, topics = real
    e = only_error(check_run(write(tmp_path, lines), [t for t in topics if t != lines[0].split()[0]]))
    assert e.line == 1 and "topic '1' is not one of the 39 topics" in e.message


def test_topic_with_no_documents(real, tmp_path):
    lines, topics = real
    missing = check_run(write(tmp_path, lines), topics + ["999999"])
    assert [x.message for x in missing.errors] == ["topic '999999' has no documents (every topic needs at least 1)"]
    assert missing.errors[0].line is None


def test_more_than_the_maximum_per_topic(real, tmp_path):
    lines, topics = real
    lines.insert(100, cols(lines[99], docid="extra-doc", rank="101", score="0.0"))
    e = only_error(check_run(write(tmp_path, lines), topics, max_per_topic=100))
    assert e.line == 101 and "101 documents, more than the maximum 100" in e.message


def test_duplicate_docid_within_a_topic(real, tmp_path):
    lines, topics = real
    lines[9] = cols(lines[9], docid=lines[2].split()[2])
    e = only_error(check_run(write(tmp_path, lines), topics))  # and no second error for the rank it leaves out
    assert e.line == 10 and "appears twice" in e.message and "first on line 3" in e.message


def test_ranks_must_run_from_one_without_gaps(real, tmp_path):
    lines, topics = real
    lines[150] = cols(lines[150], rank="50")
    e = only_error(check_run(write(tmp_path, lines), topics))
    assert e.line == 151 and "rank 50 repeats line 150" in e.message
    lines[150] = cols(lines[150], rank="101")
    e = only_error(check_run(write(tmp_path, lines), topics))
    assert e.line == 151 and "rank 101 out of 1..100" in e.message
    lines[150] = cols(lines[150], rank="0")
    e = only_error(check_run(write(tmp_path, lines), topics))
    assert e.line == 151 and "rank 0 out of 1..100" in e.message


def test_scores_must_not_increase_down_the_ranking(real, tmp_path):
    lines, topics = real
    lines[20] = cols(lines[20], score="1000.0")
    e = only_error(check_run(write(tmp_path, lines), topics))
    assert e.line == 21 and "higher than" in e.message and "at rank 20" in e.message


def test_ties_in_trec_evals_order_are_not_warned_about(real, tmp_path):
    """The project's own runs (``write_run``) put tied documents in trec_eval's order: nothing to warn about."""
    lines, topics = real
    run = read_run(write(tmp_path, lines))
    for qid in ("1", topics[1]):
        tied = list(run[qid])[4:8]
        run[qid].update(dict.fromkeys(tied, run[qid][tied[0]]))  # ranks 5-8 tied
    path = tmp_path / "own.trec"
    write_run(path, run, "own")
    assert len({line.split()[4] for line in path.read_text().splitlines()[4:8]}) == 1
    report = check_run(path, topics)
    assert report.ok and report.warnings == []
    proc = run_cli("pipeline.submit", str(path), "--topics", str(write(tmp_path, [f"{t}\tq" for t in topics],
                   "topics.tsv")), "--tag", "own", "--output", str(tmp_path / "sub.gz"))
    assert proc.returncode == 0 and proc.stderr == "" and "0 warning(s)" in proc.stdout


def test_ties_ranked_against_trec_evals_order_are_a_warning_not_an_error(real, tmp_path):
    lines, topics = real
    for start in (4, 104):  # ranks 5-8 of the first two topics tied; the first in ascending docid order
        block = [cols(line, score=lines[start].split()[4]) for line in lines[start:start + 4]]
        docids = sorted((line.split()[2] for line in block), reverse=start == 104)
        lines[start:start + 4] = [cols(line, docid=d) for line, d in zip(block, docids, strict=True)]
    path = write(tmp_path, lines)
    report = check_run(path, topics)
    message = ("topic '1': 4 of 4 tied documents are not in trec_eval's order "
               "(it breaks score ties by docid, descending, not by your ranks)")
    assert report.ok and [(w.line, w.message) for w in report.warnings] == [(5, message)]
    proc = run_cli("pipeline.submit", str(path), "--topics", str(write(tmp_path, [f"{t}\tq" for t in topics],
                   "topics.tsv")), "--tag", "t1", "--output", str(tmp_path / "sub.gz"))
    assert proc.returncode == 0 and proc.stderr.splitlines() == [f"warning: {path}:5: {message}",
                                                                  "note: the run's tag 'bm25' becomes 't1'"]


def test_docids_absent_from_the_collection(real, tmp_path, slice_index):
    from pipeline.submit import _collection_lookup

    lines, topics = real
    lines[300] = cols(lines[300], docid="not-a-doc")
    e = only_error(check_run(write(tmp_path, lines), topics, in_collection=_collection_lookup(slice_index)))
    assert e.line == 301 and "'not-a-doc' is not in the collection" in e.message


def test_reading_stops_after_25_errors_as_nists_checker_does(real, tmp_path):
    lines, topics = real
    for i in range(0, 300, 10):
        lines[i] = lines[i] + " extra"
    report = check_run(write(tmp_path, lines), topics)
    assert report.stopped and len(report.errors) == 25 and report.errors[-1].line == 241


def test_cli_writes_the_normalised_gzipped_submission(real, tmp_path):
    lines, topics = real
    src = tmp_path / "run.trec.gz"
    with gzip.open(src, "wt") as f:
        f.write("# produced by a test\n" + "\n".join(lines[::-1]) + "\n")  # any line order is fine
    topics_file = write(tmp_path, [f"{t}\tq" for t in topics], "topics.tsv")
    out = tmp_path / "sub.gz"
    proc = run_cli("pipeline.submit", str(src), "--topics", str(topics_file), "--tag", "team-run1",
                   "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "40 topics, 4000 documents" in proc.stdout and "comment line" in proc.stderr
    written = gzip.open(out, "rt").read().splitlines()
    assert [line.split()[0] for line in written[::100]] == topics  # official topic order
    assert all(line.endswith(" team-run1") for line in written)
    assert written[0].split()[3] == "1" and read_run(out) == read_run(write(tmp_path, lines))


def test_cli_reports_every_error_with_its_line_and_fails(real, tmp_path):
    lines, topics = real
    lines[3] = cols(lines[3], rank="x")
    lines[50] = cols(lines[50], score="99")
    topics_file = write(tmp_path, [f"{t}\tq" for t in topics], "topics.tsv")
    proc = run_cli("pipeline.submit", str(write(tmp_path, lines)), "--topics", str(topics_file), "--tag", "t1",
                   "--output", str(tmp_path / "sub.gz"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert re.search(r"run.trec:4: rank must be an integer", proc.stderr)
    assert re.search(r"run.trec:51: score 99.0 at rank 51 is higher", proc.stderr)
    assert not (tmp_path / "sub.gz").exists()
