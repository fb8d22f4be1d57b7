"""``python -m pipeline.run``: first stage, optional reranking, a TREC run and its evaluation.

index -> BM25 top-``depth`` candidates (or ``--candidates RUN``) -> cross-encoder reranking
(``--reranker teacher|student6L|student4L|PATH``; ``bm25`` for none) ->
``runs/<dataset>.<split>.<reranker>.trec`` plus a JSON sidecar (config, versions, seed, timings,
reranking statistics) -> trec_eval measures, printed and saved under ``eval/``.

Reranking is resumable: after a kill, the same command continues from the last finished chunk
of queries and writes the same run file as an uninterrupted run.

Under ``torchrun --nproc_per_node N -m pipeline.run ...`` rank 0 produces the candidates and
sends them to every rank, the ranks rerank shares balanced by token count (each on its own GPU,
or its share of the CPU cores), and rank 0 writes the one run file, sidecar and evaluation: the
same run as one process would write.

The job itself is :func:`pipeline.experiments.end_to_end.run_job`; this command parses the flags into its
:class:`~pipeline.experiments.end_to_end.RunSettings` and prints what it made.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from pipeline.candidates.fusion import METHODS, NORMALIZATIONS
from pipeline.collection import corpora
from pipeline.collection.topics import FIELDS
from pipeline.common.cli import add_debug_flag, run_main
from pipeline.experiments.end_to_end import DEFAULT_DATASET, JobResult, RunSettings, run_job
from pipeline.rerank.crossencoder import DTYPES
from pipeline.rerank.long_documents import AGGREGATES
from pipeline.runfiles.trec import OUTPUT_FORMATS


def define_args(parser: argparse.ArgumentParser) -> None:
    """The command-line flags of ``pipeline.run``."""
    what = parser.add_argument_group("what to run")
    what.add_argument("--dataset", default=DEFAULT_DATASET,
                      help=f"registered dataset (default: {DEFAULT_DATASET}): car-test200, scifact, msmarco-dl19, "
                           f"one from datasets.toml, or irds:<ir_datasets id>")
    what.add_argument("--split", help="split to run (default: the dataset's test split)")
    what.add_argument("--topic-field", choices=FIELDS,
                      help="which text of each topic is the query (default: the dataset's topic_field, else title): "
                           "TREC topics have all four, the 'Description:'/'Narrative:' label dropped; BEIR queries "
                           "their text (title) and metadata.description/narrative where present; TSV and CAR "
                           "outlines a title only. Other than title, the default output name ends .<field>")
    what.add_argument("--reranker", default="none",
                      help="none (no reranking; 'bm25' is an alias), teacher, student6L, student4L (models/<name>/) "
                           "or a model directory")
    what.add_argument("--allow-untrained-head", action="store_true",
                      help="rerank with a model whose scoring head is not trained (a bi-encoder or a bare LM gets "
                           "a randomly drawn head: its scores are noise); refused without this flag")
    first = parser.add_argument_group("first stage")
    first.add_argument("--first-stage", choices=["bm25", "dense", "hybrid"], default="bm25",
                       help="candidates from BM25 (default), the dense index, or both fused (hybrid)")
    first.add_argument("--index", type=Path, help="Lucene index (default: indexes/<dataset>)")
    first.add_argument("--dense-index", type=Path,
                       help="faiss index (default: indexes/<dataset>.all-MiniLM-L6-v2, from pipeline.index --dense)")
    first.add_argument("--query-prompt", metavar="TEXT",
                       help="dense: text put before every query when encoding it ('query: ' for E5; default: the "
                            "one the dense index was built with; another one is searched with a warning)")
    first.add_argument("--passage-prompt", metavar="TEXT",
                       help="dense: the passage prompt the dense index must have been built with (refused "
                            "otherwise; default: the index's)")
    first.add_argument("--fusion", choices=METHODS, default="rrf",
                       help="hybrid: reciprocal rank fusion (default), normalised score interpolation, or "
                            "Bayes-fuse (each run's log-odds of relevance by rank, fitted on --fusion-split)")
    first.add_argument("--fusion-split", default="train",
                       help="hybrid Bayes-fuse: the judged split its rank-bin odds are fitted on (default: train; "
                            "never the split being run)")
    first.add_argument("--alpha", type=float, default=0.5, help="hybrid interpolation: the weight of BM25")
    first.add_argument("--normalization", choices=NORMALIZATIONS, default="minmax",
                       help="hybrid interpolation: per-query score normalisation of each run (default: minmax)")
    first.add_argument("--fusion-depth", type=_fusion_depth,
                       help="hybrid: how deep BM25 and dense are each searched before fusing, a number or 'all' "
                            "(default: --depth). Deeper inputs leave fewer documents whose score in one run is "
                            "missing and imputed; 'all' (the collection's size) makes interpolation exact")
    first.add_argument("--rrf-k", type=float, default=60.0, help="hybrid RRF: the rank constant k (default: 60)")
    first.add_argument("--dense-weight", type=float, default=1.0,
                       help="hybrid RRF: the dense run's weight, BM25's being 1 (default: 1, plain RRF)")
    first.add_argument("--candidates", type=Path,
                       help="rerank this run instead of a first stage (default for msmarco-dl19 with the BM25 "
                            "first stage: its official BM25 top-100)")
    first.add_argument("--depth", "--hits", type=int, default=1000, dest="depth",
                       help="candidates per query to rerank (default: 1000, as in the paper)")
    first.add_argument("--k1", type=float, default=0.9, help="BM25 k1 (default: 0.9)")
    first.add_argument("--b", type=float, default=0.4, help="BM25 b (default: 0.4)")
    first.add_argument("--rm3", action="store_true",
                       help="bm25 and hybrid: expand every query by RM3 pseudo-relevance feedback (Pyserini's "
                            "set_rm3; the index needs the document vectors pipeline.index stores); the default "
                            "output name says bm25+rm3 (qld+rm3, hybrid+rm3)")
    first.add_argument("--fb-terms", type=int, metavar="N", help="RM3: expansion terms (default: 10, Pyserini's)")
    first.add_argument("--fb-docs", type=int, metavar="N", help="RM3: feedback documents (default: 10, Pyserini's)")
    first.add_argument("--original-query-weight", type=float, metavar="W",
                       help="RM3: the original query's weight in the expanded one, 0-1 (default: 0.5, Pyserini's)")
    first.add_argument("--qld", action="store_true",
                       help="bm25 and hybrid: score by query likelihood with Dirichlet smoothing instead of BM25 "
                            "(Pyserini's set_qld; --k1/--b do not apply); the default output name says qld")
    first.add_argument("--mu", type=float, help="QLD: the Dirichlet smoothing mu (default: 1000, Pyserini's)")
    first.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="BM25 search threads")
    model = parser.add_argument_group("reranking")
    model.add_argument("--batch-size", type=int, default=32, help="pairs per forward pass (default: 32)")
    model.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available, else cpu)")
    model.add_argument("--dtype", choices=DTYPES, default="fp32",
                       help="fp32 (default); bf16 (GPU, or CPU with AVX-512 BF16); fp16 (GPU); int8 (CPU: "
                            "ONNX Runtime, fused and quantized, built once into <model>/onnx/; measure its effect "
                            "per model)")
    model.add_argument("--max-length", type=int, help="max tokens per pair (default: recorded with the model, 512)")
    model.add_argument("--chunk-pairs", type=int, default=8192,
                       help="pairs per resumable chunk: batches are sorted by length within a chunk, and a killed "
                            "run resumes from the last finished chunk (default: 8192)")
    model.add_argument("--checkpoint-seconds", type=float, default=60.0,
                       help="within a chunk, append the finished batches to the .partial checkpoint at least this "
                            "often (default: 60); Ctrl-C and SIGTERM save them too")
    long = parser.add_argument_group("long documents (pipeline.rerank.long_documents)")
    long.add_argument("--aggregate", choices=AGGREGATES, default="first",
                      help="split each document into passages, score them all, and give the document the first "
                           "passage's score (FirstP), the best (MaxP), their sum (SumP), mean, or the mean of the "
                           "--kmax best; default: first, with no splitting unless --passage-length is given (the "
                           "document is cut at the max length, as before)")
    long.add_argument("--passage-length", type=int, metavar="WORDS",
                      help="words per passage (default: 150, as PyTerrier's sliding and Dai & Callan)")
    long.add_argument("--stride", type=int, metavar="WORDS",
                      help="words between consecutive passages' starts (default: 75)")
    long.add_argument("--kmax", type=int, default=3, metavar="K", help="kmax-avg: passages averaged (default: 3)")
    model.add_argument("--collection", type=Path,
                       help="passage texts for --candidates from another corpus (default: the dataset's corpus)")
    model.add_argument("--collection-format", choices=corpora.FORMATS, default="jsonl", help="format of --collection")
    out = parser.add_argument_group("output")
    out.add_argument("--output", type=Path,
                     help="run file to write (default: runs/<dataset>.<split>.<reranker>[.<dtype>].trec)")
    out.add_argument("--output-format", choices=OUTPUT_FORMATS, default="trec",
                     help="trec (6 columns) or msmarco (qid<TAB>pid<TAB>rank)")
    out.add_argument("--tag", help="run tag, 1-15 of [A-Za-z0-9_-] (default: derived from the reranker)")
    out.add_argument("--seed", type=int, default=42, help="random seed, recorded with the run")
    out.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_debug_flag(parser)


def _fusion_depth(value: str) -> int | str:
    """``--fusion-depth``: a positive number of documents, or ``all`` for the whole collection."""
    if value == "all":
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise argparse.ArgumentTypeError(f"expected a positive number or 'all', got {value!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.run", description=__doc__.split("\n\n")[1],
                                     epilog="example: python -m pipeline.run --reranker student4L --dataset scifact")
    define_args(parser)
    result = run_job(RunSettings.from_flags(parser.parse_args(argv)))
    if result is not None:
        print_result(result)
    return 0


def print_result(result: JobResult) -> None:
    """What the job made: where the run is, and first stage beside reranked (or the first stage's table)."""
    settings = result.settings
    print(f"{result.dataset}:{settings.split} {result.stage} -> "
          f"{settings.reranker if result.reranked else 'no reranking'}  ->  {result.output}")
    if not result.reranked:
        print(result.evaluation.table())
        return
    first, reranked = result.first_stage_evaluation, result.evaluation
    width = max(len(m) for m in reranked.measures)
    print(f"{'':<{width}}  {'first':>7}  {'rerank':>7}")
    for m in reranked.measures:
        print(f"{m:<{width}}  {first.aggregate[m]:7.4f}  {reranked.aggregate[m]:7.4f}")
    print(f"({reranked.queries} queries; {reranked.convention})")
    if (ensemble := result.model.get("ensemble")) is not None:
        spent = ["cached" if m["cached"] else f"{m['seconds']} s" for m in ensemble["members"]]
        print(f"{ensemble['pairs']} pairs by " + ", ".join(
            f"{m['member']} x {m['weight']} ({t})" for m, t in zip(ensemble["members"], spent, strict=True)))
        return
    if (split := result.model.get("passages")) is not None:
        print(f"{split['documents']} documents as {split['passages']} passages of {split['length']} words (stride "
              f"{split['stride']}; {split['split_documents']} documents split), {split['aggregate']} per document")
    stats = result.reranking
    print(f"{stats['pairs']} pairs, {stats['pairs_per_s']:.1f} pairs/s, {stats['truncated_passages']} passages "
          f"truncated, {stats['recomputed_fp32_batches']} batches recomputed in fp32")


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
