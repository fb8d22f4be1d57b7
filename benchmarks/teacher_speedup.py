"""The default students against the default teacher: how much faster they rerank the same real pairs.

Not a test: run it on an idle machine. The teacher is ``models/teacher-ensemble`` (``make models``
builds it): its cross-encoder, its bi-encoders and BM25, every member computed afresh each round
(:class:`pipeline.rerank.ensemble.EnsembleScorer`: what a rerank costs with no member run cached;
BM25's scores come with the candidates and cost nothing). Beside it its cross-encoder member alone,
and each shipped or built student (``models/student4L``, ``models/student6L``) in fp32 and, with
``--int8``, ONNX Runtime int8. All score the BM25 top ``--depth`` of the first ``--queries``
queries in this one process, in interleaved rounds, tokenization included; medians are reported
and speedups are ratios of medians.

    python benchmarks/teacher_speedup.py                  # SciFact test, 10 queries x top 20, ~5 min
    python benchmarks/teacher_speedup.py --int8 --rounds 5

The last line printed is one JSON object with the pairs/s and speedups.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from rerank_throughput import real_pairs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.common.distributed import available_cores  # noqa: E402
from pipeline.common.errors import PipelineError  # noqa: E402
from pipeline.common.timing import interleaved_seconds  # noqa: E402
from pipeline.rerank.crossencoder import CrossEncoder  # noqa: E402
from pipeline.rerank.ensemble import EnsembleScorer, is_ensemble, read_ensemble  # noqa: E402
from pipeline.rerank.registry import MODELS  # noqa: E402
from pipeline.runfiles.trec import rank  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--teacher", type=Path, default=MODELS / "teacher-ensemble", help="an ensemble's directory")
    parser.add_argument("--students", type=Path, nargs="+", default=[MODELS / "student4L", MODELS / "student6L"],
                        help="student directories (those missing are skipped)")
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--depth", type=int, default=20, help="BM25 candidates per query (make run's depth)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--int8", action="store_true", help="also time each student in ONNX Runtime int8")
    args = parser.parse_args()
    if not is_ensemble(args.teacher):
        sys.exit(f"error: {args.teacher} is not an ensemble; build it with `python -m pipeline.build_models "
                 f"--only teacher-stage1 teacher teacher-ensemble`")

    topics, run, pairs = real_pairs(args.dataset, args.split, args.queries, args.depth)
    queries, passages = [q for q, _ in pairs], [p for _, p in pairs]
    bm25 = [score for q in run for _, score in rank(run[q])]
    members = read_ensemble(args.teacher)
    teacher = EnsembleScorer(members)
    scorers = {"teacher (ensemble)": lambda: teacher.score(queries, passages, bm25)}
    for m, model in zip(members, teacher.models, strict=True):
        if isinstance(model, CrossEncoder):
            scorers[f"its cross-encoder ({m.location.name})"] = lambda model=model: model.score(queries, passages)
    for path in (p for p in args.students if (p / "config.json").is_file()):
        for dtype in ("fp32", "int8") if args.int8 else ("fp32",):
            model = CrossEncoder(path, dtype=dtype)
            scorers[f"{path.name} {dtype}"] = lambda model=model: model.score(queries, passages)

    seconds = interleaved_seconds(scorers, args.rounds)  # the warm-up builds the int8 graphs once
    rate = {name: len(pairs) / s for name, s in seconds.items()}
    base = rate["teacher (ensemble)"]

    print(f"\n{len(pairs)} real pairs ({args.dataset} {args.split}, BM25 top {args.depth} of {len(topics)} queries), "
          f"{args.rounds} interleaved rounds, median; {available_cores()} threads on {platform.processor() or 'cpu'}")
    print("members: " + ", ".join(f"{m.label} x {m.weight:g}" for m in members))
    print("| ranker | pairs/s | speedup over the teacher |")
    print("|---|---|---|")
    for name, r in rate.items():
        print(f"| {name} | {r:.1f} | {r / base:.2f}x |")
    print(json.dumps({"pairs": len(pairs), "rounds": args.rounds,
                      "pairs_per_s": {k: round(v, 2) for k, v in rate.items()},
                      "speedup": {k: round(v / base, 2) for k, v in rate.items()}}))


if __name__ == "__main__":
    try:
        main()
    except PipelineError as err:
        sys.exit(f"error: {err}")
