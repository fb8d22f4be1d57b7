"""``torchrun`` on this CPU (gloo): sharded reranking writes the single-process run byte for byte and
resumes after a kill; 2-rank training follows the 1-rank, doubled-batch loss trajectory."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.collection.datasets import ROOT
from pipeline.common.distributed import assign

from .conftest import run_cli


def torchrun(*args: str, ranks: int = 2) -> list[str]:
    """``torchrun --standalone --nproc_per_node ranks -m args`` (free port, one machine)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks),
            "-m", *args]


def test_assign_balances_costs_not_counts():
    shares = assign([10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2)
    assert shares == [[0], list(range(1, 11))]  # one long chunk against ten short ones
    assert sorted(i for s in assign([3, 5, 2, 8, 1], 3) for i in s) == [0, 1, 2, 3, 4]
    assert assign([4, 4], 4) == [[0], [1], [], []]


def test_scores_do_not_depend_on_the_thread_count(scifact_slice, tiny_bert, tmp_path):
    """What makes 2 one-thread ranks equal 1 two-thread process: MKL's strict mode (pipeline/__init__)."""
    import numpy as np
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from pipeline.rerank.crossencoder import CrossEncoder

    torch.manual_seed(0)  # a teacher-sized layer (384 wide): tiny models hide thread-dependent kernels
    config = BertConfig(vocab_size=BertConfig.from_pretrained(tiny_bert).vocab_size, hidden_size=384,
                        num_hidden_layers=2, num_attention_heads=12, intermediate_size=1536, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (tmp_path / name).write_bytes((tiny_bert / name).read_bytes())
    lines = [json.loads(line) for line in (scifact_slice / "corpus.jsonl").open()][:24]
    queries = ["what causes cancer", "vitamin d deficiency in adults"] * 12
    texts = [d["title"] + " " + d["text"] for d in lines]
    scores = [CrossEncoder(tmp_path, threads=t, max_length=128).score(queries, texts) for t in (1, 2)]
    assert np.array_equal(scores[0], scores[1])


@pytest.fixture
def rerank_setup(scifact_slice, slice_runs, tiny_bert, tmp_path):
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}

    def args(out):
        return ("pipeline.run", "--dataset", "sci-slice", "--candidates", str(slice_runs["bm25"]), "--reranker",
                str(tiny_bert), "--depth", "60", "--chunk-pairs", "120", "--batch-size", "8", "--output", str(out),
                "--no-progress")
    return env, args


def test_two_ranks_write_the_single_process_run(rerank_setup, tmp_path):
    env, args = rerank_setup
    single = run_cli(*args(tmp_path / "single.trec"), env=env)
    assert single.returncode == 0, single.stderr[-1500:]
    res = subprocess.run(torchrun(*args(tmp_path / "two.trec")), capture_output=True, text=True,
                         env={**os.environ, **env}, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2500:]
    assert (tmp_path / "two.trec").read_bytes() == (tmp_path / "single.trec").read_bytes()
    sidecar = json.loads((tmp_path / "two.trec.json").read_text())
    assert sidecar["model"]["ranks"] == 2 and sidecar["reranking"]["pairs"] == 40 * 60
    assert not list(tmp_path.glob("two.trec.partial*")) and not (tmp_path / "two.trec.lock").exists()


def worker(parent: int, rank: int) -> int | None:
    """The pid of ``torchrun``'s worker process of ``rank`` (a child of ``parent``), if it runs."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("PPid:"))
            environ = (status.parent / "environ").read_bytes().split(b"\0")
        except (OSError, StopIteration):
            continue
        if int(ppid) == parent and f"RANK={rank}".encode() in environ:
            return int(status.parent.name)
    return None


def test_after_a_rank_is_killed_the_rerun_redoes_only_unfinished_chunks(rerank_setup, tmp_path):
    env, args = rerank_setup
    assert run_cli(*args(tmp_path / "single.trec"), env=env).returncode == 0
    out, log = tmp_path / "two.trec", tmp_path / "two.trec.partial.rank1"
    for _ in range(4):  # the tiny model is fast: rank 1 is killed as soon as it has saved a chunk
        proc = subprocess.Popen(torchrun(*args(out)), env={**os.environ, **env}, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and not (log.is_file() and log.read_text().count("\n") >= 2):
            time.sleep(0.005)
        pid = worker(proc.pid, 1)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=240)  # torchrun stops the other rank and fails
        if proc.returncode != 0:
            break
        out.unlink()
    else:
        pytest.fail("rank 1 always finished before the kill")
    assert not out.exists()
    res = subprocess.run(torchrun(*args(out)), capture_output=True, text=True,
                         env={**os.environ, **env}, cwd=ROOT, timeout=240)
    assert res.returncode == 0, res.stderr[-2500:]
    reranking = json.loads((tmp_path / "two.trec.json").read_text())["reranking"]
    assert 0 < reranking["resumed_pairs"] < reranking["pairs"]
    assert reranking["resumed_pairs"] + reranking["scored_now"] == reranking["pairs"]
    assert out.read_bytes() == (tmp_path / "single.trec").read_bytes()
    assert not list(tmp_path.glob("two.trec.partial*"))


def test_two_rank_training_follows_the_doubled_batch(scifact_slice, slice_index, tiny_bert, tmp_path):
    from safetensors.torch import load_file
    from transformers import BertForSequenceClassification

    no_dropout = tmp_path / "tiny-no-dropout"  # dropout draws differ between 1 and 2 processes
    model = BertForSequenceClassification.from_pretrained(tiny_bert, hidden_dropout_prob=0.0,
                                                          attention_probs_dropout_prob=0.0)
    model.save_pretrained(no_dropout)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        if (tiny_bert / name).is_file():
            (no_dropout / name).write_bytes((tiny_bert / name).read_bytes())
    (tmp_path / "indexes").mkdir()
    (tmp_path / "indexes" / "sci-slice").symlink_to(slice_index)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"), "PIPELINE_HOME": str(tmp_path)}

    def args(out, batch):
        return ("pipeline.train", "teacher", "--dataset", "sci-slice", "--split", "test", "--init", str(no_dropout),
                "--layers", "2", "--limit-groups", "8", "--negatives", "3", "--batch-groups", str(batch),
                "--max-steps", "6", "--logging-steps", "1", "--max-length", "64", "--lr", "1e-2", "--warmup", "0",
                "--output", str(out))
    one = run_cli(*args(tmp_path / "one", 4), env=env)
    assert one.returncode == 0, one.stderr[-1500:]
    two = subprocess.run(torchrun(*args(tmp_path / "two", 2)), capture_output=True, text=True,
                         env={**os.environ, **env}, cwd=ROOT, timeout=300)
    assert two.returncode == 0, two.stderr[-2500:]
    logs = [json.loads((tmp_path / d / "pipeline-training.json").read_text()) for d in ("one", "two")]
    assert [r["ranks"] for r in logs] == [1, 2]
    losses = [[h["loss"] for h in r["log"]] for r in logs]
    assert len(losses[0]) == 6 and losses[0][-1] < losses[0][0] - 0.002  # the loss falls: the steps train
    assert losses[1] == pytest.approx(losses[0], rel=1e-4, abs=1e-5)
    a, b = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    # softmax CE ignores a shift of all scores, so the classifier bias's gradient is rounding noise,
    # which Adam scales up to full steps: that one parameter is not compared. Adam also enlarges the
    # float noise of near-zero gradients elsewhere, hence 1e-3, against weights that moved by > 1e-2.
    start = load_file(no_dropout / "model.safetensors")
    assert max((a[k] - start[k]).abs().max() for k in a) > 1e-2
    assert all((a[k] - b[k]).abs().max() < 1e-3 for k in a if k != "classifier.bias")


def test_teacher_scores_are_sharded_and_the_student_trains_under_torchrun(scifact_slice, slice_index, tiny_bert,
                                                                         tmp_path):
    homes = {}
    for name in ("one", "two"):
        home = homes[name] = tmp_path / name
        (home / "indexes").mkdir(parents=True)
        (home / "indexes" / "sci-slice").symlink_to(slice_index)
    args = ("pipeline.distill", "--student", "1L", "--procedure", "ranker", "--teacher", str(tiny_bert),
            "--dataset", "sci-slice", "--split", "test", "--limit-groups", "24", "--negatives", "3",
            "--batch-groups", "2", "--max-steps", "2", "--max-length", "64")

    def env(name):
        return {**os.environ, "PIPELINE_DATASETS": str(scifact_slice / "datasets.toml"),
                "PIPELINE_HOME": str(homes[name])}
    one = subprocess.run([sys.executable, "-m", *args, "--output", str(homes["one"] / "student")],
                         capture_output=True, text=True, env=env("one"), cwd=ROOT, timeout=240)
    assert one.returncode == 0, one.stderr[-1500:]
    two = subprocess.run(torchrun(*args, "--output", str(homes["two"] / "student")), capture_output=True, text=True,
                         env=env("two"), cwd=ROOT, timeout=240)
    assert two.returncode == 0, two.stderr[-2500:]
    caches = [sorted((homes[n] / "models" / ".cache").glob("teacher-scores.*.json")) for n in ("one", "two")]
    assert len(caches[0]) == len(caches[1]) == 1 and caches[0][0].name == caches[1][0].name
    single, sharded = (json.loads(c[0].read_text()) for c in caches)
    assert len(single) == 24 and [len(s) for s in sharded] == [len(s) for s in single] == [4] * 24
    assert [v for s in sharded for v in s] == pytest.approx([v for s in single for v in s], abs=1e-5)
    assert json.loads((homes["two"] / "student" / "pipeline-training.json").read_text())["ranks"] == 2
