"""What a training run learns from: the training groups of some datasets' split (one relevant
passage and BM25 negatives each), optionally pseudo-query groups over other collections
(:mod:`pipeline.training.pseudo_queries`), and, for LM distillation, passages of their collections."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline.collection.datasets import get_dataset
from pipeline.common import distributed
from pipeline.training.examples import Group, bm25_groups
from pipeline.training.pseudo_queries import pseudo_query_groups

DEFAULT_DATASETS = ("car-test200", "scifact")


@dataclass(frozen=True)
class TrainingData:
    """The datasets, split and sampling of the training groups; equal settings give equal groups."""

    datasets: tuple[str, ...] = DEFAULT_DATASETS
    split: str = "train"
    negatives: int = 7
    bm25_depth: int = 100
    seed: int = 42
    limit_groups: int | None = None  # of the labelled groups
    pseudo_datasets: tuple[str, ...] = ()  # collections whose pseudo-query groups are added
    pseudo_groups: int = 1000  # from each of them
    pseudo_depth: int = 20  # their negatives come from this BM25 depth: near misses, not random passages

    @property
    def label(self) -> str:
        """The datasets as one name for cache files, e.g. ``car-test200+scifact``."""
        return "+".join(self.datasets)

    def groups(self) -> list[Group]:
        """Labelled groups from every dataset, shuffled together with the seed and cut to
        ``limit_groups``, then the pseudo-query groups, all shuffled again (under ``torchrun``,
        rank 0 searches and caches them first, and the other ranks read its cache)."""
        groups: list[Group] = []
        pseudo: list[Group] = []
        with distributed.world().main_first():
            for name in self.datasets:
                groups += bm25_groups(get_dataset(name), self.split, negatives=self.negatives,
                                      depth=self.bm25_depth, seed=self.seed)
            for name in self.pseudo_datasets:
                pseudo += pseudo_query_groups(get_dataset(name), self.pseudo_groups, negatives=self.negatives,
                                              depth=self.pseudo_depth, seed=self.seed)
        random.Random(self.seed).shuffle(groups)
        groups = groups[: self.limit_groups] if self.limit_groups else groups
        if not pseudo:
            return groups
        groups += pseudo
        random.Random(self.seed).shuffle(groups)
        return groups

    def lm_texts(self, n: int) -> list[str]:
        """``n`` non-blank passages sampled (seeded) from the datasets' collections."""
        texts = [d.contents for name in self.datasets for d in get_dataset(name).docs() if d.contents.strip()]
        random.Random(self.seed).shuffle(texts)
        return texts[:n]
