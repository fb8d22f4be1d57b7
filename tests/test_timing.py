"""pipeline.common.timing: every task warmed up once, then timed in interleaved rounds."""

from pipeline.common.timing import interleaved_seconds


def test_tasks_run_in_interleaved_rounds_after_one_warm_up_each() -> None:
    calls: list[str] = []
    seconds = interleaved_seconds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3)
    assert calls == ["a", "b"] * 4
    assert set(seconds) == {"a", "b"}
    assert all(0 <= s < 1 for s in seconds.values())


def test_the_median_round_is_reported_not_the_warm_up() -> None:
    import time

    durations = iter([0.2, 0.0, 0.05, 0.0])  # warm-up slow, then a slow outlier, then two fast rounds
    seconds = interleaved_seconds({"x": lambda: time.sleep(next(durations))}, rounds=3)
    assert seconds["x"] < 0.04
