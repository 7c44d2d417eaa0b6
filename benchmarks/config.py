"""Sizes and rounds of the benchmarks: defaults, ``--quick``, ``BENCH_*`` variables, flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["DEFAULT", "QUICK", "Config", "resolve_config"]


@dataclass(frozen=True)
class Config:
    """How much work each benchmark does. Each field can be set by ``BENCH_<FIELD>``."""

    #: Messages built and serialized per round of the build benchmark.
    build_messages: int = 4000
    #: Rounds of the build benchmark (each round times every contender once).
    build_rounds: int = 5
    #: Messages whose outputs are checked (against the spec and Django) before timing.
    check_messages: int = 40
    #: Messages sent over one SMTP connection per round.
    smtp_messages: int = 2000
    #: Rounds of the SMTP benchmark.
    smtp_rounds: int = 3
    #: Size of the big attachment, in MiB.
    attachment_mib: int = 50
    #: Fresh processes per (library, backend) pair in the memory benchmark.
    memory_rounds: int = 1
    #: Runs of each command in the cold-start benchmark.
    coldstart_runs: int = 10
    #: Messages per round of mailcore with 8 connections over the 20 ms link (a quarter
    #: of them for 1 connection); the ``ses-wan`` benchmark sends as many.
    wan_messages: int = 2000
    #: Messages per round of Django over the 20 ms link (about 80 ms each).
    wan_django_messages: int = 200
    #: Rounds of the ``wan`` and ``ses-wan`` benchmarks.
    wan_rounds: int = 3
    #: Messages per worker pair in the queue benchmark's scale-out runs (x workers / 2).
    queue_messages: int = 400
    #: Rounds of the queue benchmark's scale-out runs (the best of each is reported).
    queue_rounds: int = 2
    #: Messages of the queue benchmark's crash run (the broker restart run takes a fifth).
    crash_messages: int = 5000

    def as_dict(self) -> dict[str, Any]:
        """The configuration as plain data (for the JSON results)."""
        return asdict(self)


DEFAULT = Config()

#: A smoke run: every benchmark, tiny sizes, in well under a minute.
QUICK = Config(
    build_messages=200,
    build_rounds=2,
    check_messages=8,
    smtp_messages=100,
    smtp_rounds=2,
    attachment_mib=5,
    memory_rounds=1,
    coldstart_runs=5,
    wan_messages=200,
    wan_django_messages=20,
    wan_rounds=1,
    queue_messages=40,
    queue_rounds=1,
    crash_messages=200,
)


def resolve_config(
    quick: bool,
    overrides: Mapping[str, int | None],
    environ: Mapping[str, str] = os.environ,
) -> Config:
    """Start from :data:`QUICK` or :data:`DEFAULT` (``BENCH_QUICK=1`` also picks quick), then
    apply ``BENCH_<FIELD>`` variables, then ``overrides`` that are not None."""
    quick = quick or environ.get("BENCH_QUICK", "") not in ("", "0")
    config = QUICK if quick else DEFAULT
    values: dict[str, int] = {}
    for f in fields(Config):
        raw = environ.get(f"BENCH_{f.name.upper()}")
        if raw:
            try:
                values[f.name] = int(raw)
            except ValueError:
                raise ValueError(f"BENCH_{f.name.upper()}={raw!r} is not a whole number") from None
        override = overrides.get(f.name)
        if override is not None:
            values[f.name] = override
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")
    return replace(config, **values)
