"""Measures by name through ir_measures on pytrec_eval: the project's measures give exactly what calling
pytrec_eval directly gave (a reference copy of that computation is kept here), new names give the
values worked out by hand, and a name nobody knows is one clear error."""

import json
import random

import pytest

from pipeline.collection.qrels import read_qrels
from pipeline.common.errors import PipelineError
from pipeline.evaluation.comparison import compare
from pipeline.evaluation.diff import diff_runs
from pipeline.evaluation.measures import evaluate, measure_name
from pipeline.evaluation.significance import paired_t_test
from pipeline.runfiles.trec import rank, read_run, truncate

from .conftest import run_cli
from .test_cli import one_line_error

# The measures pipeline.evaluate had before ir_measures, and how it computed them with pytrec_eval.
_REFERENCE = {"ndcg@10": ("ndcg_cut", "ndcg_cut_10"), "ndcg@20": ("ndcg_cut", "ndcg_cut_20"),
              "ndcg@100": ("ndcg_cut", "ndcg_cut_100"), "map": ("map", "map"), "p@10": ("P", "P_10"),
              "recall@10": ("recall", "recall_10"), "recall@20": ("recall", "recall_20"),
              "recall@100": ("recall", "recall_100"), "recall@1000": ("recall", "recall_1000")}
CURRENT = ["mrr@10", "judged@10", *_REFERENCE]


