"""CPU reranking: 1 process with all the cores' threads against ``torchrun`` ranks of 1 thread each.

Not a test: run it on an idle machine. Both ways run the real command, ``python -m pipeline.run``
and ``torchrun --standalone --nproc_per_node N -m pipeline.run``, on the same real candidates
(BM25 top-``--depth`` of the first ``--queries`` queries of a real split), alternating, each
``--rounds`` times, into fresh output files. Reported per model: the median reranking pairs/s
from the run's sidecar (for torchrun: all pairs over the slowest rank's time) and the median
wall time of the whole command (process start, model load, gather and writing included), and
whether the two runs are byte-identical.

    python benchmarks/distributed_throughput.py                 # teacher, student6L, student4L if built
    python benchmarks/distributed_throughput.py --models models/teacher --rounds 1 --queries 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.collection.datasets import ROOT, get_dataset  # noqa: E402
from pipeline.common.distributed import available_cores  # noqa: E402
from pipeline.common.paths import EVAL  # noqa: E402
from pipeline.rerank.registry import MODELS  # noqa: E402
from pipeline.runfiles.trec import read_run, write_run  # noqa: E402


def candidates(dataset: str, split: str, queries: int, depth: int, out: Path) -> Path:
    """BM25 top-``depth`` of the first ``queries`` queries of the split, as a run file (via pipeline.run)."""
    full = out / "bm25.trec"
    subprocess.run([sys.executable, "-m", "pipeline.run", "--dataset", dataset, "--split", split, "--depth",
                    str(depth), "--output", str(full), "--no-progress"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    run = read_run(full)
    first = dict(list(run.items())[:queries])
    path = out / f"candidates.{queries}q.trec"
    write_run(path, first, "bm25")
    return path


def timed(cmd: list[str], output: Path) -> dict:
    """Run one reranking command; its wall time and the sidecar's reranking statistics."""
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")
    sidecar = json.loads(Path(f"{output}.json").read_text())
    (EVAL / f"{output.name}.json").unlink(missing_ok=True)  # pipeline.run's evaluation copy: not a result
    return {"wall_s": wall, "pairs_per_s": sidecar["reranking"]["pairs_per_s"], "bytes": output.read_bytes()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", type=Path,
                        default=[MODELS / n for n in ("teacher", "student6L", "student4L")])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk-pairs", type=int, default=64,
                        help="pipeline.run --chunk-pairs for both ways: ranks share whole chunks (default: 64)")
    args = parser.parse_args()
    cores = available_cores()
    split = args.split or get_dataset(args.dataset).default_split
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        cands = candidates(args.dataset, split, args.queries, args.depth, tmp_path)
        pairs = sum(len(d) for d in read_run(cands).values())
        for model in args.models:
            if not (model / "config.json").is_file():
                print(f"skipping {model}: not built")
                continue
            results: dict[str, list[dict]] = {"1x": [], "ranks": []}
            for r in range(args.rounds):
                for mode in ("1x", "ranks") if r % 2 == 0 else ("ranks", "1x"):
                    out = tmp_path / f"{model.name}.{mode}.{r}.trec"
                    common = ["-m", "pipeline.run", "--dataset", args.dataset, "--split", split, "--candidates",
                              str(cands), "--reranker", str(model), "--output", str(out), "--no-progress",
                              "--chunk-pairs", str(args.chunk_pairs)]
                    cmd = [sys.executable, *common] if mode == "1x" else \
                        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                         str(cores), *common]
                    results[mode].append(timed(cmd, out))
            one, many = results["1x"], results["ranks"]
            row = {"model": model.name, "pairs": pairs,
                   "1x_pairs_per_s": statistics.median(x["pairs_per_s"] for x in one),
                   "ranks_pairs_per_s": statistics.median(x["pairs_per_s"] for x in many),
                   "1x_wall_s": statistics.median(x["wall_s"] for x in one),
                   "ranks_wall_s": statistics.median(x["wall_s"] for x in many),
                   "identical": all(x["bytes"] == one[0]["bytes"] for x in one + many)}
            row["ratio_pairs_per_s"] = row["ranks_pairs_per_s"] / row["1x_pairs_per_s"]
            row["ratio_wall"] = row["1x_wall_s"] / row["ranks_wall_s"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{args.dataset}:{split}, {args.queries} queries x top {args.depth} BM25, {args.rounds} rounds, "
          f"chunks of {args.chunk_pairs}+ pairs, "
          f"{cores} cores (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})\n")
    print(f"| model | 1 process x {cores} threads, pairs/s | {cores} ranks x 1 thread, pairs/s | ratio | "
          f"wall 1x / ranks (s) | identical runs |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['model']} | {r['1x_pairs_per_s']:.1f} | {r['ranks_pairs_per_s']:.1f} | "
              f"{r['ratio_pairs_per_s']:.2f} | {r['1x_wall_s']:.1f} / {r['ranks_wall_s']:.1f} | "
              f"{'yes' if r['identical'] else 'no'} |")


if __name__ == "__main__":
    main()
