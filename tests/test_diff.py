"""pipeline.diff and pipeline.compare on real runs, checked against trec_eval's per-query output and scipy."""

import csv
import io
import os
import re
import shutil
import subprocess

import pytest
from scipy.stats import ttest_rel

from pipeline.collection.qrels import read_qrels
from pipeline.evaluation.comparison import compare
from pipeline.evaluation.diff import diff_runs
from pipeline.evaluation.significance import correct
from pipeline.runfiles.trec import read_run

from .conftest import run_cli, trec_eval


@pytest.fixture(scope="module")
def trec_qrels(scifact_slice, tmp_path_factory):
    """The slice's qrels in TREC format, for trec_eval."""
    qrels = read_qrels(scifact_slice / "test.tsv")
    path = tmp_path_factory.mktemp("qrels") / "qrels.txt"
    path.write_text("".join(f"{q} 0 {d} {g}\n" for q, docs in qrels.items() for d, g in docs.items()))
    return path


def per_query(qrels, run, measure="ndcg_cut.10"):
    out = trec_eval("-q", "-c", "-m", measure, str(qrels), str(run))
    return {q: float(v) for q, v in re.findall(r"^\S+\s+(\S+)\s+([0-9.]+)$", out, re.M) if q != "all"}


def test_diff_numbers_equal_trec_eval_and_scipy(slice_runs, trec_qrels):
    a_path, b_path = slice_runs["bm25"], slice_runs["bm25b"]
    diff = diff_runs(read_run(a_path), read_run(b_path), read_qrels(trec_qrels), "ndcg_cut_10")
    te_a, te_b = per_query(trec_qrels, a_path), per_query(trec_qrels, b_path)
    assert len(diff.queries) == len(te_a) == 40
    for q in diff.queries:
        assert round(q.a, 4) == te_a[q.qid] and round(q.b, 4) == te_b[q.qid]
    qids = sorted(te_a)
    deltas = [te_b[q] - te_a[q] for q in qids]
    wins, ties, losses = diff.counts()
    assert (wins, losses) == (sum(d > 0 for d in deltas), sum(d < 0 for d in deltas)) and wins + losses > 0
    assert ties == 40 - wins - losses
    assert diff.p_t_test == pytest.approx(ttest_rel([te_b[q] for q in qids], [te_a[q] for q in qids]).pvalue,
                                          rel=1e-2)
    deltas_sorted = [abs(q.delta) for q in diff.queries]
    assert deltas_sorted == sorted(deltas_sorted, reverse=True)
    # overlap@10 from the files themselves: both are written in rank order
    tops = {}
    for name, path in (("a", a_path), ("b", b_path)):
        for line in path.read_text().splitlines():
            q, _, d, r, _, _ = line.split()
            if int(r) <= 10:
                tops.setdefault((name, q), set()).add(d)
    for q in diff.queries:
        assert q.overlap == len(tops["a", q.qid] & tops["b", q.qid]) / 10
        assert 0 <= q.rbo <= 1
    mover = diff.movers(1)[0]
    for docid, grade, rank_a, _ in diff.relevant_moves(mover.qid):
        assert grade > 0 and (rank_a is None or diff.ranking("a", mover.qid)[rank_a - 1] == docid)


def test_compare_numbers_equal_trec_eval_and_scipy_with_holm(slice_runs, trec_qrels, tmp_path):
    from pipeline.candidates.fusion import rrf

    runs = {name: read_run(path) for name, path in slice_runs.items()}
    runs["rrf"] = rrf(list(runs.values()))
    table = compare(runs, read_qrels(trec_qrels), "bm25", ["ndcg_cut_10", "map"])
    te = {name: per_query(trec_qrels, path) for name, path in slice_runs.items()}
    all_line = trec_eval("-c", "-m", "ndcg_cut.10", str(trec_qrels), str(slice_runs["bm25b"]))
    assert f"{table.means['bm25b']['ndcg@10']:.4f}" == re.search(r"all\s+([0-9.]+)", all_line).group(1)
    qids = sorted(te["bm25"])
    assert table.p_values["bm25b"]["ndcg@10"] == pytest.approx(
        ttest_rel([te["bm25b"][q] for q in qids], [te["bm25"][q] for q in qids]).pvalue, rel=1e-2)
    raw = [table.p_values[n]["map"] for n in ("bm25b", "rrf")]
    assert [table.p_adjusted[n]["map"] for n in ("bm25b", "rrf")] == pytest.approx(correct(raw, "holm"))
    assert table.p_values["bm25"]["map"] is None
    rows = list(csv.DictReader(io.StringIO(table.to_csv())))
    assert len(rows) == 6 and {r["run"] for r in rows} == {"bm25", "bm25b", "rrf"}
    for r in rows:
        assert float(r["value"]) == table.means[r["run"]][r["measure"]]
        assert r["significant"] == str(int(r["p_adjusted"] != "" and float(r["p_adjusted"]) < 0.05))
    md = table.to_markdown()
    assert md.count("\n| ") == 3 and "| bm25 (baseline) |" in md and "Holm-corrected" in md
    tex = table.to_latex()
    assert tex.startswith("\\begin{tabular}{lrr}") and tex.count("\\\\") == 4


