"""The paper's comparison as a library: the models present, their runs (cached by a fingerprint
of their weights), their speeds measured in one process, rows carried from an earlier table, and
the table and plot that ``python -m pipeline.experiment distillation`` writes.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.collection.datasets import get_dataset
from pipeline.common.atomic import write_json, write_text
from pipeline.common.errors import PipelineError
from pipeline.common.paths import EVAL, MODELS, RUNS
from pipeline.common.timing import interleaved_seconds
from pipeline.evaluation.measures import evaluate
from pipeline.evaluation.significance import paired_t_test
from pipeline.runfiles.trec import Run, rank, read_run
from pipeline.training.procedures import PROCEDURES, Distillation, student_dir

DATASETS = ("car-test200:test", "scifact:test", "msmarco-dl19:test")


MEASURES = ("ndcg@10", "mrr@10", "map")


@dataclass
class Entry:
    """One row model: its name, how it was made, and where it lives (``None`` for BM25)."""

    model: str
    procedure: str
    layers: int | None
    hidden: int | None
    path: Path | None


def model_order() -> list[str]:
    """Every row model's name in table order: BM25, the teacher, then each procedure at 6 and at 4 layers."""
    return ["bm25", "teacher"] + [student_dir(Path(), layers, proc).name for layers in (6, 4) for proc in PROCEDURES]


def entries(models: Path, teacher: Path | None = None) -> tuple[list[Entry], dict[str, str]]:
    """The models present (the teacher first: ``teacher``, default ``models/teacher``, a cross-encoder
    or an ensemble's directory), and the build commands of those missing, by name: they name the
    teacher and the output where these are not ``pipeline.distill``'s defaults, so that each makes
    the student this table looks for."""
    from transformers import AutoConfig

    from pipeline.common.pretrained import minilm
    from pipeline.rerank.ensemble import is_ensemble
    from pipeline.training.initialise import is_the_lm

    lm = AutoConfig.from_pretrained(minilm())
    found: list[Entry] = [Entry("bm25", "bm25", None, None, None)]
    missing: dict[str, str] = {}
    teacher = teacher or models / "teacher"
    if is_ensemble(teacher):
        found.append(Entry("teacher", "ensemble", None, None, teacher))
    candidates = [] if is_ensemble(teacher) else [("teacher", "teacher", teacher, "python -m pipeline.train teacher")]
    for layers in (6, 4):
        for proc in PROCEDURES:
            path, defaults = student_dir(models, layers, proc), Distillation(layers, proc)  # pipeline.distill's
            command = f"python -m pipeline.distill --student {layers}L --procedure {proc}"
            if defaults.needs_teacher and teacher.resolve() != defaults.teacher.resolve():
                command += f" --teacher {teacher}"  # the table's teacher, not the command's default
            if path.resolve() != defaults.destination.resolve():
                command += f" --output {path}"
            if proc == "lm-then-finetune" and is_the_lm(lm, layers):
                command += (f" (the same model as student{layers}L-finetune: LM distillation at the pretrained "
                            "LM's own shape is the identity)")
            candidates.append((path.name, proc, path, command))
    for name, proc, path, command in candidates:
        if (path / "config.json").is_file():
            config = json.loads((path / "config.json").read_text())
            record = path / "pipeline-training.json"  # a student's name says its default procedure; its
            if proc != "teacher" and record.is_file():  # record, the one that made it (student4L: the best)
                proc = json.loads(record.read_text()).get("procedure", proc)
            found.append(Entry(name, proc, config["num_hidden_layers"], config["hidden_size"], path))
        else:
            missing[name] = command
    if len(found) == 1 or found[1].model != "teacher":
        raise PipelineError(f"no teacher in {teacher}; build it with `python -m pipeline.train teacher` "
                            "(or `make models`)")
    return found, missing


def reference(spec: str, folder: Path) -> Entry:
    """A reference ranker's row (``--reference bi-encoder:mpnet``: an ensemble member's spec, reranking
    alone): a one-member ensemble written in ``folder``, so its runs share the member's cached scores
    with any ensemble teacher that has it."""
    from pipeline.rerank.ensemble import is_ensemble, parse_member, read_ensemble, write_ensemble

    member = parse_member(spec)
    if member.kind == "bm25":
        raise PipelineError("--reference bm25: BM25 is always the table's first row")
    name = f"{member.kind}-{Path(member.path).name}"
    config = member.location / "config.json"
    shape = json.loads(config.read_text()) if config.is_file() else {}
    if not is_ensemble(folder / name) or read_ensemble(folder / name) != [member]:  # rewritten, it would
        write_ensemble(folder / name, [member], reference=spec)  # get a new fingerprint and be reranked again
    return Entry(name, "reference", shape.get("num_hidden_layers"), shape.get("hidden_size"), folder / name)


