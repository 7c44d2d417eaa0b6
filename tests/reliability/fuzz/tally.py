"""Counts of examples run per property and how each ended, printed by ``make fuzz``."""

from __future__ import annotations

from collections import Counter, defaultdict

__all__ = ["outcomes", "record"]

#: property name -> outcome ("round-trip" or the exception raised) -> examples
outcomes: defaultdict[str, Counter[str]] = defaultdict(Counter)


def record(prop: str, outcome: str) -> None:
    """Count one example of ``prop`` that ended in ``outcome``."""
    outcomes[prop][outcome] += 1
