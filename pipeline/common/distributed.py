"""Running under ``torchrun``: which rank this process is, and the few collectives the pipeline needs.

``torchrun`` (and Slurm's ``srun`` through it) sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and
``LOCAL_WORLD_SIZE``; without them the process is a world of one and nothing here touches
``torch.distributed``. The backend is NCCL when each rank has a GPU and gloo otherwise. Work is
split by :func:`assign`, which balances measured costs (token counts), not item counts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of one job."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes final outputs and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def device(self, requested: str | None) -> str:
        """``requested``, else the GPU if there is one (this rank's, ``cuda:LOCAL_RANK``, under
        torchrun), else the CPU."""

        if requested:
            return requested
        if not torch.cuda.is_available():
            return "cpu"
        return f"cuda:{self.local_rank}" if self.distributed else "cuda"

    def cpu_threads(self, cores: int) -> int:
        """This rank's share of the machine's ``cores`` (ranks on one machine do not oversubscribe it)."""
        return max(1, cores // self.local_size)

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (filling caches), then the other ranks run it."""
        if not self.main:
            self.barrier()
        yield
        if self.main:
            self.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.distributed:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj``, in rank order, on rank 0 (``None`` elsewhere)."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.size if self.main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def all_gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.distributed:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out


def world() -> World:
    """This process's :class:`World`, joining the process group on first use under ``torchrun``."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    import torch.distributed as dist

    w = World(rank=int(os.environ["RANK"]), size=size, local_rank=int(os.environ.get("LOCAL_RANK", "0")),
              local_size=int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(w.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
    return w


def finish() -> None:
    """Leave the process group (a clean exit for ``torchrun``)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def assign(costs: Sequence[float], ranks: int) -> list[list[int]]:
    """Indices of ``costs`` for each rank, balancing the sum of costs (longest first, each to the
    least-loaded rank; ties to the lower rank). Each rank's indices come back in ascending order."""
    load = [0.0] * ranks
    shares: list[list[int]] = [[] for _ in range(ranks)]
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        r = min(range(ranks), key=lambda r: (load[r], r))
        shares[r].append(i)
        load[r] += costs[i]
    return [sorted(s) for s in shares]


def available_cores() -> int:
    """CPU cores this process may use (respects affinity masks and cgroup-pinned CPUs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
