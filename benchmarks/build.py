"""The build benchmark: build and serialize a fixed mix of messages to bytes.

mailcore: ``msg.serialize()``; Django: ``msg.message().as_bytes()``. Before anything is
timed, the first ``check_messages`` outputs of each library are parsed back and compared
(see :mod:`benchmarks.compare`); any difference fails the benchmark.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.compare import describe, differences, parse_problems, spec_differences
from benchmarks.config import Config
from benchmarks.contenders import (
    django_available,
    django_bytes,
    mailcore_bytes,
    setup_django,
)
from benchmarks.corpus import KINDS, MessageSpec, make_corpus
from benchmarks.report import BenchResult, Ratio, throughput_row
from benchmarks.timing import Contender, alternate, median

__all__ = ["build_all", "check_build", "profile_build", "run_build"]

Builder = Callable[[MessageSpec], bytes]

#: At most this many problems are shown when the outputs differ.
SHOWN_PROBLEMS = 15


def check_build(specs: Sequence[MessageSpec], with_django: bool) -> list[str]:
    """Problems with mailcore's output of ``specs`` (against the spec, and against Django's
    output when ``with_django``); empty when everything matches."""
    problems: list[str] = []
    for index, spec in enumerate(specs):
        where = f"message {index} ({spec.kind})"
        ours = mailcore_bytes(spec)
        problems += [f"{where}: {p}" for p in spec_differences(spec, ours)]
        if with_django:
            theirs = describe(django_bytes(spec))
            problems += [f"{where}: django: {p}" for p in parse_problems(theirs)]
            problems += [
                f"{where}: {p}" for p in differences(describe(ours), theirs, ("mailcore", "django"))
            ]
    return problems


def build_all(builder: Builder, specs: Sequence[MessageSpec], sizes: list[int]) -> int:
    """Build every spec with ``builder``; append the total output size to ``sizes``."""
    total = 0
    for spec in specs:
        total += len(builder(spec))
    sizes.append(total)
    return len(specs)


def _contender(
    name: str, builder: Builder, specs: list[MessageSpec], sizes: list[int]
) -> Contender:
    def prepare() -> Callable[[], int]:
        return lambda: build_all(builder, specs, sizes)

    return Contender(name, prepare)


def run_build(config: Config) -> BenchResult:
    """Check, then time, mailcore against Django on ``config.build_messages`` messages."""
    count = config.build_messages
    result = BenchResult(
        "build",
        f"build + serialize {count:,} messages ({', '.join(KINDS)}, in turn), "
        f"{config.build_rounds} rounds",
    )
    specs = make_corpus(count)
    with_django = django_available()
    if with_django:
        setup_django()
    else:
        result.notes.append("Django is not installed: mailcore alone, checked against the spec")
    problems = check_build(specs[: config.check_messages], with_django)
    if problems:
        shown = "\n    ".join(problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        result.error = (
            "outputs differ, nothing timed:\n    "
            + shown
            + (f"\n    ... and {more} more" if more > 0 else "")
        )
        return result
    result.notes.append(
        f"outputs of the first {min(count, config.check_messages)} messages checked before "
        "timing: same headers, structure and decoded payloads"
    )
    sizes: dict[str, list[int]] = {"mailcore": [], "django": []}
    contenders = [_contender("mailcore", mailcore_bytes, specs, sizes["mailcore"])]
    if with_django:
        contenders.append(_contender("django", django_bytes, specs, sizes["django"]))
    samples = alternate(contenders, config.build_rounds, expected_count=count)
    for name, times in samples.items():
        result.rows.append(
            throughput_row(name, times, count, **{"MiB out": sizes[name][0] / 2**20})
        )
    if with_django:
        ratio = median(samples["django"]) / median(samples["mailcore"])
        result.ratios.append(
            Ratio("throughput mailcore / django", ratio, goal=">= 2.0x", met=ratio >= 2.0)
        )
    return result


def profile_build(specs: Sequence[MessageSpec], path: Path | None = None, top: int = 25) -> str:
    """cProfile one mailcore build of ``specs``; the ``top`` functions by own time."""
    sizes: list[int] = []
    profiler = cProfile.Profile()
    profiler.runcall(build_all, mailcore_bytes, specs, sizes)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(path)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()
