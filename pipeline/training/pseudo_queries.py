"""Unlabeled training groups from a collection alone: pseudo-queries cut from its passages.

A student keeps what a teacher knows only where its training groups show it. Labelled groups come
from a few train splits; pseudo-query groups (the Inverse Cloze Task's queries, Lee et al., 2019)
cost no labels, so any collection gives them: web passages give the web queries a student of a
web-trained teacher needs. For each sampled passage the query is its title or one of its sentences,
cropped to a window of at most ``max_words`` words (queries are short); the group is that passage
(``texts[0]``, relevant in the ICT sense: it holds the query's words) and ``negatives`` passages
sampled from the query's BM25 top-``depth`` in the collection's index. What a student learns from
such a group is the teacher's scores of its passages (``pipeline.distill``'s score losses), not the
nominal label.
"""

from __future__ import annotations

import random
import re

from pipeline.collection.datasets import Dataset
from pipeline.common.errors import PipelineError
from pipeline.common.paths import MODEL_CACHE
from pipeline.runfiles.trec import rank
from pipeline.training.examples import Group, read_groups, write_groups

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def pseudo_query(title: str, text: str, rng: random.Random, min_words: int = 4, max_words: int = 12) -> str | None:
    """The title or a sentence of a passage with at least ``min_words`` words, cropped to a random
    window of ``min_words``..``max_words`` words when longer; ``None`` when the passage has none."""
    choices = [s.split() for s in [title, *SENTENCE_END.split(text)] if len(s.split()) >= min_words]
    if not choices:
        return None
    words = rng.choice(choices)
    if len(words) > max_words:
        size = rng.randint(min_words, max_words)
        start = rng.randrange(len(words) - size + 1)
        words = words[start:start + size]
    return " ".join(words)


def pseudo_query_groups(ds: Dataset, n: int, negatives: int = 7, depth: int = 20, seed: int = 42,
                        k1: float = 0.9, b: float = 0.4) -> list[Group]:
    """``n`` pseudo-query groups over ``ds``'s collection (seeded), cached under ``models/.cache/``
    with their BM25 run; qids are ``pseudo-<docid>``. Fewer than ``n`` passages with a usable
    sentence and enough BM25 hits is an error, not a silently smaller set."""
    from pipeline.candidates.bm25 import cached_search
    from pipeline.indexing.lucene import index_dir

    cache = MODEL_CACHE / f"groups.pseudo.{ds.name}.q{n}.n{negatives}.d{depth}.s{seed}.k{k1}.b{b}.jsonl"
    if cache.is_file():
        return read_groups(cache)
    docs = [d for d in ds.docs() if d.contents.strip()]
    rng = random.Random(seed)
    rng.shuffle(docs)
    queries: dict[str, str] = {}
    for d in docs:
        query = pseudo_query(d.title, d.text, rng)
        if query is not None:
            queries[f"pseudo-{d.id}"] = query
        if len(queries) == n + n // 5 + 10:  # a margin for queries with too few hits
            break
    run = cached_search(ds.name, f"pseudo.s{seed}", queries, index_dir(ds.name), k1=k1, b=b, depth=depth + 1)
    by_id = {d.id: d for d in docs}
    groups: list[Group] = []
    for qid, query in queries.items():
        source = qid.removeprefix("pseudo-")
        pool = [d for d, _ in rank(run.get(qid, {})) if d != source and d in by_id][:depth]
        if len(pool) < negatives:
            continue
        negs = rng.sample(pool, negatives)
        groups.append(Group(qid, query, [source, *negs], [by_id[d].contents for d in [source, *negs]], ds.name))
        if len(groups) == n:
            break
    if len(groups) < n:
        raise PipelineError(f"{ds.name} gives only {len(groups)} pseudo-query groups with {negatives} BM25 "
                            f"negatives, not {n}: ask for fewer (--pseudo-groups)")
    write_groups(cache, groups)
    return groups
