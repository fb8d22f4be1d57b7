"""Training with the Hugging Face Trainer on a tiny BERT: the loss goes down, --resume continues."""

import json
import os
import random
import shutil
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainerCallback

from pipeline.collection.datasets import DATA
from pipeline.training.examples import Group
from pipeline.training.trainer import DistillationModel, LossConfig, Schedule, _Collator, train

from .conftest import run_cli


def _groups() -> list[Group]:
    lines = [json.loads(line) for line in (DATA / "scifact" / "corpus.jsonl").open().readlines()[:40]]
    texts = [f"{r['title']} {r['text']}" for r in lines]
    return [Group(str(i), lines[i]["title"], [str(i), "x", "y", "z"],
                  [texts[i], texts[(i + 7) % 40], texts[(i + 13) % 40], texts[(i + 21) % 40]]) for i in range(8)]


def _loss(model, tokenizer, groups) -> float:
    batch = _Collator(tokenizer, 64)([{"group": g} for g in groups])
    with torch.no_grad():
        return DistillationModel(model.eval(), LossConfig())(**batch)["loss"].item()


def test_two_training_steps_lower_the_loss(tiny_bert, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert)
    groups = _groups()
    before = _loss(model, tokenizer, groups)
    summary = train(model, tokenizer, tmp_path / "out", LossConfig(),
                    Schedule(max_steps=2, batch_groups=8, lr=1e-2, warmup=0.0, max_length=64, logging_steps=1),
                    groups=groups)
    after = _loss(AutoModelForSequenceClassification.from_pretrained(tmp_path / "out"), tokenizer, groups)
    assert summary["steps"] == 2 and after < before
    saved = json.loads((tmp_path / "out" / "pipeline-training.json").read_text())
    assert saved["loss"]["label_loss"] == "softmax-ce" and saved["schedule"]["max_steps"] == 2
    assert len(saved["log"]) == 2  # each step's loss, and its one term (label only, weight 1) equal to it
    assert all(abs(h["loss_label"] - h["loss"]) < 1e-4 and "loss_score" not in h for h in saved["log"])
    assert AutoTokenizer.from_pretrained(tmp_path / "out").model_max_length == 64


def test_resume_continues_from_the_checkpoint_to_the_same_weights(tiny_bert, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    groups = _groups()
    sched = dict(batch_groups=2, lr=1e-3, warmup=0.0, max_length=64, save_steps=2)

    def fresh():
        return AutoModelForSequenceClassification.from_pretrained(tiny_bert)

    class CrashAfterTwoSteps(TrainerCallback):  # as if the process died right after checkpoint-2
        def on_save(self, args, state, control, **kwargs):
            control.should_training_stop = state.global_step >= 2

    train(fresh(), tokenizer, tmp_path / "straight", LossConfig(), Schedule(max_steps=4, **sched), groups=groups)
    train(fresh(), tokenizer, tmp_path / "resumed", LossConfig(), Schedule(max_steps=4, **sched), groups=groups,
          callbacks=[CrashAfterTwoSteps()])
    assert (tmp_path / "resumed" / "checkpoints" / "checkpoint-2").is_dir()
    summary = train(fresh(), tokenizer, tmp_path / "resumed", LossConfig(), Schedule(max_steps=4, **sched),
                    groups=groups, resume=True)
    assert summary["steps"] == 4
    a = AutoModelForSequenceClassification.from_pretrained(tmp_path / "straight").state_dict()
    b = AutoModelForSequenceClassification.from_pretrained(tmp_path / "resumed").state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    c = fresh().state_dict()
    assert not all(torch.allclose(a[k], c[k]) for k in a)


def test_distill_without_a_teacher_names_the_command(tmp_path):
    proc = run_cli("pipeline.distill", "--student", "4L", "--teacher", str(tmp_path / "none"))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: no teacher at {tmp_path / 'none'}; build it with `python -m pipeline.train teacher`")


def test_distill_init_starts_a_further_stage_from_the_given_student(scifact_slice, slice_index, tiny_bert, tmp_path):
    from safetensors.torch import load_file

    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "sci-slice").symlink_to(slice_index)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    common = ("--student", "1L", "--teacher", str(tiny_bert), "--dataset", "sci-slice", "--split", "test",
              "--limit-groups", "8", "--negatives", "3", "--batch-groups", "4", "--max-steps", "1",
              "--max-length", "64")
    first = run_cli("pipeline.distill", *common, "--procedure", "ranker", "--lr", "1e-2",
                    "--output", str(tmp_path / "stage1"), env=env)
    assert first.returncode == 0, first.stderr[-1500:]
    # lr 0: the second stage's weights must be exactly those it started from
    second = run_cli("pipeline.distill", *common, "--init", str(tmp_path / "stage1"), "--lr", "0",
                     "--output", str(tmp_path / "stage2"), env=env)
    assert second.returncode == 0, second.stderr[-1500:]
    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("stage1", "stage2"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    saved = json.loads((tmp_path / "stage2" / "pipeline-training.json").read_text())
    assert saved["init"] == str(tmp_path / "stage1") and saved["procedure"] == "lm+ranker"
    wrong = run_cli("pipeline.distill", *common, "--init", str(tiny_bert), "--output", str(tmp_path / "x"), env=env)
    assert wrong.returncode == 1
    assert wrong.stderr.strip().splitlines()[-1] == f"error: --init {tiny_bert} has 2 layers, not the student's 1"


def test_length_grouped_batches_cover_every_example_once_and_are_seeded_per_epoch():
    from pipeline.training.trainer import LengthGroupedSampler

    rng = random.Random(0)
    lengths = [rng.choice([rng.randint(20, 60), rng.randint(200, 256)]) for _ in range(1000)]
    sampler = LengthGroupedSampler(lengths, batch_size=8, seed=42)
    first = list(sampler)
    assert sorted(first) == list(range(1000))
    assert first == list(sampler)  # same epoch, same order (what a resumed run replays)
    sampler.set_epoch(1)
    assert sorted(list(sampler)) == list(range(1000)) and list(sampler) != first

    def spread(order):
        return sum(max(lengths[i] for i in order[k:k + 8]) - min(lengths[i] for i in order[k:k + 8])
                   for k in range(0, 1000, 8))

    shuffled = list(range(1000))
    rng.shuffle(shuffled)
    assert spread(first) < spread(shuffled) / 5  # batches are of similar lengths
    short = [k for k in range(0, 1000, 8) if max(lengths[i] for i in first[k:k + 8]) <= 60]
    assert short and short != list(range(0, 8 * len(short), 8))  # short batches are spread over the epoch


@pytest.fixture(scope="module")
def tiny_lm(tiny_bert, tmp_path_factory) -> Path:
    """A tiny pretrained LM without a ranking head, like the packaged MiniLM: training gives it a fresh one."""
    from transformers import BertModel

    out = tmp_path_factory.mktemp("tiny-lm")
    BertModel.from_pretrained(tiny_bert).save_pretrained(out)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_bert / name, out / name)
    return out


