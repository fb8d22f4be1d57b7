"""The whole job: first stage -> optional reranking -> a TREC run and its sidecar -> evaluation.

:class:`RunSettings` holds what ``python -m pipeline.run`` takes (its flags, by the same names; the
first stage's in :class:`pipeline.candidates.first_stage.FirstStage`), and :func:`run_job` does the job for
the command and for Python callers alike:

    result = run_job(RunSettings(dataset="scifact", reranker="student4L", first=FirstStage(depth=100)))
    result.evaluation.aggregate["ndcg@10"], result.output

Reranking is resumable: after a kill, the same job continues from the last finished chunk of
queries and writes the same run file as an uninterrupted one. Under ``torchrun`` rank 0 produces
the candidates and sends them to every rank, the ranks rerank shares balanced by token count,
and rank 0 writes the one run file, sidecar and evaluation (the other ranks get ``None``).
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from pipeline.candidates.first_stage import FirstStage, candidates_for
from pipeline.collection.datasets import get_dataset
from pipeline.common import distributed
from pipeline.common.atomic import write_json
from pipeline.common.errors import PipelineError
from pipeline.common.locks import exclusive
from pipeline.common.paths import EVAL, RUNS
from pipeline.common.provenance import record, weights_mtimes
from pipeline.evaluation.measures import Evaluation, evaluate, save
from pipeline.indexing.lucene import index_dir
from pipeline.rerank.ensemble import Member, check_first_stage, ensemble_rerank, is_ensemble, read_ensemble
from pipeline.rerank.long_documents import Splitting, document_run, split_candidates
from pipeline.runfiles.trec import Run, run_tag, validate_tag, write_run

DEFAULT_DATASET = "scifact"


@dataclass(frozen=True)
class RunSettings:
    """One run of the whole job (``pipeline.run``'s flags; ``reranker`` ``none``/``bm25`` reranks nothing)."""

    dataset: str = DEFAULT_DATASET
    split: str | None = None  # default: the dataset's test split
    topic_field: str | None = None  # default: the dataset's
    reranker: str = "none"
    allow_untrained_head: bool = False
    first: FirstStage = field(default_factory=FirstStage)
    batch_size: int = 32
    device: str | None = None
    dtype: str = "fp32"
    max_length: int | None = None
    chunk_pairs: int = 8192
    checkpoint_seconds: float = 60.0
    aggregate: str = "first"  # long documents (pipeline.rerank.long_documents)
    passage_length: int | None = None
    stride: int | None = None
    kmax: int = 3
    collection: Path | None = None  # passage texts for candidates from another corpus
    collection_format: str = "jsonl"
    output: Path | None = None  # default: runs/<dataset>.<split>.<name>.trec
    output_format: str = "trec"
    tag: str | None = None
    seed: int = 42
    no_progress: bool = False

    @classmethod
    def from_flags(cls, flags: object) -> RunSettings:
        """The settings from an object with an attribute per field (an ``argparse.Namespace``)."""
        first = FirstStage(**{f.name: getattr(flags, f.name) for f in fields(FirstStage)})
        return cls(**{f.name: getattr(flags, f.name) for f in fields(cls) if f.name != "first"}, first=first)

    def as_config(self) -> dict:
        """One flat dict of every setting, by flag name (paths as text): the sidecar's ``config``."""
        flat = {**{k: v for k, v in asdict(self).items() if k != "first"}, **asdict(self.first)}
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in flat.items()}


@dataclass
class JobResult:
    """What one job made: the run file and sidecar, the run, and both evaluations."""

    output: Path
    dataset: str  # the dataset's registered name
    run: Run
    evaluation: Evaluation
    first_stage_evaluation: Evaluation
    settings: RunSettings  # as run: defaults filled in
    stage: str  # the first stage's name (bm25, bm25+rm3, dense, hybrid, ...)
    reranked: bool
    model: dict  # the model's record in the sidecar (ensemble members, passages, ...)
    reranking: dict | None  # reranking statistics (None for none and for ensembles)
    warnings: dict[str, list[str]]


def query_notes(warnings: dict[str, list[str]], shown: int = 5) -> list[str]:
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


