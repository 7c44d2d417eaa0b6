"""Running contenders alternately over several rounds, and their medians."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Contender", "alternate", "median", "rotation"]


@dataclass(frozen=True)
class Contender:
    """One side of a comparison.

    ``prepare`` does the untimed set-up of one round and returns the work to time; the
    work returns a count (messages built or sent) that the caller can check.
    """

    name: str
    prepare: Callable[[], Callable[[], int]]


def rotation(names: Sequence[str], round_index: int) -> list[str]:
    """The order of ``names`` in round ``round_index``: each round starts one further on."""
    shift = round_index % len(names) if names else 0
    return [*names[shift:], *names[:shift]]


def alternate(
    contenders: Sequence[Contender], rounds: int, expected_count: int | None = None
) -> dict[str, list[float]]:
    """Time every contender once per round, rotating who goes first; seconds per run.

    A garbage collection runs before each timed run so that one side does not pay for
    the other's garbage. When ``expected_count`` is given, a run returning another count
    raises ``AssertionError``.
    """
    by_name = {c.name: c for c in contenders}
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    for round_index in range(rounds):
        for name in rotation(list(by_name), round_index):
            work = by_name[name].prepare()
            gc.collect()
            start = time.perf_counter()
            count = work()
            samples[name].append(time.perf_counter() - start)
            if expected_count is not None and count != expected_count:
                raise AssertionError(f"{name}: did {count} of {expected_count} in one run")
    return samples


def median(samples: Sequence[float]) -> float:
    """The median of ``samples`` (NaN when there are none)."""
    return statistics.median(samples) if samples else float("nan")
