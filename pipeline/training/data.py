"""What a training run learns from: the training groups of some datasets' split (one relevant
passage and BM25 negatives each) and, for LM distillation, passages of their collections."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline.collection.datasets import get_dataset
from pipeline.common import distributed
from pipeline.training.examples import Group, bm25_groups

DEFAULT_DATASETS = ("car-test200", "scifact")


@dataclass(frozen=True)
class TrainingData:
    """The datasets, split and sampling of the training groups; equal settings give equal groups."""

    datasets: tuple[str, ...] = DEFAULT_DATASETS
    split: str = "train"
    negatives: int = 7
    bm25_depth: int = 100
    seed: int = 42
    limit_groups: int | None = None

    @property
    def label(self) -> str:
        """The datasets as one name for cache files, e.g. ``car-test200+scifact``."""
        return "+".join(self.datasets)

    def groups(self) -> list[Group]:
        """Groups from every dataset, shuffled together with the seed (under ``torchrun``, rank 0
        searches and caches them first, and the other ranks read its cache)."""
        groups: list[Group] = []
        with distributed.world().main_first():
            for name in self.datasets:
                groups += bm25_groups(get_dataset(name), self.split, negatives=self.negatives,
                                      depth=self.bm25_depth, seed=self.seed)
        random.Random(self.seed).shuffle(groups)
        return groups[: self.limit_groups] if self.limit_groups else groups

    def lm_texts(self, n: int) -> list[str]:
        """``n`` non-blank passages sampled (seeded) from the datasets' collections."""
        texts = [d.contents for name in self.datasets for d in get_dataset(name).docs() if d.contents.strip()]
        random.Random(self.seed).shuffle(texts)
        return texts[:n]
