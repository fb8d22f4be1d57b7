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
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pipeline import corpora, distributed
from pipeline.atomic import write_json
from pipeline.cli import add_debug_flag, run_main
from pipeline.collection import check_index
from pipeline.crossencoder import DTYPES
from pipeline.datasets import get_dataset
from pipeline.ensemble import check_first_stage, ensemble_rerank, is_ensemble, read_ensemble, run_tag
from pipeline.errors import PipelineError
from pipeline.evaluate import evaluate, save
from pipeline.fusion import NORMALIZATIONS, bayes_fuse, fit_rank_odds, interpolate, rrf
from pipeline.index import index_dir, read_manifest
from pipeline.locks import exclusive
from pipeline.long_documents import AGGREGATES, Splitting, document_run, split_candidates
from pipeline.paths import EVAL, RUNS
from pipeline.provenance import record
from pipeline.runs import OUTPUT_FORMATS, Run, read_run, truncate, validate_tag, write_run
from pipeline.topics import FIELDS

DEFAULT_DATASET = "scifact"


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
    first.add_argument("--fusion", choices=["rrf", "interpolation", "bayes"], default="rrf",
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
    long = parser.add_argument_group("long documents (pipeline.long_documents)")
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


def _first_stage_name(args: argparse.Namespace, ds, split: str) -> str:
    """Check ``--qld``, ``--rm3`` and their settings (filling in Pyserini's defaults); the first stage's name.

    ``bm25``, ``dense`` and ``hybrid`` as before; ``qld`` or ``hybrid+qld`` with ``--qld``, then
    ``+rm3`` with ``--rm3``.
    """
    from pipeline.bm25 import MU, RM3

    rm3 = {"--fb-terms": args.fb_terms, "--fb-docs": args.fb_docs,
           "--original-query-weight": args.original_query_weight}
    if not args.rm3 and (given := [flag for flag, value in rm3.items() if value is not None]):
        raise PipelineError(f"{given[0]} is an RM3 setting: add --rm3")
    if not args.qld and args.mu is not None:
        raise PipelineError("--mu is QLD's Dirichlet smoothing: add --qld")
    if not (args.rm3 or args.qld):
        return args.first_stage
    flags = " ".join(flag for flag, on in (("--qld", args.qld), ("--rm3", args.rm3)) if on)
    if args.first_stage == "dense":
        raise PipelineError(f"--first-stage dense has no BM25 to change: drop {flags}, or use bm25 or hybrid")
    if args.candidates:
        raise PipelineError(f"--candidates replaces the first stage: drop {flags}")
    if args.first_stage == "bm25" and (official := ds.split(split).candidates) is not None:
        raise PipelineError(f"{ds.name}:{split} reranks its official BM25 candidates ({official}), not a search: "
                            f"drop {flags}")
    if args.qld and (args.k1, args.b) != (0.9, 0.4):
        raise PipelineError("--k1 and --b are BM25's: --qld scores by query likelihood (its setting is --mu)")
    if args.rm3:
        defaults = RM3()
        args.fb_terms = defaults.fb_terms if args.fb_terms is None else args.fb_terms
        args.fb_docs = defaults.fb_docs if args.fb_docs is None else args.fb_docs
        args.original_query_weight = (defaults.original_query_weight if args.original_query_weight is None
                                      else args.original_query_weight)
        if args.fb_terms < 1 or args.fb_docs < 1:
            raise PipelineError(f"--fb-terms and --fb-docs must be positive, got {args.fb_terms} and {args.fb_docs}")
        if not 0 <= args.original_query_weight <= 1:
            raise PipelineError(f"--original-query-weight must be between 0 and 1, got {args.original_query_weight}")
    if args.qld:
        args.mu = MU if args.mu is None else args.mu
        if args.mu <= 0:
            raise PipelineError(f"--mu must be positive, got {args.mu}")
    name = args.first_stage
    if args.qld:
        name = "qld" if name == "bm25" else f"{name}+qld"
    return f"{name}+rm3" if args.rm3 else name


def first_stage_run(args: argparse.Namespace, ds, split: str, topics: dict, timings: dict) -> Run:
    """BM25 (or QLD, with or without RM3), dense, or hybrid (fused) top-``--depth`` candidates for ``topics``."""
    bayes = args.first_stage == "hybrid" and args.fusion == "bayes"
    if bayes and args.fusion_split == split:
        raise PipelineError(f"--fusion-split {split} is the split being run: fit Bayes-fuse on other queries")
    fit_topics = ds.topics_for(args.fusion_split) if bayes else {}
    if bayes and not fit_topics:
        raise PipelineError(f"{ds.name}:{args.fusion_split} has no judged queries to fit Bayes-fuse on")
    searcher = None
    if args.first_stage in ("dense", "hybrid"):
        from pipeline.dense import DenseSearcher, encoder_name

        t0 = time.perf_counter()
        dense_index = args.dense_index or index_dir(f"{ds.name}.{encoder_name(None)}")
        searcher = DenseSearcher(dense_index, dataset=ds.name, query_prompt=args.query_prompt,
                                 passage_prompt=args.passage_prompt)
        check_index(dense_index, searcher.manifest, ds, "dense")
        timings["dense_index"] = searcher.manifest["index"]
        timings["dense_load_s"] = round(time.perf_counter() - t0, 3)

    if args.first_stage in ("bm25", "hybrid"):
        index = args.index or index_dir(ds.name)
        manifest = read_manifest(index)
        if manifest is not None:  # a missing index gets its own error from the searcher
            check_index(index, manifest, ds)
    depth = args.depth
    if args.first_stage == "hybrid" and args.fusion_depth is not None:
        depth = len(searcher.docids) if args.fusion_depth == "all" else args.fusion_depth
        timings["fusion_depth"] = depth

    def search(split_: str, topics_: dict, times: dict) -> list[Run]:
        runs = []
        if args.first_stage in ("bm25", "hybrid"):
            from pipeline.bm25 import RM3, cached_search

            rm3 = RM3(args.fb_terms, args.fb_docs, args.original_query_weight) if args.rm3 else None
            runs.append(cached_search(ds.name, split_, topics_, args.index or index_dir(ds.name), k1=args.k1,
                                      b=args.b, depth=depth, remove_query=ds.remove_query,
                                      threads=args.threads, progress=not args.no_progress, timings=times,
                                      rm3=rm3, mu=args.mu if args.qld else None))
        if searcher is not None:
            t0 = time.perf_counter()
            runs.append(searcher.search(topics_, k=depth, remove_query=ds.remove_query,
                                        progress=not args.no_progress))
            times["dense_s"] = round(time.perf_counter() - t0, 3)
        return runs

    runs = search(split, topics, timings)
    if len(runs) == 1:
        return runs[0]
    if args.fusion == "rrf":
        fused = rrf(runs, k=args.rrf_k, weights=[1.0, args.dense_weight])
    elif args.fusion == "interpolation":
        fused = interpolate(runs[0], runs[1], args.alpha, args.normalization)
    else:
        fit_timings: dict = {}
        odds = [fit_rank_odds(run, ds.qrels(args.fusion_split), len(searcher.docids))
                for run in search(args.fusion_split, fit_topics, fit_timings)]
        timings["fusion"] = {"method": "bayes", "fit_split": args.fusion_split, "fit_queries": len(fit_topics),
                             "bm25": odds[0].as_dict(), "dense": odds[1].as_dict(), "fit_timings": fit_timings}
        fused = bayes_fuse(runs, odds)
    return truncate(fused, args.depth)


def _query_notes(warnings: dict[str, list[str]], shown: int = 5) -> list[str]:
    """One counted warning line per kind of query that scores 0 whatever the ranker does."""
    why = {"queries_without_candidates": "returned no candidates (empty, whitespace-only or all-stopword "
                                         "queries?) and score 0",
           "judged_queries_without_topic": "are judged but have no topic text: averaged in as 0"}
    return [f"warning: {len(qids)} queries {why[kind]}: {', '.join(qids[:shown])}"
            f"{f' and {len(qids) - shown} more' if len(qids) > shown else ''}"
            for kind, qids in warnings.items() if qids]


def _default_tag(reranker: str, dtype: str) -> str:
    name = Path(reranker).name + ("" if dtype == "fp32" or reranker == "bm25" else f"-{dtype}")
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    return cleaned[:15] or "pipeline"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.run", description=__doc__.split("\n\n")[1],
                                     epilog="example: python -m pipeline.run --reranker student4L --dataset scifact")
    define_args(parser)
    args = parser.parse_args(argv)
    if args.reranker == "none":
        args.reranker = "bm25"  # one name inside: outputs, tags and sidecars as they were
    t_start = time.perf_counter()
    random.seed(args.seed)
    from pipeline.models import resolve

    model_dir = resolve(args.reranker)
    ds = get_dataset(args.dataset)
    if args.topic_field:
        ds = replace(ds, topic_field=args.topic_field)
    args.topic_field = ds.topic_field  # recorded in the sidecar
    split = args.split or ds.default_split
    stage = _first_stage_name(args, ds, split)
    tag = validate_tag(args.tag or _default_tag(args.reranker if args.reranker != "bm25" else stage, args.dtype))
    if args.depth < 1:
        raise PipelineError(f"--depth must be positive, got {args.depth}")
    if isinstance(args.fusion_depth, int) and args.fusion_depth < args.depth:
        raise PipelineError(f"--fusion-depth {args.fusion_depth} is under --depth {args.depth}: fuse at least as "
                            f"deep as the candidates kept")
    if args.candidates and args.first_stage != "bm25":
        raise PipelineError(f"--candidates replaces the first stage: drop --first-stage {args.first_stage}")
    topics = ds.topics_for(split)
    qrels = ds.qrels(split)
    if not topics:
        raise PipelineError(f"{ds.name}:{split} has no judged queries in {ds.topics}")
    name = Path(args.reranker).name + ("" if model_dir is None or args.dtype == "fp32" else f".{args.dtype}")
    if stage != "bm25":
        name = f"{stage}.{name}" if model_dir is not None else stage
    if ds.topic_field != "title":  # a run of other query texts never overwrites the title run
        name = f"{name}.{ds.topic_field}"
    splitting = _splitting(args, model_dir)
    if splitting is not None:  # nor a run of passage scores the run of whole documents
        name = f"{name}.{splitting.aggregate}p"
    output = args.output or RUNS / f"{ds.name}.{split}.{name}.trec"

    world = distributed.world()
    try:
        return _run(args, world, ds, split, topics, qrels, model_dir, splitting, tag, output, t_start)
    finally:
        distributed.finish()


