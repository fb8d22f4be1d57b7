"""Training examples: groups of one relevant passage and ``n`` hard negatives per query.

From a dataset's train split: positives from the qrels, negatives sampled (seeded) from the
BM25 top-``depth`` with every judged-relevant document excluded. Groups are cached on disk and the
BM25 run that produced them in the shared BM25 cache, so re-running training reuses both. MS MARCO's official
training files (text triples, or id triples with the collection and queries) give groups of
1 + 1 in the same form.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pipeline.collection.datasets import Dataset
from pipeline.common.atomic import atomic_open
from pipeline.common.errors import PipelineError, located
from pipeline.common.paths import MODEL_CACHE
from pipeline.common.textfiles import read_lines
from pipeline.runfiles.trec import rank

CACHE = MODEL_CACHE


@dataclass(frozen=True)
class Group:
    """A query with its passages: ``texts[0]`` is relevant, the rest are negatives."""

    qid: str
    query: str
    docids: list[str]
    texts: list[str]
    dataset: str = ""  # whose index holds the docids (BM25 scores them there); empty for groups from files


def bm25_groups(ds: Dataset, split: str, negatives: int = 7, depth: int = 100, seed: int = 42,
                index: Path | None = None, k1: float = 0.9, b: float = 0.4) -> list[Group]:
    """Groups for ``ds:split``, cached under ``models/.cache/`` (with their BM25 run)."""
    from pipeline.candidates.bm25 import cached_search
    from pipeline.indexing.lucene import index_dir

    key = f"{ds.name}.{split}.n{negatives}.d{depth}.s{seed}.k{k1}.b{b}"
    cache = CACHE / f"groups.{key}.jsonl"
    if cache.is_file():
        return [replace(g, dataset=ds.name) for g in read_groups(cache)]  # caches written before the field
    topics = ds.topics_for(split)
    run = cached_search(ds.name, split, topics, index or index_dir(ds.name), k1=k1, b=b, depth=depth,
                        remove_query=ds.remove_query)
    qrels = ds.qrels(split)
    docs = {d.id: d.contents for d in ds.docs()}
    rng = random.Random(seed)
    groups: list[Group] = []
    for qid, query in topics.items():
        relevant = sorted(d for d, g in qrels.get(qid, {}).items() if g > 0)
        pool = [d for d, _ in rank(run.get(qid, {})) if qrels.get(qid, {}).get(d, 0) <= 0]
        if not relevant or len(pool) < negatives:
            continue
        for pos in relevant:
            if pos not in docs:
                continue
            negs = rng.sample(pool, negatives)
            groups.append(Group(qid, query, [pos, *negs], [docs[pos], *(docs[d] for d in negs)], ds.name))
    if not groups:
        raise PipelineError(f"{ds.name}:{split} gave no training groups (no relevant documents with "
                            f"{negatives} BM25 negatives)")
    write_groups(cache, groups)
    return groups


def write_groups(path: Path, groups: list[Group]) -> None:
    """Write groups as JSON lines, atomically."""
    with atomic_open(path) as f:
        for g in groups:
            f.write(json.dumps(asdict(g), ensure_ascii=False) + "\n")


def read_groups(path: Path) -> list[Group]:
    """Read groups written by :func:`write_groups`."""
    groups = []
    for lineno, line in read_lines(path):
        try:
            groups.append(Group(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as err:
            raise located(path, lineno, f"not a training group ({err})") from None
    return groups


def _text_id(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()[:16]


def msmarco_text_triples(path: Path, limit: int | None = None) -> list[Group]:
    """MS MARCO ``triples.train.small.tsv``: ``query<TAB>positive<TAB>negative`` per line."""
    groups = []
    for lineno, line in read_lines(path):
        cols = line.split("\t")
        if len(cols) != 3:
            raise located(path, lineno, f"expected 3 tab-separated columns (query, positive, negative), "
                                        f"got {len(cols)}")
        groups.append(Group(_text_id(cols[0]), cols[0], [_text_id(cols[1]), _text_id(cols[2])], cols[1:]))
        if limit and len(groups) >= limit:
            break
    return groups


def msmarco_id_triples(path: Path, queries: dict[str, str], passages: dict[str, str],
                       limit: int | None = None) -> list[Group]:
    """MS MARCO id triples (``qid<TAB>pid+<TAB>pid-``) resolved against queries and the collection."""
    groups = []
    for lineno, line in read_lines(path):
        cols = line.split()
        if len(cols) != 3:
            raise located(path, lineno, f"expected 3 columns (qid, positive pid, negative pid), got {len(cols)}")
        missing = [x for x, table in zip(cols, (queries, passages, passages), strict=True) if x not in table]
        if missing:
            raise located(path, lineno, f"unknown id(s) {', '.join(missing)}")
        qid, pos, neg = cols
        groups.append(Group(qid, queries[qid], [pos, neg], [passages[pos], passages[neg]]))
        if limit and len(groups) >= limit:
            break
    return groups
