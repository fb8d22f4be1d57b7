"""Long-document reranking: the cost per document of scoring every passage (MaxP and the other
aggregates) against scoring the document cut at the max length (today's default).

Not a test: run it on an idle machine. Both ways score the same real documents (the BM25 top-k of
SciFact test queries, abstracts of ~250 words) with the same model in this one process, in
interleaved repeats; medians are reported, and the ratio is of medians.

    python benchmarks/long_documents.py --quick    # about 2 minutes on a 2-core CPU
    python benchmarks/long_documents.py --model models/student4L

The model is the packaged all-MiniLM-L6-v2 cut to 4 layers (``rerank_throughput.minilm_4l``) unless
``--model`` names one; scores are not evaluated here (``pipeline.run --aggregate`` does that). The last
line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rerank_throughput import minilm_4l, real_pairs, timed  # noqa: E402

from pipeline.common.distributed import available_cores  # noqa: E402
from pipeline.rerank.crossencoder import CrossEncoder
from pipeline.rerank.long_documents import Splitting, windows  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer documents and repeats")
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--split", default="test")
    parser.add_argument("--model", type=Path, help="a cross-encoder directory (default: MiniLM cut to 4 layers)")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per pair (default: 256)")
    parser.add_argument("--passage-length", type=int, default=Splitting.length)
    parser.add_argument("--stride", type=int, default=Splitting.stride)
    args = parser.parse_args()
    torch.set_num_threads(available_cores())
    _, _, pairs = real_pairs(args.dataset, args.split, queries=4 if args.quick else 10, depth=10 if args.quick else 20)
    passage_pairs = [(q, p) for q, doc in pairs for p in windows(doc, args.passage_length, args.stride)]
    with tempfile.TemporaryDirectory() as tmp:
        model = CrossEncoder(args.model or minilm_4l(Path(tmp)), max_length=args.max_length)

        def whole() -> None:
            model.score([q for q, _ in pairs], [d for _, d in pairs])

        def parts() -> None:
            model.score([q for q, _ in passage_pairs], [p for _, p in passage_pairs])

        whole(), parts()  # warm-up
        times: dict[str, list[float]] = {"whole": [], "passages": []}
        for _ in range(2 if args.quick else 4):
            times["whole"].append(timed(whole))
            times["passages"].append(timed(parts))
    medians = {k: statistics.median(v) for k, v in times.items()}
    n = len(pairs)
    cut = model.encode([q for q, _ in pairs], [d for _, d in pairs]).truncated
    print(f"{n} documents ({cut} cut at {args.max_length} tokens), {len(passage_pairs)} passages of "
          f"{args.passage_length} words, stride {args.stride} ({len(passage_pairs) / n:.2f} per document)")
    for k, label in (("whole", "document cut at max length (first, default)"), ("passages", "every passage")):
        print(f"{label:<45} {n / medians[k]:7.1f} documents/s  {1000 * medians[k] / n:7.1f} ms/document")
    print(json.dumps({"documents": n, "passages": len(passage_pairs),
                      "passages_per_document": round(len(passage_pairs) / n, 3),
                      "documents_cut": cut, "max_length": args.max_length, "cores": available_cores(),
                      "whole_ms_per_document": round(1000 * medians["whole"] / n, 2),
                      "passages_ms_per_document": round(1000 * medians["passages"] / n, 2),
                      "cost_ratio": round(medians["passages"] / medians["whole"], 3)}))


if __name__ == "__main__":
    main()
