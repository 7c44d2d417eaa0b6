"""The cold-start benchmark: wall time of whole processes, start to exit.

Each command runs once untimed (so byte-code caches exist), then ``coldstart_runs`` times,
rotating the order each run, in an empty working directory with no ``MAILCORE_*``
variables. A command that fails is reported as unavailable, not as a failure of the suite.

Besides mailcore against Django, it times the ``mailcore`` command's start-up: ``mailcore
--help`` against a process that only imports mailcore (issue 10: at most 2x, median and
best run both shown), and ``mailcore send --help`` and ``mailcore backends``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.config import Config
from benchmarks.contenders import DJANGO_SETTINGS, django_available
from benchmarks.processes import child_env, last_line
from benchmarks.report import BenchResult, Ratio, Row
from benchmarks.timing import median, rotation

__all__ = [
    "DJANGO_CODE",
    "HELP_GOAL",
    "MAILCORE_CODE",
    "commands",
    "help_ratios",
    "run_coldstart",
    "time_command",
]

MAILCORE_CODE = "import mailcore; mailcore.get_connection('locmem')"
DJANGO_CODE = (
    "import django; from django.conf import settings; "
    f"settings.configure(**{DJANGO_SETTINGS!r}); django.setup(); "
    "from django.core.mail import get_connection; "
    "get_connection('django.core.mail.backends.locmem.EmailBackend')"
)

FLOOR = "python -c pass"
IMPORT = "python -c 'import mailcore'"
MAILCORE = "mailcore import + get_connection"
DJANGO = "django setup + get_connection"
HELP = "mailcore --help"
SEND_HELP = "mailcore send --help"
CLI = "mailcore backends"

#: ``mailcore --help`` may take at most this many times a process that imports mailcore.
HELP_GOAL = 2.0


def commands(with_django: bool) -> dict[str, list[str]]:
    """The commands timed, by label."""
    python = sys.executable
    script = str(Path(python).with_name("mailcore"))
    found = {
        FLOOR: [python, "-c", "pass"],
        IMPORT: [python, "-c", "import mailcore"],
        MAILCORE: [python, "-c", MAILCORE_CODE],
    }
    if with_django:
        found[DJANGO] = [python, "-c", DJANGO_CODE]
    found[HELP] = [script, "--help"]
    found[SEND_HELP] = [script, "send", "--help"]
    found[CLI] = [script, "backends"]
    return found


def help_ratios(samples: dict[str, list[float]]) -> list[Ratio]:
    """``mailcore --help`` against ``python -c 'import mailcore'`` (which includes ``python -c
    pass``): by medians and by best runs, each against :data:`HELP_GOAL`."""
    if HELP not in samples or IMPORT not in samples:
        return []
    ratios = []
    for kind, pick in (("median", median), ("best", min)):
        value = pick(samples[HELP]) / pick(samples[IMPORT])
        ratios.append(
            Ratio(
                f"time 'mailcore --help' / 'import mailcore' ({kind})",
                value,
                f"<= {HELP_GOAL:.1f}x",
                value <= HELP_GOAL,
            )
        )
    return ratios


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


def time_command(command: list[str], cwd: Path) -> tuple[float, str | None]:
    """Seconds the command took, and None, or why it failed."""
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return time.perf_counter() - start, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return seconds, f"exit {done.returncode}: {last_line(done.stderr)}"
    return seconds, None


def run_coldstart(config: Config) -> BenchResult:
    """Time each command ``config.coldstart_runs`` times; medians and the mailcore/Django ratio."""
    runs = config.coldstart_runs
    result = BenchResult("cold-start", f"wall time of a whole process, {runs} runs each")
    with_django = django_available()
    todo = commands(with_django)
    load_before = _load()
    samples: dict[str, list[float]] = {}
    unavailable: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="mailcore-bench-") as tmp:
        cwd = Path(tmp)
        for label, command in todo.items():
            _, error = time_command(command, cwd)
            if error is None:
                samples[label] = []
            else:
                unavailable[label] = error
        for run in range(runs):
            for label in rotation(list(samples), run):
                seconds, error = time_command(todo[label], cwd)
                if error is not None:
                    raise RuntimeError(f"{label!r} failed on run {run + 1}: {error}")
                samples[label].append(seconds)
    for label in todo:
        if label in unavailable:
            result.rows.append(Row(label, unavailable=unavailable[label]))
            continue
        times = samples[label]
        result.rows.append(
            Row(
                label,
                {
                    "median ms": median(times) * 1000,
                    "min ms": min(times) * 1000,
                    "max ms": max(times) * 1000,
                },
                samples=times,
            )
        )
    if MAILCORE in samples and DJANGO in samples:
        value = median(samples[MAILCORE]) / median(samples[DJANGO])
        result.ratios.append(
            Ratio("time mailcore / django (lower is faster)", value, "<= 0.75x", value <= 0.75)
        )
    if CLI in samples and DJANGO in samples:
        result.ratios.append(
            Ratio(
                "time 'mailcore backends' / django", median(samples[CLI]) / median(samples[DJANGO])
            )
        )
    result.ratios += help_ratios(samples)
    result.notes.append(f"load average: {load_before} before, {_load()} after")
    result.notes.append(f"mailcore: python -c {MAILCORE_CODE!r}")
    if with_django:
        result.notes.append(f"django: python -c {DJANGO_CODE!r}")
    return result
