"""One writer per output: a live lock holder makes a second writer fail clearly; stale locks are recovered."""

import json
import subprocess
import sys

import pytest

from pipeline.common.errors import PipelineError
from pipeline.common.locks import exclusive, lock_path

from .conftest import run_cli

HOLD = "import sys, time\nfrom pipeline.common.locks import exclusive\nwith exclusive(sys.argv[1]):\n" \
       "    print('held', flush=True)\n    time.sleep(60)\n"


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds the lock on a path until the test ends."""
    procs = []

    def hold(path):
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "held"
        procs.append(proc)
        return proc
    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


def test_a_live_holder_blocks_a_second_writer_with_a_clear_error(tmp_path, holder):
    target = tmp_path / "out.trec"
    proc = holder(target)
    with pytest.raises(PipelineError, match=rf"being written by another process \(pid {proc.pid} on "):
        with exclusive(target):
            pass
    assert lock_path(target).exists()  # the owner's lock is left alone


def test_a_stale_lock_from_a_killed_process_is_taken_over(tmp_path, holder, capsys):
    target = tmp_path / "out.trec"
    proc = holder(target)
    proc.kill()  # kill -9: the lock file stays behind
    proc.wait()
    assert json.loads(lock_path(target).read_text())["pid"] == proc.pid
    with exclusive(target) as lock:
        assert json.loads(lock.read_text())["pid"] != proc.pid
    assert "removing the stale lock" in capsys.readouterr().err
    assert not lock_path(target).exists()  # released


def test_pipeline_run_and_index_refuse_an_output_another_process_is_writing(scifact_slice, slice_index,
                                                                           tmp_path, holder):
    out = tmp_path / "slice.trec"
    proc = holder(out)
    env = {"PIPELINE_DATASETS": str(scifact_slice / "datasets.toml")}
    res = run_cli("pipeline.run", "--dataset", "sci-slice", "--index", str(slice_index), "--output", str(out),
                  "--depth", "10", "--no-progress", env=env)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"{out} is being written by another process (pid {proc.pid}" in res.stderr.strip().splitlines()[-1]
    assert not out.exists()
    index = tmp_path / "idx"
    proc = holder(index)
    res = run_cli("pipeline.index", "--collection", str(scifact_slice / "corpus.jsonl"), "--format", "beir",
                  "--index", str(index))
    assert res.returncode == 1 and f"{index} is being built by another process (pid {proc.pid}" in res.stderr