def fingerprint(path: Path) -> str:
    """Eight hex digits that change when the model's weights or config change (an ensemble's: any member's)."""
    from pipeline.rerank.ensemble import is_ensemble, read_ensemble

    parts: list[tuple] = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.iterdir())
                          if p.suffix in (".safetensors", ".json")]
    if is_ensemble(path):
        parts += [(m.label, fingerprint(m.location)) for m in read_ensemble(path) if m.kind != "bm25"]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:8]


def produce_run(entry: Entry, dataset: str, split: str, depth: int, batch_size: int, max_length: int | None,
                out_dir: Path) -> Path:
    """The run of ``entry`` on ``dataset:split`` (BM25 top ``depth``, reranked), made by ``pipeline.run`` once."""
    from pipeline.candidates.first_stage import FirstStage
    from pipeline.experiments.end_to_end import RunSettings, run_job

    name = entry.model if entry.path is None else f"{entry.model}.{fingerprint(entry.path)}"
    suffix = f".m{max_length}" if max_length and entry.path is not None else ""
    out = out_dir / f"{dataset}.{split}.{name}.d{depth}{suffix}.trec"
    if out.is_file():
        return out
    print(f"== {entry.model} on {dataset}:{split} (top {depth})", file=sys.stderr)
    run_job(RunSettings(dataset=dataset, split=split, first=FirstStage(depth=depth), output=out,
                        reranker="bm25" if entry.path is None else str(entry.path), batch_size=batch_size,
                        tag=entry.model.replace("+", "_")[:15], max_length=max_length or None))
    return out


def speeds(found: list[Entry], pairs: list[tuple[str, str, float]], rounds: int, batch_size: int,
           max_length: int | None) -> dict[str, float]:
    """Median pairs/s of every model on the same ``pairs`` (query, passage, BM25 score), timed in
    interleaved rounds, tokenization included; an ensemble computes every member afresh."""
    from pipeline.rerank.crossencoder import CrossEncoder
    from pipeline.rerank.ensemble import EnsembleScorer, is_ensemble, read_ensemble

    queries, passages, bm25 = [q for q, _, _ in pairs], [p for _, p, _ in pairs], [s for _, _, s in pairs]
    models = {e.model: EnsembleScorer(read_ensemble(e.path)) if is_ensemble(e.path)
              else CrossEncoder(e.path, batch_size=batch_size, max_length=max_length) for e in found if e.path}

    def scorer(model: CrossEncoder | EnsembleScorer) -> Callable[[], object]:
        if isinstance(model, EnsembleScorer):
            return lambda: model.score(queries, passages, bm25)
        return lambda: model.score(queries, passages)

    seconds = interleaved_seconds({name: scorer(m) for name, m in models.items()}, rounds)
    return {name: len(pairs) / s for name, s in seconds.items()}


def speed_pairs(dataset: str, split: str, run: Run, n: int) -> list[tuple[str, str, float]]:
    """The first ``n`` (query, passage, BM25 score) triples of the BM25 ``run`` in rank order: real pairs for timing."""
    ds = get_dataset(dataset)
    topics = ds.topics_for(split)
    texts = {d.id: d.contents for d in ds.docs()}
    pairs = [(topics[q], texts[d], score) for q in run for d, score in rank(run[q])[:16] if d in texts]
    return pairs[:n]


def carried_rows(previous: list[dict], rows: list[dict], present: set[str]) -> tuple[list[dict], list[str]]:
    """Rows of ``previous`` for models not ``present``, kept where that run's BM25 and teacher rows equal ``rows``'.

    Returns the kept rows and, for the test sets where the previous run differs, why nothing was kept.
    """
    def anchor(table: list[dict], key: tuple[str, str]) -> list[tuple]:
        return sorted((r["model"], r.get("depth"), *(r[m] for m in MEASURES)) for r in table
                      if (r["dataset"], r["split"]) == key and r["model"] in ("bm25", "teacher"))

    kept, dropped = [], []
    for key in dict.fromkeys((r["dataset"], r["split"]) for r in rows):
        old = [r for r in previous if (r["dataset"], r["split"]) == key and r["model"] not in present]
        if not old:
            continue
        if anchor(previous, key) != anchor(rows, key):
            dropped.append(f"{key[0]}:{key[1]} (its BM25 or teacher rows differ from this run's)")
            continue
        kept += [{**r, "carried": True} for r in old]
    return kept, dropped


