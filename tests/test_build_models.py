"""The default model build: its plan, estimates and reuse of finished stages (the stages' commands
themselves are exercised by test_training.py)."""

import json

from .conftest import run_cli


def test_dry_run_prints_the_plan_and_reuses_finished_stages(tmp_path):
    done = tmp_path / "teacher"
    done.mkdir()
    (done / "config.json").write_text("{}")
    (done / "pipeline-training.json").write_text(json.dumps({"steps": 1}))
    half = tmp_path / ".build" / "teacher-stage1"
    half.mkdir(parents=True)
    (half / "config.json").write_text("{}")  # no training record: an unfinished stage
    proc = run_cli("pipeline.build_models", "--models", str(tmp_path), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert list(lines) == ["teacher-stage1", "teacher", "teacher-ensemble", "student4L", "student6L"]
    assert "done, reused" in lines["teacher"] and "done, reused" not in lines["teacher-stage1"]
    assert f"--init {half}" in lines["teacher"] and f"--member cross-encoder:{done}" in lines["teacher-ensemble"]
    assert f"--teacher {tmp_path / 'teacher-ensemble'}" in lines["student4L"]
    estimates = [int(line.split("~")[1].split()[0]) for name, line in lines.items() if name != "teacher"]
    total = int(proc.stdout.split("total to build: ~")[1].split()[0])
    assert abs(total - sum(estimates)) <= len(estimates)  # rounding of each stage
    assert not any(tmp_path.glob("student*"))  # a dry run builds nothing


def test_every_stage_parses_as_its_printed_command(tmp_path):
    """build() runs a stage from its own command line, parsed by the command's flags: the settings
    it trains with are those the printed command names."""
    import pytest

    from pipeline.common.errors import PipelineError
    from pipeline.training.ensemble_fit import EnsembleFit
    from pipeline.training.flags import parse_stage
    from pipeline.training.procedures import Distillation
    from pipeline.training.recipe import recipe
    from pipeline.training.teacher import TeacherTraining

    for stage in recipe(tmp_path, seed=5):
        settings, args = parse_stage(stage.module, stage.argv)
        if stage.module == "pipeline.distill":
            assert isinstance(settings, Distillation) and settings.destination == stage.output
            assert settings.layers == int(stage.name[len("student")])
            assert settings.teacher == tmp_path / "teacher-ensemble"
            assert stage.shipped and args.seed == 5 and args.negatives == 3
        elif isinstance(settings, EnsembleFit):
            assert settings.output == stage.output and settings.weights[0] == 1
            assert [m.kind for m in settings.members] == ["cross-encoder", "bi-encoder", "bi-encoder", "bm25"]
            assert settings.members[0].location == tmp_path / "teacher"
        else:
            assert isinstance(settings, TeacherTraining) and settings.output == stage.output
            assert args.seed == 5 and args.negatives == 3
    with pytest.raises(PipelineError, match="pipeline.distill or pipeline.train teacher"):
        parse_stage("pipeline.run", ["--dataset", "scifact"])


def test_given_weights_write_the_ensemble_without_a_fit(tmp_path):
    """``pipeline.train ensemble --weights`` (the build's teacher-ensemble stage) writes the members with
    those weights and scores nothing; a wrong count is a one-line error."""
    out = tmp_path / "ens"
    proc = run_cli("pipeline.train", "ensemble", "--member", "bi-encoder:minilm", "--member", "bm25",
                   "--weights", "1", "0.5", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    written = json.loads((out / "ensemble.json").read_text())
    assert [(m["kind"], m["weight"]) for m in written["members"]] == [("bi-encoder", 1.0), ("bm25", 0.5)]
    assert written["weights_given"] == [1.0, 0.5] and "dev" not in written
    bad = run_cli("pipeline.train", "ensemble", "--member", "bm25", "--weights", "1", "2", "--output", str(out))
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1].startswith("error: --weights: one per member")


def test_the_shared_training_scores_are_counted_once_by_the_first_student_built(tmp_path):
    """The students share the ensemble's scores of the training pairs: the first student to build pays
    for them. With student4L reused (as shipped) that is student6L, whose estimate then includes them."""
    from pipeline.training.recipe import TRAINING_SCORES_MINUTES, planned_minutes, recipe

    stages = {s.name: s for s in recipe(tmp_path)}
    both = planned_minutes([stages["student4L"], stages["student6L"]])
    assert both == [stages["student4L"].reference_minutes + TRAINING_SCORES_MINUTES,
                    stages["student6L"].reference_minutes]
    assert planned_minutes([stages["student6L"]]) == [stages["student6L"].reference_minutes + TRAINING_SCORES_MINUTES]
    assert planned_minutes([stages["teacher"]]) == [stages["teacher"].reference_minutes]
