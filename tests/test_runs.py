import gzip

import pytest

from pipeline.common.errors import PipelineError
from pipeline.runfiles.trec import from_frame, rank, read_run, to_frame, truncate, validate_tag, write_run


def test_tie_order_is_trec_evals_score_desc_then_docid_desc_as_strings():
    docs = {"10": 1.0, "9": 1.0, "a": 2.0, "b": 1.0, "1": 0.5}
    # trec_eval breaks ties with strcmp descending: "b" > "9" > "10"
    assert [d for d, _ in rank(docs)] == ["a", "b", "9", "10", "1"]


def test_written_run_has_ranks_from_one_in_trec_eval_order_and_full_precision(tmp_path):
    score = 0.1 + 0.2  # 0.30000000000000004: must survive the round trip
    run = {"q2": {"d1": score, "d2": 5.0, "d3": score}, "q1": {"x": -1.5}}
    path = tmp_path / "r.trec"
    write_run(path, run, "my-tag")
    lines = path.read_text().splitlines()
    assert lines == [
        "q2 Q0 d2 1 5.0 my-tag",
        f"q2 Q0 d3 2 {score!r} my-tag",
        f"q2 Q0 d1 3 {score!r} my-tag",
        "q1 Q0 x 1 -1.5 my-tag",
    ]
    assert read_run(path) == run


def test_msmarco_output_and_gzip_round_trip(tmp_path):
    run = {"7": {"100": 3.0, "200": 4.0}}
    write_run(tmp_path / "r.tsv", run, "t", fmt="msmarco")
    assert (tmp_path / "r.tsv").read_text() == "7\t200\t1\n7\t100\t2\n"
    write_run(tmp_path / "r.trec.gz", run, "t", depth=1)
    with gzip.open(tmp_path / "r.trec.gz", "rt") as f:
        assert f.read() == "7 Q0 200 1 4.0 t\n"
    assert read_run(tmp_path / "r.trec.gz") == {"7": {"200": 4.0}}
    # a 3-column file keeps its order through score = -rank
    assert [d for d, _ in rank(read_run(tmp_path / "r.tsv")["7"])] == ["200", "100"]


def test_truncate_keeps_the_top_k_in_trec_eval_order():
    assert truncate({"q": {"a": 1.0, "b": 1.0, "c": 3.0}}, 2) == {"q": {"c": 3.0, "b": 1.0}}


@pytest.mark.parametrize("line, message", [
    ("q1 Q0 d1 1 1.0", "expected 6 columns"),
    ("q1 Q0 d1 1 high tag", "score must be a number"),
    ("q1 Q0 d1 1 nan tag", "score must be finite"),
])
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.trec"
    path.write_text("q1 Q0 d0 1 2.0 tag\n" + line + "\n")
    with pytest.raises(PipelineError, match=rf"bad.trec:2: {message}"):
        read_run(path)


def test_duplicate_docid_in_a_query_is_an_error_as_in_trec_eval(tmp_path):
    path = tmp_path / "dup.trec"
    path.write_text("q1 Q0 d1 1 2.0 t\nq2 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n")
    with pytest.raises(PipelineError, match=r"dup.trec:3: document 'd1' appears twice for query 'q1'"):
        read_run(path)


def test_windows_line_endings_and_comments_are_accepted(tmp_path):
    path = tmp_path / "crlf.trec"
    path.write_bytes(b"# a comment\r\nq1 Q0 d1 1 2.0 t\r\n")
    assert read_run(path) == {"q1": {"d1": 2.0}}


def test_truncated_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "r.trec.gz"
    write_run(path, {"q": {f"d{i}": float(i) for i in range(2000)}}, "t")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PipelineError, match="corrupt or truncated gzip"):
        read_run(path)


@pytest.mark.parametrize("tag, ok", [("bm25", True), ("a" * 15, True), ("a" * 16, False), ("", False),
                                     ("has space", False), ("dot.tag", False), ("x_y-Z9", True)])
def test_run_tag_rule(tag, ok):
    if ok:
        assert validate_tag(tag) == tag
    else:
        with pytest.raises(PipelineError, match="invalid run tag"):
            validate_tag(tag)


def test_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "r.trec"
    write_run(path, {"q": {"d": 1.0}}, "t")
    with pytest.raises(TypeError):  # fails half-way through writing, at the second query
        write_run(path, {"q": {"a": 2.0}, "q2": {"b": "not a score"}}, "t")
    assert path.read_text() == "q Q0 d 1 1.0 t\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.trec"]


def test_written_files_get_the_usual_permissions(tmp_path):
    path = tmp_path / "perm.trec"
    write_run(path, {"q": {"d": 1.0}}, "t")
    assert path.stat().st_mode & 0o777 == 0o666 & ~_current_umask()


def _current_umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_run_goes_to_a_pyterrier_frame_and_back(tmp_path):
    run = {"q2": {"a": 1.0, "b": 1.0, "c": 3.5}, "q1": {"z": -2.0}}
    frame = to_frame(run, topics={"q1": "first", "q2": "second"}, passages={"a": "A", "b": "B", "c": "C", "z": "Z"})
    assert list(frame.columns) == ["qid", "query", "docno", "score", "rank", "text"]
    q2 = frame[frame.qid == "q2"]
    assert list(q2.docno) == [d for d, _ in rank(run["q2"])] == ["c", "b", "a"]  # trec_eval's tie order
    assert list(q2["rank"]) == [0, 1, 2] and list(q2.text) == ["C", "B", "A"] and set(q2["query"]) == {"second"}
    assert from_frame(frame) == run
    assert from_frame(frame.sample(frac=1.0, random_state=3)) == run  # the scores decide the order, not the rows
    write_run(tmp_path / "a.trec", from_frame(frame), "t")
    write_run(tmp_path / "b.trec", run, "t")
    assert (tmp_path / "a.trec").read_bytes() == (tmp_path / "b.trec").read_bytes()


def test_a_frame_that_is_not_a_run_is_refused():
    import pandas as pd

    with pytest.raises(PipelineError, match="missing score"):
        from_frame(pd.DataFrame({"qid": ["1"], "docno": ["d"]}))
    with pytest.raises(PipelineError, match="appears twice"):
        from_frame(pd.DataFrame({"qid": ["1", "1"], "docno": ["d", "d"], "score": [1.0, 2.0]}))
    with pytest.raises(PipelineError, match="not a finite number"):
        from_frame(pd.DataFrame({"qid": [1], "docno": ["d"], "score": [float("nan")]}))