def table_markdown(rows: list[dict], missing: dict[str, str], settings: dict) -> str:
    """``eval/distillation.md``: one table per dataset, then how it was made."""
    lines = ["# Distillation: effectiveness and speed", "",
             f"Reranking the BM25 top {settings['depth']} (DL 2019: its official top 100) on a "
             f"{settings['device']}; pairs/s measured in the same process on {settings['speed_pairs']} real pairs, "
             f"{settings['rounds']} interleaved rounds, median. p: paired t-test on per-query nDCG@10.", ""]
    for key in dict.fromkeys((r["dataset"], r["split"]) for r in rows):
        sub = [r for r in rows if (r["dataset"], r["split"]) == key]
        lines += [f"## {key[0]} {key[1]} ({sub[0]['queries']} queries)", "",
                  "| model | procedure | layers | hidden | nDCG@10 | MRR@10 | MAP | % of teacher nDCG@10 "
                  "| pairs/s | speedup | p vs teacher | p vs BM25 |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in sub:
            def fmt(v, spec):
                return "—" if v is None else format(v, spec)
            name = f"{r['model']} †" if r.get("carried") else r["model"]
            lines.append(f"| {name} | {r['procedure']} | {fmt(r['layers'], 'd')} | {fmt(r['hidden'], 'd')} "
                         f"| {r['ndcg@10']:.4f} | {r['mrr@10']:.4f} | {r['map']:.4f} "
                         f"| {fmt(r['pct_of_teacher_ndcg@10'], '.1f')} | {fmt(r['pairs_per_s'], '.1f')} "
                         f"| {fmt(r['speedup_vs_teacher'], '.2f')} | {fmt(r['p_vs_teacher'], '.3g')} "
                         f"| {fmt(r['p_vs_bm25'], '.3g')} |")
        lines.append("")
    carried = sorted({r["measured"] for r in rows if r.get("carried")})
    if carried:
        lines += [f"† not on the machine of this run: carried over from the run of {', '.join(carried)}, whose BM25 "
                  "and teacher rows equal these (same teacher, same candidates); its pairs/s and speedup were "
                  "measured in that run.", ""]
    if missing:
        lines += ["Not in the table (model not built):", ""]
        lines += [f"- {name}: {command}" for name, command in missing.items()] + [""]
    lines += ["Reproduce: `" + settings["command"] + "`", ""]
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """nDCG@10 against pairs/s (log scale), one panel per dataset; BM25 as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys((r["dataset"], r["split"]) for r in rows))
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        sub = [r for r in rows if (r["dataset"], r["split"]) == key]
        for r in sub:
            if r["pairs_per_s"] is None:
                ax.axhline(r["ndcg@10"], ls="--", color="grey", lw=1, label="BM25")
                continue
            marker = {"teacher": "*", 6: "o", 4: "s"}.get(r["model"] if r["model"] == "teacher" else r["layers"], "^")
            ax.scatter(r["pairs_per_s"], r["ndcg@10"], marker=marker, s=60)
        ax.set_xscale("log")
        ax.autoscale_view()
        placed: list[tuple[float, float]] = []  # label anchors in pixels: near-equal points get stacked labels
        for r in sorted((r for r in sub if r["pairs_per_s"] is not None), key=lambda r: -r["ndcg@10"]):
            x, y = ax.transData.transform((r["pairs_per_s"], r["ndcg@10"]))
            dy = 3
            while any(abs(x - px) < 60 and abs(y + dy - py) < 9 for px, py in placed):
                dy -= 9
            placed.append((x, y + dy))
            ax.annotate(r["model"], (r["pairs_per_s"], r["ndcg@10"]), fontsize=7, xytext=(4, dy),
                        textcoords="offset points")
        ax.set_xlabel("reranking speed (pairs/s, log)")
        ax.set_ylabel("nDCG@10")
        ax.set_title(f"{key[0]} {key[1]}")
        ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


@dataclass(frozen=True)
class DistillationExperiment:
    """The comparison's settings (``python -m pipeline.experiment --help`` explains each)."""

    datasets: tuple[str, ...] = DATASETS
    depth: int = 100
    max_length: int | None = None
    batch_size: int = 32
    speed_pairs: int = 256
    rounds: int = 3
    models: Path = MODELS
    teacher: Path | None = None  # default: models/teacher; a cross-encoder's or an ensemble's directory
    references: tuple[str, ...] = ()  # ensemble member specs ranking alone, e.g. bi-encoder:mpnet
    runs_dir: Path = RUNS / "experiment"
    output_dir: Path = EVAL
    fresh: bool = False
    command: str = "python -m pipeline.experiment distillation"


def distillation(settings: DistillationExperiment) -> list[dict]:
    """Build the comparison: rerank, evaluate and time every model present, carry the rows of
    those absent, write ``distillation.json``, ``.md`` and ``.png`` to ``output_dir``, and return
    the rows (the table is printed)."""
    import torch

    if settings.depth < 1 or settings.rounds < 1 or settings.speed_pairs < 1:
        raise PipelineError("--depth, --rounds and --speed-pairs must be at least 1")

    found, missing = entries(settings.models, settings.teacher)
    found[2:2] = [reference(spec, settings.runs_dir / "references") for spec in settings.references]
    datasets = []
    for spec in settings.datasets:
        name, _, split = spec.partition(":")
        ds = get_dataset(name)
        split = split or ds.default_split
        try:
            ds.qrels(split)
        except PipelineError as err:
            if spec in DATASETS and name == "msmarco-dl19":
                print(f"skipping {spec}: {err}", file=sys.stderr)
                continue
            raise
        datasets.append((name, split))
    runs: dict[tuple[str, str, str], Run] = {}
    for name, split in datasets:
        depth = 100 if name == "msmarco-dl19" else settings.depth
        for e in found:
            runs[name, split, e.model] = read_run(produce_run(e, name, split, depth, settings.batch_size,
                                                              settings.max_length, settings.runs_dir))
    first = datasets[0]
    pairs = speed_pairs(*first, runs[first[0], first[1], "bm25"], settings.speed_pairs)
    print(f"timing {len(found) - 1} models on {len(pairs)} pairs of {first[0]}:{first[1]}, "
          f"{settings.rounds} rounds", file=sys.stderr)
    rate = speeds(found, pairs, settings.rounds, settings.batch_size, settings.max_length)
    rows = []
    measured = datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ")
    for name, split in datasets:
        qrels = get_dataset(name).qrels(split)
        evals = {e.model: evaluate(runs[name, split, e.model], qrels, MEASURES) for e in found}
        ndcg = {model: [v["ndcg@10"] for v in ev.per_query.values()] for model, ev in evals.items()}
        teacher = evals["teacher"].aggregate["ndcg@10"]
        for e in found:
            agg = evals[e.model].aggregate
            rows.append({
                "model": e.model, "procedure": e.procedure, "layers": e.layers, "hidden": e.hidden,
                "dataset": name, "split": split, "queries": evals[e.model].queries,
                "depth": 100 if name == "msmarco-dl19" else settings.depth, "measured": measured,
                **{m: agg[m] for m in MEASURES},
                "pct_of_teacher_ndcg@10": 100 * agg["ndcg@10"] / teacher if teacher else None,
                "pairs_per_s": rate.get(e.model),
                "speedup_vs_teacher": rate[e.model] / rate["teacher"] if e.model in rate else None,
                "p_vs_teacher": None if e.model == "teacher" else paired_t_test(ndcg["teacher"], ndcg[e.model]),
                "p_vs_bm25": None if e.model == "bm25" else paired_t_test(ndcg["bm25"], ndcg[e.model]),
            })
    previous_path = settings.output_dir / "distillation.json"
    if not settings.fresh and previous_path.is_file():
        kept, dropped = carried_rows(json.loads(previous_path.read_text()), rows, {e.model for e in found})
        for reason in dropped:
            print(f"not carrying earlier rows of {reason}", file=sys.stderr)
        sets = {key: i for i, key in enumerate(dict.fromkeys((r["dataset"], r["split"]) for r in rows))}
        names = {name: i for i, name in enumerate(model_order())}
        rows = sorted(rows + kept, key=lambda r: (sets[r["dataset"], r["split"]], names.get(r["model"], len(names))))
        for r in kept:
            missing.pop(r["model"], None)
    device = "GPU" if torch.cuda.is_available() else f"CPU ({torch.get_num_threads()} threads)"
    table = {"depth": settings.depth, "rounds": settings.rounds, "speed_pairs": len(pairs), "device": device,
             "command": settings.command}
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    write_json(settings.output_dir / "distillation.json", rows)
    write_text(settings.output_dir / "distillation.md", table_markdown(rows, missing, table))
    plot(rows, settings.output_dir / "distillation.png")
    print(table_markdown(rows, missing, table))
    print(f"wrote {settings.output_dir / 'distillation.md'}, .json and .png", file=sys.stderr)
    return rows