def _splitting(settings: RunSettings, cross_encoder: bool) -> Splitting | None:
    """The long-document settings as a :class:`Splitting`, or None when documents are not split."""
    if settings.aggregate == "first" and settings.passage_length is None and settings.stride is None:
        return None
    if not cross_encoder:
        raise PipelineError("--aggregate, --passage-length and --stride split documents for a cross-encoder "
                            "reranker: give --reranker")
    length = settings.passage_length or 150
    return Splitting(length=length, stride=settings.stride or min(75, length), aggregate=settings.aggregate,
                     k=settings.kmax)


def passages_for(settings: RunSettings, ds):
    """The candidates' texts: ``collection``, else the dataset's corpus file, else the index's stored documents."""
    from pipeline.collection import corpora
    from pipeline.indexing.passages import Passages

    if settings.collection:
        return Passages(docs=corpora.read_corpus(settings.collection, settings.collection_format))
    if hasattr(ds, "passages"):  # an irds: dataset: ir_datasets' docstore
        return ds.passages()
    if ds.corpus.is_file():
        return Passages(docs=ds.docs())
    return Passages(index=settings.first.index or index_dir(ds.name))


def run_job(settings: RunSettings, on_warning: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
            ) -> JobResult | None:
    """Run the whole job; ``on_warning`` gets each counted warning line as soon as it is known.

    Writes the run file (atomically, under a lock), its JSON sidecar (settings, versions, seed,
    timings, reranking statistics, both evaluations) and the evaluation under ``eval/``.
    """
    from pipeline.rerank.registry import resolve

    if settings.reranker == "none":
        settings = replace(settings, reranker="bm25")  # one name inside: outputs, tags and sidecars as they were
    t_start = time.perf_counter()
    random.seed(settings.seed)
    model_dir = resolve(settings.reranker)
    ds = get_dataset(settings.dataset)
    if settings.topic_field:
        ds = replace(ds, topic_field=settings.topic_field)
    split = settings.split or ds.default_split
    settings = replace(settings, topic_field=ds.topic_field, first=settings.first.checked(ds, split))
    stage = settings.first.name
    tag = validate_tag(settings.tag or _default_tag(settings.reranker if settings.reranker != "bm25" else stage,
                                                    settings.dtype))
    topics = ds.topics_for(split)
    qrels = ds.qrels(split)
    if not topics:
        raise PipelineError(f"{ds.name}:{split} has no judged queries in {ds.topics}")
    name = Path(settings.reranker).name + ("" if model_dir is None or settings.dtype == "fp32"
                                           else f".{settings.dtype}")
    if stage != "bm25":
        name = f"{stage}.{name}" if model_dir is not None else stage
    if ds.topic_field != "title":  # a run of other query texts never overwrites the title run
        name = f"{name}.{ds.topic_field}"
    members = read_ensemble(model_dir) if model_dir is not None and is_ensemble(model_dir) else None
    splitting = _splitting(settings, model_dir is not None and members is None)
    if splitting is not None:  # nor a run of passage scores the run of whole documents
        name = f"{name}.{splitting.aggregate}p"
    output = settings.output or RUNS / f"{ds.name}.{split}.{name}.trec"
    world = distributed.world()
    try:
        return _job(settings, world, ds, split, topics, qrels, model_dir, members, splitting, tag, output, t_start,
                    on_warning)
    finally:
        distributed.finish()


