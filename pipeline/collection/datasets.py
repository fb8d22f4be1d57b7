"""The dataset registry: which corpus, topics and qrels make up each named dataset and split.

Built in: ``car-test200`` and ``scifact`` (shipped in ``data/``) and ``msmarco-dl19`` (read from
``../shared/data/msmarco-dl19`` or ``$PIPELINE_DL19_DIR``; its licence keeps it out of the repo).
Users add their own in a TOML file (``datasets.toml`` in the project root, or the file named by
``$PIPELINE_DATASETS``)::

    [my-collection]
    corpus = "/data/collection.tsv"        # paths relative to this file are allowed
    corpus_format = "tsv"                  # jsonl | beir | tsv | car | trec (a file or a folder)
    topics = "/data/queries.tsv"
    topics_format = "tsv"                  # tsv | trec | beir | car-outlines
    topic_field = "title"                  # optional: title | description | narrative | title+description
    [my-collection.splits]
    dev = "/data/qrels.dev.txt"            # a qrels path, or a table:
    test = { qrels = "/data/qrels.test.txt", topics = "/data/queries.test.tsv", candidates = "/data/bm25.run" }

Any ``ir_datasets`` dataset is one by the name ``irds:<id>`` (``irds:beir/scifact/test``; see
:mod:`pipeline.collection.irds`), and ``--qrels``/``--topics`` take ``irds:<id>`` as they take ``DATASET:SPLIT``.

Splits are defined here, once and deterministically: TREC CAR pages go 60/20/20 to
train/dev/test by an MD5 of the page id; SciFact keeps its official train/test and holds out
the train queries whose MD5 bucket is below 20 (of 100) as dev.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.collection import corpora, topics
from pipeline.collection.corpora import Doc
from pipeline.collection.qrels import Qrels, read_qrels
from pipeline.collection.topics import Topics, read_topics
from pipeline.common.errors import PipelineError
from pipeline.common.paths import DATA, ROOT


def bucket(key: str) -> int:
    """A stable bucket in 0..99 for ``key`` (MD5-based, identical on every machine and run)."""
    return int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % 100


@dataclass(frozen=True)
class Split:
    """The judged queries of one split: a qrels file, optionally its own topics and first-stage run."""

    qrels: Path
    keep: Callable[[str], bool] | None = None  # which qids of the qrels belong to this split
    topics: Path | None = None
    topics_format: str | None = None
    candidates: Path | None = None  # an official first-stage run to rerank, when there is one


@dataclass(frozen=True)
class Dataset:
    """A corpus with its topics and per-split qrels."""

    name: str
    corpus: Path
    corpus_format: str
    topics: Path
    topics_format: str
    splits: dict[str, Split]
    description: str = ""
    remove_query: bool = False  # drop hits whose docid equals the qid (Anserini's -removeQuery for BEIR)
    default_split: str = "test"
    topic_field: str = "title"  # which text of each topic is the query (pipeline.collection.topics.FIELDS)

    def split(self, name: str) -> Split:
        """The split called ``name``, or an error listing the ones this dataset has."""
        if name not in self.splits:
            raise PipelineError(f"dataset {self.name!r} has no split {name!r}; it has: {', '.join(self.splits)}")
        return self.splits[name]

    def qrels(self, split: str) -> Qrels:
        """The judgments of ``split``."""
        s = self.split(split)
        qrels = read_qrels(s.qrels)
        return {q: d for q, d in qrels.items() if s.keep is None or s.keep(q)}

    def topics_for(self, split: str) -> Topics:
        """The queries of ``split`` (their :attr:`topic_field`): those with judgments in it, in the
        topics file's order."""
        s = self.split(split)
        path, fmt = (s.topics, s.topics_format or self.topics_format) if s.topics else (self.topics, self.topics_format)
        judged = self.qrels(split)
        queries = read_topics(path, fmt, self.topic_field)
        return {qid: text for qid, text in queries.items() if qid in judged}

    def docs(self) -> Iterator[Doc]:
        """Iterate over the corpus."""
        return corpora.read_corpus(self.corpus, self.corpus_format)


def _car_page(qid: str) -> str:
    return qid.split("/", 1)[0]


def _car_split(lo: int, hi: int) -> Callable[[str], bool]:
    return lambda qid: "/" in qid and lo <= bucket(_car_page(qid)) < hi


