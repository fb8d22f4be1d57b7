"""kill -9 at a random point of pipeline.index and of a BM25 pipeline.run; the same command again
finishes the job, with a byte-identical run and nothing half-written under a final name."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from functools import partial

from pipeline.collection.datasets import ROOT
from pipeline.indexing.lucene import read_manifest

from .conftest import run_cli


def kill_after(args, env, seconds, started=None):
    """Start ``python -m args`` and SIGKILL it ``seconds`` after ``started()`` turns true (at once
    when not given), if it is still running."""
    proc = subprocess.Popen([sys.executable, "-m", *args], env={**os.environ, **env}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while started is not None and proc.poll() is None and not started():
        time.sleep(0.01)
    deadline = time.time() + seconds
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return killed


def test_killed_index_build_is_finished_by_the_same_command(scifact_slice, tmp_path):
    index = tmp_path / "idx"
    args = ("pipeline.index", "--collection", str(scifact_slice / "corpus.jsonl"), "--format", "beir",
            "--index", str(index))
    rng = random.Random(os.getpid())
    for _ in range(2):  # killed while converting or while Lucene writes the index, twice
        assert kill_after(args, {}, rng.uniform(0.0, 1.0), lambda: any(tmp_path.glob(".idx.building-*"))), \
            "the build finished before it could be killed"
        assert read_manifest(index) is None  # never a half-built index under the final name
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert read_manifest(index)["documents"] > 1000
    assert not list(tmp_path.glob(".idx.*")) and not (tmp_path / "idx.lock").exists()  # no leftovers


def test_killed_bm25_run_reruns_to_a_byte_identical_file(scifact_slice, slice_index, tmp_path):
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}
    whole, again = tmp_path / "whole.trec", tmp_path / "again.trec"

    def args(out):
        return ("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--output", str(out),
                "--depth", "100", "--no-progress")
    assert run_cli(*args(whole), env=env).returncode == 0
    for path in tmp_path.glob("runs/.cache/*"):  # the BM25 cache too, so the killed run searches
        path.unlink()
    killed = kill_after(args(again), env, random.Random(os.getpid()).uniform(2.0, 12.0))
    assert not again.exists() or not killed or again.read_bytes() == whole.read_bytes()
    res = run_cli(*args(again), env=env)
    assert res.returncode == 0, res.stderr
    assert again.read_bytes() == whole.read_bytes()
    assert not [p for p in tmp_path.rglob("*.tmp")]  # no temporary file survives under any name


def saved_step_4(out):
    """Whether training into ``out`` has finished saving a checkpoint of step 4 or later."""
    return any(int(p.parent.name.split("-")[1]) >= 4 for p in out.glob("checkpoints/checkpoint-*/trainer_state.json"))


def test_killed_training_resumes_to_the_same_weights(scifact_slice, slice_index, tiny_bert, tmp_path):
    import torch
    from safetensors.torch import load_file

    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "sci-slice").symlink_to(slice_index)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}

    def args(out):
        return ("pipeline.train", "teacher", "--dataset", "sci-slice", "--split", "test", "--init", str(tiny_bert),
                "--layers", "2", "--limit-groups", "24", "--negatives", "3", "--batch-groups", "2",
                "--max-steps", "12", "--save-steps", "2", "--max-length", "64", "--lr", "1e-3",
                "--output", str(out), "--resume")
    straight = run_cli(*args(tmp_path / "straight"), env=env)
    assert straight.returncode == 0, straight.stderr[-1500:]
    rng = random.Random(os.getpid())
    for attempt in range(4):  # a fast machine may finish the 8 steps left before a late kill lands
        out = tmp_path / f"killed-{attempt}"
        killed = kill_after(args(out), env, rng.uniform(0.0, 0.5) / 4 ** attempt, partial(saved_step_4, out))
        if killed and not (out / "pipeline-training.json").exists():
            break
    else:
        raise AssertionError("training always ended before the kill")
    cut = out / "checkpoints" / "checkpoint-99"  # as a kill while saving leaves it: no trainer_state.json
    cut.mkdir()
    (cut / "model.safetensors").write_bytes(b"\0" * 16)
    again = run_cli(*args(out), env=env)
    assert again.returncode == 0, again.stderr[-1500:]
    # 12 when the kill came after the last checkpoint but before the final save
    assert json.loads((out / "pipeline-training.json").read_text())["result"]["resumed_from_step"] in range(4, 13)
    assert not cut.exists()
    a, b = load_file(tmp_path / "straight" / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # bit for bit