def test_training_from_an_lm_without_a_head_is_deterministic_for_a_seed(scifact_slice, slice_index, tiny_lm,
                                                                         tmp_path):
    from safetensors.torch import load_file

    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "sci-slice").symlink_to(slice_index)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    common = ("--dataset", "sci-slice", "--split", "test", "--limit-groups", "8", "--negatives", "3",
              "--batch-groups", "4", "--max-steps", "1", "--max-length", "64", "--lr", "1e-2")

    def weights(module: str, *args: str, out: str) -> dict:
        proc = run_cli(module, *args, *common, "--output", str(tmp_path / out), env=env)
        assert proc.returncode == 0, proc.stderr[-1500:]
        return load_file(tmp_path / out / "model.safetensors")

    def same(a: dict, b: dict) -> bool:
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    teacher = ("teacher", "--layers", "2", "--init", str(tiny_lm))
    a, b = weights("pipeline.train", *teacher, out="a"), weights("pipeline.train", *teacher, out="b")
    assert same(a, b)  # the fresh head comes from the seed, not from the process
    assert not same(a, weights("pipeline.train", *teacher, "--seed", "7", out="c"))
    # at the LM's own shape LM distillation is the identity, so lm-then-finetune is finetune
    student = ("--student", "2L", "--lm", str(tiny_lm))
    assert same(weights("pipeline.distill", *student, "--procedure", "finetune", out="ft"),
                weights("pipeline.distill", *student, "--procedure", "lm-then-finetune", out="lmft"))


def test_distil_from_python_trains_the_model_the_command_trains(scifact_slice, slice_index, tiny_lm, tmp_path):
    """The Python API (pipeline.distil with Distillation, TrainingData and Schedule) and
    ``python -m pipeline.distill`` are one path: equal settings give equal weights."""
    import subprocess
    import sys

    from safetensors.torch import load_file

    from .conftest import ROOT

    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "sci-slice").symlink_to(slice_index)
    env = {**os.environ, "PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    cli = run_cli("pipeline.distill", "--student", "2L", "--lm", str(tiny_lm), "--procedure", "finetune",
                  "--dataset", "sci-slice", "--split", "test", "--limit-groups", "8", "--negatives", "3",
                  "--batch-groups", "4", "--max-steps", "1", "--max-length", "64", "--lr", "1e-2",
                  "--output", str(tmp_path / "cli"), env=env)
    assert cli.returncode == 0, cli.stderr[-1500:]
    code = f"""
from pathlib import Path
from pipeline import Distillation, Schedule, TrainingData, distil
student = Distillation(layers=2, procedure="finetune", lm=Path({str(tiny_lm)!r}),
                       output=Path({str(tmp_path / "api")!r}))
summary = distil(student,
                 TrainingData(datasets=("sci-slice",), split="test", negatives=3, limit_groups=8),
                 Schedule(max_steps=1, batch_groups=4, max_length=64, lr=1e-2, save_steps=200))
print("steps", summary["steps"], summary["groups"])
"""
    api = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert api.returncode == 0, api.stderr[-1500:]
    assert "steps 1 8" in api.stdout
    a, b = (load_file(tmp_path / d / "model.safetensors") for d in ("cli", "api"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    recorded = json.loads((tmp_path / "cli" / "pipeline-training.json").read_text())["data"]
    assert recorded["datasets"] == ["sci-slice"] and recorded["limit_groups"] == 8 and recorded["negatives"] == 3