def _builtin() -> dict[str, Dataset]:
    car = DATA / "trec-car-test200"
    sci = DATA / "scifact"
    dl19 = Path(os.environ.get("PIPELINE_DL19_DIR", ROOT.parent / "shared" / "data" / "msmarco-dl19"))
    car_qrels = car / "all.test200.cbor.hierarchical.qrels"
    return {
        "car-test200": Dataset(
            name="car-test200",
            corpus=car / "all.test200.cbor.paragraphs", corpus_format="car",
            topics=car / "all.test200.cbor.outlines", topics_format="car-outlines",
            splits={"train": Split(car_qrels, _car_split(0, 60)),
                    "dev": Split(car_qrels, _car_split(60, 80)),
                    "test": Split(car_qrels, _car_split(80, 100))},
            description="TREC CAR v1.4 test200: 5,332 Wikipedia paragraphs, section-path queries, "
                        "hierarchical qrels; pages split 60/20/20 by MD5"),
        "scifact": Dataset(
            name="scifact",
            corpus=sci / "corpus.jsonl", corpus_format="beir",
            topics=sci / "queries.jsonl", topics_format="beir",
            splits={"train": Split(sci / "qrels" / "train.tsv", lambda q: bucket(q) >= 20),
                    "dev": Split(sci / "qrels" / "train.tsv", lambda q: bucket(q) < 20),
                    "test": Split(sci / "qrels" / "test.tsv")},
            remove_query=True,
            description="BEIR SciFact: 5,183 abstracts (title + text, flat); official train/test, "
                        "dev = 20% of train by MD5"),
        "msmarco-dl19": Dataset(
            name="msmarco-dl19",
            corpus=dl19 / "passages.tsv", corpus_format="tsv",
            topics=dl19 / "dl19.queries.tsv", topics_format="tsv",
            splits={"test": Split(dl19 / "qrels.dl19-passage.txt", candidates=dl19 / "dl19.bm25_top100.run")},
            description="TREC DL 2019 passage: 43 judged queries, graded qrels, the official BM25 top-100 "
                        "(candidate passages only; not committed, MS MARCO licence)"),
    }


