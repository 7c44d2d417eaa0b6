"""The cold-start benchmark: wall time of whole processes, start to exit.

Each command runs once untimed (so byte-code caches exist), then ``coldstart_runs`` times,
rotating the order each run, in an empty working directory with no ``MAILCORE_*``
variables. A command that fails is reported as unavailable, not as a failure of the suite.
"""

from __future__ import annotations

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

__all__ = ["DJANGO_CODE", "MAILCORE_CODE", "commands", "run_coldstart", "time_command"]

MAILCORE_CODE = "import mailcore; mailcore.get_connection('locmem')"
DJANGO_CODE = (
    "import django; from django.conf import settings; "
    f"settings.configure(**{DJANGO_SETTINGS!r}); django.setup(); "
    "from django.core.mail import get_connection; "
    "get_connection('django.core.mail.backends.locmem.EmailBackend')"
)

FLOOR = "python -c pass"
MAILCORE = "mailcore import + get_connection"
DJANGO = "django setup + get_connection"
CLI = "mailcore backends"


def commands(with_django: bool) -> dict[str, list[str]]:
    """The commands timed, by label."""
    python = sys.executable
    found = {
        FLOOR: [python, "-c", "pass"],
        MAILCORE: [python, "-c", MAILCORE_CODE],
    }
    if with_django:
        found[DJANGO] = [python, "-c", DJANGO_CODE]
    found[CLI] = [str(Path(python).with_name("mailcore")), "backends"]
    return found


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
    result.notes.append(f"mailcore: python -c {MAILCORE_CODE!r}")
    if with_django:
        result.notes.append(f"django: python -c {DJANGO_CODE!r}")
    return result
