"""pipeline.experiment distillation end to end, with tiny models on the SciFact slice."""

import json
import shutil

import pytest

from pipeline.collection.qrels import read_qrels
from pipeline.evaluation.measures import evaluate
from pipeline.runfiles.trec import read_run

from .conftest import run_cli


@pytest.fixture(scope="module")
def home(tmp_path_factory, scifact_slice, slice_index, tiny_bert):
    """A project home with the slice's index and three tiny models: teacher, student6L, student4L-finetune."""
    root = tmp_path_factory.mktemp("home")
    (root / "indexes").mkdir()
    (root / "indexes" / "sci-slice").symlink_to(slice_index)
    for name in ("teacher", "student6L", "student4L-finetune"):
        shutil.copytree(tiny_bert, root / "models" / name)
    # a student's training record names the procedure that made it, whatever its folder's name says
    (root / "models" / "student6L" / "pipeline-training.json").write_text(json.dumps({"procedure": "ranker"}))
    return root


def test_distillation_table_json_and_plot(home, scifact_slice):
    env = {"PIPELINE_HOME": str(home), "PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}
    args = ("pipeline.experiment", "distillation", "--datasets", "sci-slice:test", "--depth", "5",
            "--speed-pairs", "40", "--rounds", "2")
    proc = run_cli(*args, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((home / "eval" / "distillation.json").read_text())
    assert [r["model"] for r in rows] == ["bm25", "teacher", "student6L", "student4L-finetune"]
    keys = {"model", "procedure", "layers", "hidden", "dataset", "split", "ndcg@10", "mrr@10", "map", "pairs_per_s",
            "speedup_vs_teacher", "p_vs_teacher", "p_vs_bm25"}
    assert all(keys <= set(r) for r in rows)
    qrels = read_qrels(scifact_slice / "test.tsv")
    runs = sorted((home / "runs" / "experiment").glob("*.trec"))
    assert len(runs) == 4
    by_model = {r["model"]: r for r in rows}
    for path in runs:
        model = next(m for m in by_model if f".{m}." in path.name)
        assert by_model[model]["ndcg@10"] == evaluate(read_run(path), qrels).aggregate["ndcg@10"]
    assert by_model["teacher"]["speedup_vs_teacher"] == 1.0 and by_model["teacher"]["p_vs_teacher"] is None
    assert by_model["student6L"]["p_vs_teacher"] == 1.0  # the same weights rerank identically
    assert 0 <= by_model["student4L-finetune"]["p_vs_bm25"] <= 1 and by_model["bm25"]["pairs_per_s"] is None
    assert by_model["teacher"]["procedure"] == "teacher" and by_model["student4L-finetune"]["layers"] == 2
    assert by_model["student6L"]["procedure"] == "ranker" and by_model["student4L-finetune"]["procedure"] == "finetune"
    md = (home / "eval" / "distillation.md").read_text()
    assert "| student4L-finetune | finetune | 2 | 32 |" in md
    assert "student4L: python -m pipeline.distill --student 4L --procedure lm+ranker" in md
    assert (home / "eval" / "distillation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a second run reuses every run file instead of reranking again
    stamps = {p: p.stat().st_mtime_ns for p in runs}
    assert run_cli(*args, env=env, timeout=600).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in runs} == stamps
    assert {r["depth"] for r in rows} == {5} and len({r["measured"] for r in rows}) == 1

    # a model that is no longer here keeps its row, marked as carried over from the earlier run
    before = json.loads((home / "eval" / "distillation.json").read_text())
    shutil.rmtree(home / "models" / "student4L-finetune")
    assert run_cli(*args, env=env, timeout=600).returncode == 0
    again = json.loads((home / "eval" / "distillation.json").read_text())
    assert [r["model"] for r in again] == ["bm25", "teacher", "student6L", "student4L-finetune"]
    assert again[3] == {**before[3], "carried": True}
    assert not any(r.get("carried") for r in again[:3])
    md = (home / "eval" / "distillation.md").read_text()
    assert "| student4L-finetune † | finetune | 2 | 32 |" in md and "student4L-finetune: python" not in md

    # ... but not when the earlier run's teacher differs from this run's
    for r in again:
        if r["model"] == "teacher":
            r["ndcg@10"] += 0.01
    (home / "eval" / "distillation.json").write_text(json.dumps(again))
    proc = run_cli(*args, env=env, timeout=600)
    assert proc.returncode == 0 and "not carrying earlier rows of sci-slice:test" in proc.stderr
    rows = json.loads((home / "eval" / "distillation.json").read_text())
    assert [r["model"] for r in rows] == ["bm25", "teacher", "student6L"]


def test_no_teacher_is_a_one_line_error(tmp_path):
    proc = run_cli("pipeline.experiment", "distillation", env={"PIPELINE_HOME": str(tmp_path)})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "build it with `python -m pipeline.train teacher`" in proc.stderr.strip().splitlines()[-1]


def test_an_ensemble_teacher_with_a_reference_row(scifact_slice, slice_index, tiny_bert, tiny_mpnet, tmp_path):
    """``--teacher ENSEMBLE``: the ensemble is the teacher row, timed with every member computed afresh;
    ``--reference bi-encoder:DIR`` adds that bi-encoder reranking alone, tested against the teacher.
    A second run reranks nothing again."""
    from pipeline.rerank.ensemble import Member, write_ensemble

    home = tmp_path / "home"  # its own: the module's home loses a student in the test above
    (home / "indexes").mkdir(parents=True)
    (home / "indexes" / "sci-slice").symlink_to(slice_index)
    for name in ("student6L", "student4L-finetune"):
        shutil.copytree(tiny_bert, home / "models" / name)
    ens = tmp_path / "ens"
    write_ensemble(ens, [Member("cross-encoder", str(tiny_bert)), Member("bi-encoder", str(tiny_mpnet), 0.5),
                         Member("bm25", "bm25", 0.1)])
    env = {"PIPELINE_HOME": str(home), "PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}
    args = ("pipeline.experiment", "distillation", "--datasets", "sci-slice:test", "--depth", "5", "--speed-pairs",
            "20", "--rounds", "1", "--teacher", str(ens), "--reference", f"bi-encoder:{tiny_mpnet}",
            "--output-dir", str(tmp_path / "eval"), "--runs-dir", str(tmp_path / "runs"))
    proc = run_cli(*args, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads((tmp_path / "eval" / "distillation.json").read_text())
    ref = f"bi-encoder-{tiny_mpnet.name}"
    assert [r["model"] for r in rows] == ["bm25", "teacher", ref, "student6L", "student4L-finetune"]
    by_model = {r["model"]: r for r in rows}
    assert by_model["teacher"]["procedure"] == "ensemble" and by_model["teacher"]["speedup_vs_teacher"] == 1.0
    assert by_model[ref]["procedure"] == "reference" and by_model[ref]["layers"] == 2
    assert 0 <= by_model[ref]["p_vs_teacher"] <= 1 and all(r["pairs_per_s"] > 0 for r in rows[1:])
    qrels = read_qrels(scifact_slice / "test.tsv")
    runs = sorted((tmp_path / "runs").glob("*.trec"))
    for model in ("teacher", ref):
        path = next(p for p in runs if f".{model}." in p.name)
        assert by_model[model]["ndcg@10"] == evaluate(read_run(path), qrels).aggregate["ndcg@10"]
    stamps = {p: p.stat().st_mtime_ns for p in runs}
    assert run_cli(*args, env=env, timeout=900).returncode == 0
    assert {p: p.stat().st_mtime_ns for p in sorted((tmp_path / "runs").glob("*.trec"))} == stamps


def test_build_commands_name_the_tables_teacher_and_models_folder(tiny_bert, tmp_path):
    """A missing student's printed command, run as printed, must make the student this table looks for:
    distilled from the table's teacher (not distill's default models/teacher) into the table's folder."""
    from pipeline.experiments.distillation import entries
    from pipeline.rerank.ensemble import Member, write_ensemble

    ens, models = tmp_path / "ens", tmp_path / "procedures"
    write_ensemble(ens, [Member("cross-encoder", str(tiny_bert)), Member("bm25", "bm25")])
    _, missing = entries(models, teacher=ens)
    assert missing["student4L"] == (f"python -m pipeline.distill --student 4L --procedure lm+ranker --teacher {ens} "
                                    f"--output {models / 'student4L'}")
    ranker = models / "student6L-ranker"
    assert missing["student6L-ranker"].endswith(f"--procedure ranker --teacher {ens} --output {ranker}")
    assert missing["student4L-finetune"] == (f"python -m pipeline.distill --student 4L --procedure finetune "
                                             f"--output {models / 'student4L-finetune'}")  # no teacher to name


def test_an_ensembles_fingerprint_follows_its_members_weights(tiny_bert, tmp_path):
    """A rebuilt member (new weights, same ensemble.json) must not reuse the ensemble's old runs."""
    import os

    from pipeline.experiments.distillation import fingerprint
    from pipeline.rerank.ensemble import Member, write_ensemble

    member = shutil.copytree(tiny_bert, tmp_path / "ce")
    write_ensemble(tmp_path / "ens", [Member("cross-encoder", str(member)), Member("bm25", "bm25")])
    before = fingerprint(tmp_path / "ens")
    assert fingerprint(tmp_path / "ens") == before
    os.utime(member / "model.safetensors", ns=(1, 1))
    assert fingerprint(tmp_path / "ens") != before