def _resolve(base: Path, value: object, what: str, config: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise PipelineError(f"{config}: {what} must be a path string")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


ENTRY_KEYS = ("corpus", "corpus_format", "topics", "topics_format", "splits", "description", "remove_query",
              "default_split", "topic_field")
SPLIT_KEYS = ("qrels", "topics", "topics_format", "candidates")
_warned: set[str] = set()


def _user_datasets(config: Path) -> tuple[dict[str, Dataset], dict[str, str], list[str]]:
    """The datasets of ``config``, the entries it could not read (name -> error) and warnings.

    An error in one entry affects only that entry: it is raised when that dataset is used. A file
    that is not valid TOML has no entries to tell apart; its error stands under the name ``*``.
    """
    try:
        with open(config, "rb") as f:
            spec = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        return {}, {"*": f"{config}: not valid TOML ({err})"}, []
    except OSError as err:
        return {}, {"*": f"{config}: cannot read ({err.strerror})"}, []
    out, broken, warnings = {}, {}, []
    for name, entry in spec.items():
        try:
            out[name] = _user_dataset(config, name, entry, warnings)
        except PipelineError as err:
            broken[name] = str(err)
    return out, broken, warnings


def _user_dataset(config: Path, name: str, entry: object, warnings: list[str]) -> Dataset:
    where = f"[{name}]"
    if not isinstance(entry, dict):
        raise PipelineError(f"{config}: {where} must be a table")
    unknown = [k for k in entry if k not in ENTRY_KEYS]
    if unknown:
        warnings.append(f"{config}: {where} has unknown keys {', '.join(unknown)} (ignored; known: "
                        f"{', '.join(ENTRY_KEYS)})")
    missing = [k for k in ("corpus", "corpus_format", "topics", "topics_format", "splits") if k not in entry]
    if missing:
        raise PipelineError(f"{config}: {where} lacks {', '.join(missing)}")
    if entry["corpus_format"] not in corpora.FORMATS:
        raise PipelineError(f"{config}: {where} corpus_format must be one of {', '.join(corpora.FORMATS)}")
    if entry["topics_format"] not in topics.FORMATS:
        raise PipelineError(f"{config}: {where} topics_format must be one of {', '.join(topics.FORMATS)}")
    if entry.get("topic_field", "title") not in topics.FIELDS:
        raise PipelineError(f"{config}: {where} topic_field must be one of {', '.join(topics.FIELDS)}")
    splits = {}
    if not isinstance(entry["splits"], dict) or not entry["splits"]:
        raise PipelineError(f"{config}: {where} splits must be a table of split = qrels path")
    base = config.parent
    for split, value in entry["splits"].items():
        if isinstance(value, str):
            value = {"qrels": value}
        if not isinstance(value, dict) or "qrels" not in value:
            raise PipelineError(f"{config}: {where} split {split!r} needs a qrels path")
        unknown = [k for k in value if k not in SPLIT_KEYS]
        if unknown:
            warnings.append(f"{config}: {where} split {split!r} has unknown keys {', '.join(unknown)} (ignored)")
        splits[split] = Split(
            qrels=_resolve(base, value["qrels"], f"{where} {split}.qrels", config),
            topics=(_resolve(base, value["topics"], f"{where} {split}.topics", config)
                    if "topics" in value else None),
            topics_format=value.get("topics_format"),
            candidates=(_resolve(base, value["candidates"], f"{where} {split}.candidates", config)
                        if "candidates" in value else None))
    return Dataset(
        name=name,
        corpus=_resolve(base, entry["corpus"], f"{where} corpus", config), corpus_format=entry["corpus_format"],
        topics=_resolve(base, entry["topics"], f"{where} topics", config), topics_format=entry["topics_format"],
        splits=splits, description=str(entry.get("description", f"user dataset from {config}")),
        remove_query=bool(entry.get("remove_query", False)),
        default_split=str(entry.get("default_split", next(iter(splits)))),
        topic_field=entry.get("topic_field", "title"))


def _config() -> Path:
    return Path(os.environ.get("PIPELINE_DATASETS", ROOT / "datasets.toml"))


def _user() -> tuple[dict[str, Dataset], dict[str, str]]:
    """The user's datasets and broken entries; warnings go to stderr once per process."""
    config = _config()
    if not config.is_file():
        if "PIPELINE_DATASETS" in os.environ:
            raise PipelineError(f"{config}: no such dataset config (from $PIPELINE_DATASETS)")
        return {}, {}
    datasets, broken, warnings = _user_datasets(config)
    builtin = _builtin()
    warnings += [f"{config}: [{name}] replaces the built-in dataset {name!r}" for name in datasets if name in builtin]
    for warning in warnings:
        if warning not in _warned:
            _warned.add(warning)
            print(f"warning: {warning}", file=sys.stderr)
    return datasets, broken


def registry() -> dict[str, Dataset]:
    """All known datasets: the built-in ones, then the user's readable entries (which may override a
    built-in name, with a warning)."""
    return {**_builtin(), **_user()[0]}


def get_dataset(name: str) -> Dataset:
    """The dataset called ``name`` (``irds:<id>`` for an ir_datasets one), or an error that lists the known ones."""
    from pipeline.collection import irds

    if irds.is_irds(name):
        return irds.irds_dataset(name)
    user, broken = _user()
    datasets = {**_builtin(), **user}
    if name in broken:
        raise PipelineError(broken[name])
    if name not in datasets:
        note = f"; {broken['*']}" if "*" in broken else \
            f" (add your own in {_config()}, or name an ir_datasets one as irds:<id>)"
        raise PipelineError(f"unknown dataset {name!r}; known: {', '.join(sorted(datasets))}{note}")
    return datasets[name]


def dataset_split(spec: str) -> tuple[Dataset, str] | None:
    """``DATASET:SPLIT``, or ``irds:<id>[:SPLIT]`` (its one split), as a dataset and split when
    ``spec`` is no existing path."""
    if ":" not in spec or Path(spec).exists():
        return None
    if spec.startswith("irds:"):
        name, _, split = spec.partition(":")[2].partition(":")
        ds = get_dataset(f"irds:{name}")
        return ds, split or ds.default_split
    name, split = spec.split(":", 1)
    return get_dataset(name), split


def load_qrels(spec: str) -> Qrels:
    """Qrels from a path, or from a registered ``DATASET:SPLIT`` such as ``scifact:test`` (or ``irds:<id>``)."""
    named = dataset_split(spec)
    return named[0].qrels(named[1]) if named else read_qrels(spec)


def load_topics(spec: str, fmt: str | None = None) -> Topics:
    """Topics from a path (format from ``fmt`` or the extension: ``.jsonl`` beir, ``.tsv``/``.txt``
    tsv, ``.cbor`` car-outlines, else trec), or from a registered ``DATASET:SPLIT``."""
    named = dataset_split(spec)
    if named:
        return named[0].topics_for(named[1])
    if fmt is None:
        name = spec.removesuffix(".gz")
        fmt = ("beir" if name.endswith(".jsonl") else "tsv" if name.endswith((".tsv", ".txt"))
               else "car-outlines" if name.endswith(".cbor") else "trec")
    return read_topics(spec, fmt)
