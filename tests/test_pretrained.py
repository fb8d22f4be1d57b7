"""The packaged pretrained weights: all-mpnet-base-v2 joined from split zip parts (a tiny fake one
made here), checked by hash, unpacked once; MPNet rankers train and score; bf16 training on CPUs."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from pipeline.common.errors import PipelineError
from pipeline.common.pretrained import assemble, installed_parts, packaged
from pipeline.rerank.crossencoder import CrossEncoder
from pipeline.training.initialise import load_ranker
from pipeline.training.teacher_scores import biencoder_scores
from pipeline.training.trainer import LossConfig, Schedule, resolve_precision, train

from .test_training import _groups, _loss


def _split_zip(tmp_path: Path, files: dict[str, bytes], parts: int = 3) -> tuple[list[Path], str]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    whole = buffer.getvalue()
    size = len(whole) // parts + 1
    paths = []
    for i in range(parts):
        path = tmp_path / f"model.zip.{i + 1:03d}"
        path.write_bytes(whole[i * size:(i + 1) * size])
        paths.append(path)
    return paths, hashlib.sha256(whole).hexdigest()


def test_split_zip_is_joined_checked_and_unpacked_without_litter(tmp_path):
    files = {"m/config.json": b'{"model_type": "mpnet"}', "m/desktop.ini": b"[.ShellClassInfo]",
             "m/1_Pooling/config.json": b"{}", "m/1_Pooling/desktop.ini": b"x", "m/model.safetensors": bytes(5000)}
    parts, sha = _split_zip(tmp_path, files)
    target = tmp_path / "out" / "mpnet"
    assert assemble(parts, target, sha) == target
    got = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert got == ["1_Pooling/config.json", "config.json", "model.safetensors"]
    assert (target / "model.safetensors").read_bytes() == bytes(5000)
    assert not list(target.parent.glob(".mpnet.*")) and not (target.parent / "mpnet.lock").exists()
    parts[0].write_bytes(b"changed")  # a second call reuses what is there; it does not rejoin
    assert assemble(parts, target, sha) == target


def test_parts_out_of_order_or_corrupted_are_refused_by_the_hash(tmp_path):
    parts, sha = _split_zip(tmp_path, {"m/config.json": b"{}", "m/w": bytes(3000)})
    with pytest.raises(PipelineError, match="sha256"):
        assemble([parts[1], parts[0], parts[2]], tmp_path / "a", sha)
    assert not (tmp_path / "a").exists()


def test_a_missing_wheel_names_the_install_command():
    with pytest.raises(PipelineError, match="make mpnet"):
        installed_parts(["no-such-wheel-part-001"])


def test_packaged_names_and_paths():
    assert packaged("minilm").is_dir() and (packaged("minilm") / "config.json").is_file()
    assert packaged("some/dir") == Path("some/dir")


def test_an_mpnet_ranker_trains_on_soft_labels_and_scores(tiny_mpnet, tmp_path):
    groups = _groups()
    scores = biencoder_scores(tiny_mpnet, groups, scale=20.0)
    assert len(scores) == len(groups) and all(len(s) == 4 and all(-20 <= x <= 20 for x in s) for s in scores)
    model = load_ranker(tiny_mpnet)
    tokenizer = AutoTokenizer.from_pretrained(tiny_mpnet)
    loss = LossConfig(score_loss="kl")
    summary = train(model, tokenizer, tmp_path / "out", loss,
                    Schedule(max_steps=3, batch_groups=8, lr=1e-2, warmup=0.0, max_length=64, logging_steps=1),
                    groups=groups, teacher_scores=scores)
    assert summary["steps"] == 3
    assert all("loss_score" in h and "loss_label" in h for h in
               json.loads((tmp_path / "out" / "pipeline-training.json").read_text())["log"])
    ranker = CrossEncoder(tmp_path / "out")
    got = ranker.score([groups[0].query] * 2, groups[0].texts[:2])
    assert got.shape == (2,) and np.isfinite(got).all()


def test_bf16_training_on_the_cpu_lowers_the_loss_and_is_recorded(tiny_bert, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert)
    groups = _groups()
    before = _loss(model, tokenizer, groups)
    summary = train(model, tokenizer, tmp_path / "out", LossConfig(),
                    Schedule(max_steps=3, batch_groups=8, lr=1e-2, warmup=0.0, max_length=64, logging_steps=1,
                             precision="bf16"), groups=groups)
    after = _loss(AutoModelForSequenceClassification.from_pretrained(tmp_path / "out"), tokenizer, groups)
    assert summary["precision"] == "bf16" and after < before
    saved = json.loads((tmp_path / "out" / "pipeline-training.json").read_text())
    assert saved["schedule"]["precision"] == "bf16" and saved["result"]["precision"] == "bf16"
    assert next(AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").parameters()).dtype \
        == torch.float32  # autocast: the weights stay fp32


def test_auto_precision_follows_the_cpu(monkeypatch):
    import pipeline.training.trainer as training

    monkeypatch.setattr(training, "cpu_has_bf16", lambda: True)
    assert resolve_precision("auto", cuda=False) == "bf16"
    monkeypatch.setattr(training, "cpu_has_bf16", lambda: False)
    assert resolve_precision("auto", cuda=False) == "fp32"
    assert resolve_precision("fp32", cuda=False) == "fp32"
    with pytest.raises(PipelineError, match="unknown precision"):
        resolve_precision("fp8", cuda=False)




def test_a_minilm_family_student_learns_an_mpnet_teachers_scores(scifact_slice, slice_index, tiny_mpnet, tiny_bert,
                                                                 tmp_path):
    """A student of the LM's family, cut from the LM, trained on an MPNet teacher's scores (each model reading its
    own tokenization); lm+ranker's token-by-token layer losses refuse a teacher that tokenizes differently."""
    from .conftest import run_cli

    teacher = tmp_path / "mpnet-teacher"
    load_ranker(tiny_mpnet).save_pretrained(teacher)
    AutoTokenizer.from_pretrained(tiny_mpnet).save_pretrained(teacher)
    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "sci-slice").symlink_to(slice_index)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    common = ("--student", "1L", "--teacher", str(teacher), "--lm", str(tiny_bert), "--dataset", "sci-slice",
              "--split", "test", "--limit-groups", "8", "--negatives", "3", "--batch-groups", "4", "--max-steps",
              "2", "--max-length", "64")
    proc = run_cli("pipeline.distill", *common, "--procedure", "ranker", "--student-from", "lm", "--lr", "1e-2",
                   "--output", str(tmp_path / "student"), env=env)
    assert proc.returncode == 0, proc.stderr[-1500:]
    student = AutoModelForSequenceClassification.from_pretrained(tmp_path / "student")
    assert student.config.model_type == "bert" and student.config.num_hidden_layers == 1
    assert AutoTokenizer.from_pretrained(tmp_path / "student").get_vocab() == \
        AutoTokenizer.from_pretrained(tiny_bert).get_vocab()
    log = json.loads((tmp_path / "student" / "pipeline-training.json").read_text())["log"]
    assert all("loss_score" in h for h in log)
    refused = run_cli("pipeline.distill", *common, "--output", str(tmp_path / "x"), env=env)
    assert refused.returncode == 1
    assert "tokenizes differently from the student" in refused.stderr.strip().splitlines()[-1]