def _job(settings: RunSettings, world: distributed.World, ds, split: str, topics: dict, qrels: dict,
         model_dir: Path | None, members: list[Member] | None, splitting: Splitting | None, tag: str,
         output: Path, t_start: float, on_warning: Callable[[str], None]) -> JobResult | None:
    """Everything after the settings are checked; under ``torchrun`` only rank 0 locks, searches and writes."""
    first, progress = settings.first, not settings.no_progress
    with exclusive(output, "written") if world.main else contextlib.nullcontext():
        timings: dict = {}
        if world.main:
            candidates, candidates_path = candidates_for(first, ds, split, topics, timings, progress=progress)
        else:
            candidates, candidates_path = world.broadcast(None), None
        if world.main:
            candidates = world.broadcast(candidates)
            first_stage = evaluate(candidates, qrels)
            query_warnings = {"queries_without_candidates": [q for q in topics if not candidates.get(q)],
                              "judged_queries_without_topic": [q for q in qrels if q not in topics]}
            for note in query_notes(query_warnings):
                on_warning(note)
        elif model_dir is None:  # nothing to share out: rank 0 writes the first stage's run
            return None

        rerank_stats = None
        model_info: dict = {}
        if model_dir is None:
            run = candidates
        elif members is not None:
            if world.distributed:
                raise PipelineError("an ensemble reranks in one process: run it without torchrun")
            check_first_stage(members, run_tag(candidates_path) if candidates_path else first.name, first.k1, first.b)
            run, ensemble = ensemble_rerank(members, candidates, topics, passages_for(settings, ds),
                                            f"{ds.name}.{split}", progress=progress)
            model_info = {"path": str(model_dir.resolve()), "ensemble": ensemble}
            timings["rerank_s"] = ensemble["seconds"]
        else:
            import torch

            from pipeline.common.distributed import available_cores
            from pipeline.rerank.crossencoder import CrossEncoder
            from pipeline.rerank.registry import hub_origin
            from pipeline.rerank.rescore import rerank

            device = world.device(settings.device)
            t0 = time.perf_counter()
            model = CrossEncoder(model_dir, device=device, dtype=settings.dtype, batch_size=settings.batch_size,
                                 max_length=settings.max_length, threads=world.cpu_threads(available_cores()),
                                 allow_untrained_head=settings.allow_untrained_head)
            passages = passages_for(settings, ds)
            timings["model_load_s"] = round(time.perf_counter() - t0, 3)
            weights = sorted(model_dir.glob("*.safetensors"))
            model_info = {"path": str(model_dir.resolve()), "num_labels": model.num_labels,
                          "max_length": model.max_length, "dtype": settings.dtype, "device": device,
                          "batch_size": settings.batch_size, "weights_bytes": sum(w.stat().st_size for w in weights),
                          "ranks": world.size, **({"hub": hub} if (hub := hub_origin(model_dir)) else {})}
            fingerprint = {**model_info, "device": torch.device(device).type, "ranks": None,
                           "weights_mtime": weights_mtimes(model_dir),
                           **({"topic_field": ds.topic_field} if ds.topic_field != "title" else {})}
            scored = candidates
            if splitting is not None:
                scored, passages, model_info["passages"] = split_candidates(candidates, passages, splitting)
                fingerprint["passages"] = model_info["passages"]
            checkpoint = output.with_name(output.name + ".partial")
            run, rerank_stats = rerank(scored, topics, passages, model, checkpoint, fingerprint,
                                       chunk_pairs=settings.chunk_pairs, progress=progress, world=world,
                                       checkpoint_seconds=settings.checkpoint_seconds)
            if not world.main:
                return None
            if splitting is not None:
                run = document_run(run, candidates, splitting)
            timings["rerank_s"] = round(rerank_stats.seconds, 3)

        write_run(output, run, tag, fmt=settings.output_format)
        if rerank_stats is not None:
            from pipeline.rerank.rescore import clear_checkpoint

            clear_checkpoint(output.with_name(output.name + ".partial"))
        result = evaluate(run, qrels)
        timings["total_s"] = round(time.perf_counter() - t_start, 3)
        config = settings.as_config()
        config.update(split=split, tag=tag, remove_query=ds.remove_query,
                      candidates=str(candidates_path) if candidates_path else first.name)
        reranking = rerank_stats.as_dict() if rerank_stats else None
        write_json(Path(f"{output}.json"), record(
            config=config, seed=settings.seed, queries=len(candidates), model=model_info, timings=timings,
            reranking=reranking, evaluation=result.aggregate, first_stage_evaluation=first_stage.aggregate,
            warnings=query_warnings))
        save(result, EVAL / f"{output.name}.json", run=str(output), dataset=ds.name, split=split)
    return JobResult(output=output, dataset=ds.name, run=run, evaluation=result, first_stage_evaluation=first_stage,
                     settings=replace(settings, split=split), stage=first.name, reranked=model_dir is not None,
                     model=model_info, reranking=reranking, warnings=query_warnings)