def _splitting(args: argparse.Namespace, model_dir: Path | None) -> Splitting | None:
    """The long-document flags as a :class:`Splitting`, or None when documents are not split."""
    if args.aggregate == "first" and args.passage_length is None and args.stride is None:
        return None
    if model_dir is None or is_ensemble(model_dir):
        raise PipelineError("--aggregate, --passage-length and --stride split documents for a cross-encoder "
                            "reranker: give --reranker")
    length = args.passage_length or 150
    return Splitting(length=length, stride=args.stride or min(75, length), aggregate=args.aggregate, k=args.kmax)


def _run(args: argparse.Namespace, world: distributed.World, ds, split: str, topics: dict, qrels: dict,
         model_dir: Path | None, splitting: Splitting | None, tag: str, output: Path, t_start: float) -> int:
    """Everything after argument checking; under ``torchrun`` only rank 0 locks, searches and writes."""
    with exclusive(output, "written") if world.main else contextlib.nullcontext():
        timings: dict = {}
        stage = _first_stage_name(args, ds, split)  # bm25, bm25+rm3, qld, dense, hybrid...
        # a dataset's official candidates stand in for BM25 only: --first-stage dense|hybrid searches
        candidates_path = args.candidates or (ds.split(split).candidates if args.first_stage == "bm25" else None)
        if not world.main:
            candidates = world.broadcast(None)
        elif candidates_path is not None:
            candidates = read_run(candidates_path)
            unknown = [q for q in candidates if q not in topics]
            candidates = {q: docs for q, docs in candidates.items() if q in topics}
            if not candidates:
                raise PipelineError(f"{candidates_path}: none of its queries are in {ds.name}:{split} "
                                    f"({len(unknown)} unknown, e.g. {unknown[:3]})")
            candidates = truncate(candidates, args.depth)
        else:
            candidates = first_stage_run(args, ds, split, topics, timings)
        if world.main:
            candidates = world.broadcast(candidates)
            first_stage = evaluate(candidates, qrels)
            query_warnings = {"queries_without_candidates": [q for q in topics if not candidates.get(q)],
                              "judged_queries_without_topic": [q for q in qrels if q not in topics]}
            for note in _query_notes(query_warnings):
                print(note, file=sys.stderr)
        elif model_dir is None:  # nothing to share out: rank 0 writes the first stage's run
            return 0

        rerank_stats = ensemble = None
        model_info: dict = {}
        if model_dir is None:
            run = candidates
        elif is_ensemble(model_dir):
            if world.distributed:
                raise PipelineError("an ensemble reranks in one process: run it without torchrun")
            members = read_ensemble(model_dir)
            check_first_stage(members, run_tag(candidates_path) if candidates_path else stage, args.k1, args.b)
            run, ensemble = ensemble_rerank(members, candidates, topics, _passages(args, ds), f"{ds.name}.{split}",
                                            progress=not args.no_progress)
            model_info = {"path": str(model_dir.resolve()), "ensemble": ensemble}
            timings["rerank_s"] = ensemble["seconds"]
        else:
            import torch

            from pipeline.crossencoder import CrossEncoder, available_cores
            from pipeline.models import hub_origin
            from pipeline.rerank import rerank

            device = world.device(args.device)
            t0 = time.perf_counter()
            model = CrossEncoder(model_dir, device=device, dtype=args.dtype, batch_size=args.batch_size,
                                 max_length=args.max_length, threads=world.cpu_threads(available_cores()),
                                 allow_untrained_head=args.allow_untrained_head)
            passages = _passages(args, ds)
            timings["model_load_s"] = round(time.perf_counter() - t0, 3)
            weights = sorted(model_dir.glob("*.safetensors"))
            model_info = {"path": str(model_dir.resolve()), "num_labels": model.num_labels,
                          "max_length": model.max_length, "dtype": args.dtype, "device": device,
                          "batch_size": args.batch_size, "weights_bytes": sum(w.stat().st_size for w in weights),
                          "ranks": world.size, **({"hub": hub} if (hub := hub_origin(model_dir)) else {})}
            settings = {**model_info, "device": torch.device(device).type, "ranks": None,
                        "weights_mtime": [w.stat().st_mtime_ns for w in weights],
                        **({"topic_field": ds.topic_field} if ds.topic_field != "title" else {})}
            scored = candidates
            if splitting is not None:
                scored, passages, model_info["passages"] = split_candidates(candidates, passages, splitting)
                settings["passages"] = model_info["passages"]
            checkpoint = output.with_name(output.name + ".partial")
            run, rerank_stats = rerank(scored, topics, passages, model, checkpoint, settings,
                                       chunk_pairs=args.chunk_pairs, progress=not args.no_progress, world=world,
                                       checkpoint_seconds=args.checkpoint_seconds)
            if not world.main:
                return 0
            if splitting is not None:
                run = document_run(run, candidates, splitting)
            timings["rerank_s"] = round(rerank_stats.seconds, 3)

        write_run(output, run, tag, fmt=args.output_format)
        if rerank_stats is not None:
            from pipeline.rerank import checkpoint_files

            for path in checkpoint_files(output.with_name(output.name + ".partial")):
                path.unlink(missing_ok=True)
        result = evaluate(run, qrels)
        timings["total_s"] = round(time.perf_counter() - t_start, 3)
        config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "debug"}
        config.update(split=split, tag=tag, remove_query=ds.remove_query,
                      candidates=str(candidates_path) if candidates_path else stage)
        write_json(Path(f"{output}.json"), record(
            config=config, seed=args.seed, queries=len(candidates), model=model_info, timings=timings,
            reranking=rerank_stats.as_dict() if rerank_stats else None,
            evaluation=result.aggregate, first_stage_evaluation=first_stage.aggregate, warnings=query_warnings))
        save(result, EVAL / f"{output.name}.json", run=str(output), dataset=ds.name, split=split)
        print(f"{ds.name}:{split} {stage} -> {args.reranker if model_dir else 'no reranking'}  ->  "
              f"{output}")
        if model_dir is not None:
            width = max(len(m) for m in result.measures)
            print(f"{'':<{width}}  {'first':>7}  {'rerank':>7}")
            for m in result.measures:
                print(f"{m:<{width}}  {first_stage.aggregate[m]:7.4f}  {result.aggregate[m]:7.4f}")
            print(f"({result.queries} queries; {result.convention})")
            if ensemble is not None:
                spent = ["cached" if m["cached"] else f"{m['seconds']} s" for m in ensemble["members"]]
                print(f"{ensemble['pairs']} pairs by " + ", ".join(
                    f"{m['member']} x {m['weight']} ({t})" for m, t in zip(ensemble["members"], spent, strict=True)))
            else:
                if (split_info := model_info.get("passages")) is not None:
                    print(f"{split_info['documents']} documents as {split_info['passages']} passages of "
                          f"{split_info['length']} words (stride {split_info['stride']}; "
                          f"{split_info['split_documents']} documents split), {split_info['aggregate']} per document")
                print(f"{rerank_stats.pairs} pairs, {rerank_stats.pairs_per_s:.1f} pairs/s, "
                      f"{rerank_stats.truncated_passages} passages truncated, "
                      f"{rerank_stats.recomputed_fp32_batches} batches recomputed in fp32")
        else:
            print(result.table())
    return 0


def _passages(args: argparse.Namespace, ds):
    """The candidates' texts: ``--collection``, else the dataset's corpus file, else the index's stored documents."""
    from pipeline.passages import Passages

    if args.collection:
        return Passages(docs=corpora.read_corpus(args.collection, args.collection_format))
    if hasattr(ds, "passages"):  # an irds: dataset: ir_datasets' docstore
        return ds.passages()
    if ds.corpus.is_file():
        return Passages(docs=ds.docs())
    return Passages(index=args.index or index_dir(ds.name))


def main_cli() -> None:
    """Console-script entry point."""
    run_main(main)


if __name__ == "__main__":
    main_cli()