def chromium_flags(profile):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("PIPELINE_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed (PIPELINE_REQUIRE_BROWSER is set)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}"]


def test_diff_cli_and_its_html_page_renders_in_headless_chromium(slice_runs, trec_qrels, slice_index, tmp_path):
    from PIL import Image

    page = tmp_path / "diff.html"
    proc = run_cli("pipeline.diff", str(slice_runs["bm25"]), str(slice_runs["bm25b"]), "--qrels", str(trec_qrels),
                   "-m", "ndcg_cut_10", "--html", str(page), "--index", str(slice_index), "--top", "7")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"B vs A: \d+ wins, \d+ ties, \d+ losses", proc.stdout)
    assert "paired t-test p = " in proc.stdout and "randomization test p = " in proc.stdout
    assert len(re.findall(r"^\S+\s+[01]\.\d{4}\s+[01]\.\d{4}\s+[+-]\d\.\d{4}", proc.stdout, re.M)) == 7
    html = page.read_text()
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", html)  # nothing from the network
    flags = chromium_flags(tmp_path / "profile")
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count('class="query-row"') == 40  # one row per query
    assert 'data-sortable="yes"' in dom  # the page's script ran
    changed = sum(a != b for a, b in zip(per_query(trec_qrels, slice_runs["bm25"]).values(),
                                         per_query(trec_qrels, slice_runs["bm25b"]).values(), strict=True))
    assert dom.count('class="mover"') == min(10, changed) > 0 and 'class="doc rel"' in dom and 'class="snippet"' in dom
    shot = tmp_path / "diff.png"
    subprocess.run([*flags, "--window-size=1200,1400", f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120, check=True)
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 1400)
    dark = sum(image.histogram()[:128]) / (1200 * 1400)
    assert 0.005 < dark < 0.5  # text was drawn, and not a blank or black page


def test_compare_cli_writes_the_format_its_extension_names(slice_runs, trec_qrels, tmp_path):
    out = tmp_path / "table.tex"
    proc = run_cli("pipeline.compare", str(slice_runs["bm25b"]), "--baseline", str(slice_runs["bm25"]),
                   "--qrels", str(trec_qrels), "--output", str(out), "--correction", "bonferroni")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("\\begin{tabular}") and "Bonferroni" in out.read_text()
    proc = run_cli("pipeline.compare", str(slice_runs["bm25b"]), "--baseline", str(slice_runs["bm25"]),
                   "--qrels", str(trec_qrels), "--format", "csv", "--test", "randomization")
    assert proc.returncode == 0 and proc.stdout.startswith("run,measure,value,p_value")


def write_run_lines(path, run):
    """A TREC run file, ``{qid: [docid, ...]}`` best first."""
    path.write_text("".join(f"{q} Q0 {d} {i} {100 - i} t\n" for q, docs in run.items()
                            for i, d in enumerate(docs, start=1)))
    return path


def test_diff_cli_overlap_of_identical_short_lists_is_one(tmp_path):
    run = write_run_lines(tmp_path / "a.trec", {"q1": ["d1", "d2", "d3"], "q2": ["d4", "d5"]})
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d2 1\nq2 0 d4 1\n")
    proc = run_cli("pipeline.diff", str(run), str(run), "--qrels", str(qrels), "--trials", "100")
    assert proc.returncode == 0, proc.stderr
    assert "overlap@10 1.0000; RBO (p=0.9) 1.0000" in proc.stdout
    assert re.findall(r"^q\d\s.*\s(\S+)\s+(\S+)$", proc.stdout, re.M) == [("1.00", "1.000")] * 2


def test_diff_cli_shows_at_most_ten_relevant_documents_per_mover(tmp_path):
    relevant = [f"r{i:02d}" for i in range(75)]
    a = write_run_lines(tmp_path / "a.trec", {"q1": [f"n{i}" for i in range(10)] + relevant, "q2": ["x"]})
    b = write_run_lines(tmp_path / "b.trec", {"q1": relevant, "q2": ["x"]})
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("".join(f"q1 0 {d} 1\n" for d in relevant) + "q2 0 x 1\n")
    proc = run_cli("pipeline.diff", str(a), str(b), "--qrels", str(qrels), "--trials", "100")
    assert proc.returncode == 0, proc.stderr
    mover = next(line for line in proc.stdout.splitlines() if line.startswith("q1 ("))
    shown = ", ".join(f"r{i:02d} (grade 1) {i + 11} -> {i + 1}" for i in range(10))
    assert mover == f"q1 (+1.0000): {shown}, ... and 65 more"
