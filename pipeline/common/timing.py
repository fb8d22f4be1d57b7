"""Timing several ways of doing the same work, side by side in one process."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def interleaved_seconds(tasks: Mapping[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """The median seconds of each task: every task once to warm up, then ``rounds`` rounds of every
    task in turn, so that a machine's drift (another process, a clock change) falls on all alike and
    the ratios of the medians stay fair."""
    for task in tasks.values():
        task()
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(rounds):
        for name, task in tasks.items():
            t0 = time.perf_counter()
            task()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}