def reference(run, qrels, relevance_level=1, judged_queries_only=False):
    """Per-query values of :data:`CURRENT`, computed as pipeline.evaluate did before ir_measures."""
    import pytrec_eval

    per_query = {q: {} for q in qrels if q in run or not judged_queries_only}
    families = {family for family, _ in _REFERENCE.values()}
    results = pytrec_eval.RelevanceEvaluator(qrels, families, relevance_level=relevance_level).evaluate(run)
    for q in per_query:
        for m, (_, key) in _REFERENCE.items():
            per_query[q][m] = results.get(q, {}).get(key, 0.0)
    results = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"},
                                             relevance_level=relevance_level).evaluate(truncate(run, 10))
    for q in per_query:
        per_query[q]["mrr@10"] = results.get(q, {}).get("recip_rank", 0.0)
        per_query[q]["judged@10"] = sum(d in qrels[q] for d, _ in rank(run.get(q, {}))[:10]) / 10
    return per_query


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A run and graded qrels written as files: ties, short and long rankings, a grade -1, a judged query
    the run lacks, a run query nobody judged."""
    rng = random.Random(7)
    out = tmp_path_factory.mktemp("small")
    run_lines, qrels_lines = [], []
    for q in range(12):
        docs = [f"d{rng.randrange(400)}" for _ in range(rng.choice([3, 8, 40, 150]))]
        docs = list(dict.fromkeys(docs))
        if q != 11:  # q11 is judged but not retrieved
            scores = sorted((round(rng.random(), 1) for _ in docs), reverse=True)  # many ties
            run_lines += [f"q{q} Q0 {d} {i} {s} t\n" for i, (d, s) in enumerate(zip(docs, scores, strict=True), 1)]
        judged = rng.sample(docs, len(docs) // 2) + [f"u{q}-{i}" for i in range(3)]  # some never retrieved
        qrels_lines += [f"q{q} 0 {d} {rng.choice([-1, 0, 0, 1, 2, 3])}\n" for d in judged]
    run_lines.append("q99 Q0 d1 1 1.0 t\n")
    (out / "run.trec").write_text("".join(run_lines))
    (out / "qrels.txt").write_text("".join(qrels_lines))
    return read_run(out / "run.trec"), read_qrels(out / "qrels.txt")


def assert_as_before(run, qrels, relevance_level, judged_queries_only):
    new = evaluate(run, qrels, CURRENT, relevance_level, judged_queries_only)
    old = reference(run, qrels, relevance_level, judged_queries_only)
    assert new.measures == CURRENT
    assert new.per_query == old  # exactly, per query: the significance tests read these
    assert list(new.per_query) == list(old)
    assert new.aggregate == {m: sum(v[m] for v in old.values()) / len(old) for m in CURRENT}


@pytest.mark.parametrize("relevance_level", [1, 2])
@pytest.mark.parametrize("judged_queries_only", [False, True])
def test_current_measures_are_exactly_as_before_on_a_small_run(small, relevance_level, judged_queries_only):
    run, qrels = small
    assert_as_before(run, qrels, relevance_level, judged_queries_only)
    assert len(evaluate(run, qrels, ["map"]).per_query) == 12  # q11 scores 0 (-c), q99 ignored


@pytest.mark.parametrize("relevance_level", [1, 2])
@pytest.mark.parametrize("judged_queries_only", [False, True])
def test_current_measures_are_exactly_as_before_on_dl19(dl19, relevance_level, judged_queries_only):
    run, qrels = read_run(dl19 / "dl19.bm25_top100.run"), read_qrels(dl19 / "qrels.dl19-passage.txt")
    assert_as_before(run, qrels, relevance_level, judged_queries_only)


def test_every_spelling_of_a_measure_gets_the_name_printed_today():
    names = {"ndcg@10": ["ndcg@10", "nDCG@10", "NDCG@10", "ndcg_cut_10", "ndcg_cut.10"],
             "mrr@10": ["mrr@10", "RR@10", "MRR@10"], "map": ["map", "AP", "MAP"],
             "recall@1000": ["recall@1000", "R@1000", "Recall@1000", "recall_1000", "recall.1000"],
             "p@5": ["p@5", "P@5", "P_5", "P.5", "P(rel=1)@5"], "judged@20": ["judged@20", "Judged@20"],
             "Rprec": ["Rprec", "R-prec", "RPrec"], "Bpref": ["Bpref", "BPref", "bpref"], "RR": ["recip_rank", "RR"],
             "P(rel=2)@10": ["P(rel=2)@10"], "nDCG": ["nDCG", "ndcg"]}
    for ours, spellings in names.items():
        assert [measure_name(s) for s in spellings] == [ours] * len(spellings)


# By hand. q1 ranks b (grade 0), then c (1) and a (2) tied at 0.8, so c first (trec_eval: docid
# descending), then d and e (e judged 0); x (1) is never retrieved. q2 is judged but not in the run.
QRELS = {"q1": {"a": 2, "b": 0, "c": 1, "e": 0, "x": 1}, "q2": {"y": 2}}
RUN = {"q1": {"b": 0.9, "a": 0.8, "c": 0.8, "d": 0.6, "e": 0.5}, "q3": {"z": 1.0}}
IDCG5 = 2 + 1 / 1.584962500721156 + 1 / 2  # grades 2, 1, 1 at ranks 1-3
BY_HAND = {
    "p@5": 2 / 5,                                     # c, a
    "ndcg@5": (1 / 1.584962500721156 + 2 / 2) / IDCG5,  # c at rank 2 (log2 3), a at rank 3 (log2 4)
    "mrr@100": 1 / 2,                                 # c at rank 2
    "mrr@1": 0.0,                                     # b alone in the top 1
    "Rprec": 2 / 3,                                   # 3 relevant; c, a in the top 3
    "Bpref": (0.5 + 0.5) / 3,                         # c, a each below 1 of the 2 judged non-relevant
    "judged@20": 4 / 20,                              # b, c, a, e: over 20 although 5 are retrieved
    "P(rel=2)@10": 1 / 10,                            # a
}


def test_new_measures_by_hand():
    result = evaluate(RUN, QRELS, ["P@5", "nDCG@5", "RR@100", "RR@1", "R-prec", "Bpref", "Judged@20", "P(rel=2)@10"])
    assert result.measures == list(BY_HAND)
    assert result.per_query["q1"] == pytest.approx(BY_HAND)
    assert result.per_query["q2"] == dict.fromkeys(BY_HAND, 0.0)  # missing from the run: 0 (-c)
    assert result.aggregate == pytest.approx({m: v / 2 for m, v in BY_HAND.items()})
    only = evaluate(RUN, QRELS, ["Judged@20"], judged_queries_only=True)
    assert only.queries == 1 and only.aggregate["judged@20"] == pytest.approx(0.2)


def test_l_sets_rel_of_measures_that_do_not_set_their_own():
    result = evaluate(RUN, QRELS, ["P@5", "Rprec", "P(rel=2)@10", "nDCG@5", "Judged@20"], relevance_level=2)
    assert result.per_query["q1"] == pytest.approx({"p@5": 1 / 5, "Rprec": 0.0, "P(rel=2)@10": 1 / 10,
                                                    "ndcg@5": BY_HAND["ndcg@5"], "judged@20": 0.2})
    assert "grade >= 2" in result.convention
    with pytest.raises(PipelineError, match=r"'P\(rel=3\)@10' sets rel=3 but -l gives 2"):
        evaluate(RUN, QRELS, ["P(rel=3)@10"], relevance_level=2)


def test_diff_and_compare_take_any_name_and_test_the_same_per_query_values():
    other = {"q1": {"a": 0.9, "b": 0.8, "c": 0.1}, "q2": {"y": 1.0}}
    diff = diff_runs(RUN, other, QRELS, "P@5", trials=100)
    assert diff.measure == "p@5"
    assert {q.qid: (q.a, q.b) for q in diff.queries} == {"q1": (0.4, 0.4), "q2": (0.0, 0.2)}
    table = compare({"base": RUN, "other": other}, QRELS, "base", ["ndcg_cut_10", "P(rel=2)@10"])
    assert table.measures == ["ndcg@10", "P(rel=2)@10"]
    a = [v["P(rel=2)@10"] for v in evaluate(RUN, QRELS, ["P(rel=2)@10"]).per_query.values()]
    b = [v["P(rel=2)@10"] for v in evaluate(other, QRELS, ["P(rel=2)@10"]).per_query.values()]
    assert a == [0.1, 0.0] and b == [0.1, 0.1]
    assert table.p_values["other"]["P(rel=2)@10"] == paired_t_test(a, b)


def test_evaluations_and_comparisons_as_dataframes_hold_the_same_numbers():
    other = {"q1": {"a": 0.9, "b": 0.8, "c": 0.1}, "q2": {"y": 1.0}}
    result = evaluate(other, QRELS, ["ndcg@10", "P@5"])
    means = result.to_frame()
    assert list(means.columns) == ["ndcg@10", "p@5"] and len(means) == 1
    assert means.loc[0, "ndcg@10"] == result.aggregate["ndcg@10"]
    long = result.to_frame(per_query=True)
    assert list(long.columns) == ["qid", "measure", "value"] and len(long) == 2 * len(result.per_query)
    assert {(r.qid, r.measure): r.value for r in long.itertuples()} == {
        (q, m): v for q, values in result.per_query.items() for m, v in values.items()}
    table = compare({"base": RUN, "other": other}, QRELS, "base", ["ndcg@10", "P@5"]).to_frame()
    assert list(table["name"]) == ["base", "other"]
    assert list(table.columns[:3]) == ["name", "ndcg@10", "p@5"]
    assert table.loc[1, "p@5 p-value"] == compare({"base": RUN, "other": other}, QRELS, "base",
                                                  ["P@5"]).p_values["other"]["p@5"]
    assert table.loc[0, "ndcg@10 p-value"] != table.loc[0, "ndcg@10 p-value"]  # NaN for the baseline
    assert not table.loc[0, "ndcg@10 reject"] and table["ndcg@10 reject"].dtype == bool


@pytest.mark.parametrize(("name", "message"), [
    ("nope", r"^unknown measure 'nope'; a measure is any ir_measures name \(nDCG@10, P@5, .*'P\(rel=2\)@10'\), "
             r"trec_eval's \(ndcg_cut_10, P_5, recip_rank, map, .*\) or ours \(ndcg@10, mrr@10, map, "),
    ("P.5,10", r"^unknown measure 'P.5,10' \(trec_eval's 'P.5,10' is 2 measures\)"),
    ("official", r"trec_eval's name for a set of measures; name them one by one"),
    ("P", r"^measure 'P' needs its cutoff \(P@\.\.\.\)$"),
    ("Judged", r"^measure 'Judged' needs its cutoff"),
    ("P@0", r"^measure 'P@0': a cutoff and rel \(-l\) must be whole numbers of at least 1"),
    ("nDCG(gains={1:2.5})@10", r"gains whole numbers"),
    ("P(foo=1)@5", r"unsupported params found: \['foo'\]"),
    ("ERR@20", r"^measure 'ERR@20' \(ERR@20\) is not computed by pytrec_eval, which computes AP, Bpref, .*nDCG"),
    ("nDCG(dcg='exp-log2')@10", r"which computes nDCG only as nDCG\(dcg='log2'"),
])
def test_a_name_nobody_knows_or_pytrec_eval_cannot_compute_is_one_clear_error(name, message):
    with pytest.raises(PipelineError, match=message) as error:
        measure_name(name)
    assert "\n" not in str(error.value)


def test_evaluate_cli_with_new_names_and_a_bad_one(tmp_path):
    qrels, run = tmp_path / "qrels.txt", tmp_path / "run.trec"
    qrels.write_text("".join(f"{q} 0 {d} {g}\n" for q, docs in QRELS.items() for d, g in docs.items()))
    run.write_text("".join(f"{q} Q0 {d} {i} {s} t\n" for q, docs in RUN.items()
                           for i, (d, s) in enumerate(rank(docs), 1)))
    out = tmp_path / "e.json"
    proc = run_cli("pipeline.evaluate", "--qrels", str(qrels), "--run", str(run), "--output", str(out),
                   "-m", "P@5", "P(rel=2)@10", "ndcg_cut_10")
    assert proc.returncode == 0, proc.stderr
    ndcg10 = BY_HAND["ndcg@5"] / 2  # q1's five documents are its whole top 10
    assert proc.stdout.splitlines()[:3] == ["p@5          0.2000", "P(rel=2)@10  0.0500", f"ndcg@10      {ndcg10:.4f}"]
    assert json.loads(out.read_text())["measures"] == ["p@5", "P(rel=2)@10", "ndcg@10"]
    bad = run_cli("pipeline.evaluate", "--qrels", str(qrels), "--run", str(run), "-m", "P@5", "nope")
    assert one_line_error(bad).startswith("error: unknown measure 'nope'; a measure is any ir_measures name")


@pytest.mark.parametrize("module", ["pipeline.evaluate", "pipeline.diff", "pipeline.compare"])
def test_help_says_any_ir_measures_name_is_accepted(module, capsys):
    import importlib

    with pytest.raises(SystemExit):
        importlib.import_module(module).main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "any ir_measures name (nDCG@10, P@5, RR@100," in text and "'P(rel=2)@10'" in text
    assert "trec_eval's (ndcg_cut_10, P_5, recip_rank, map" in text
