"""Results of the benchmarks: tables for the terminal and a JSON document."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.timing import median

__all__ = [
    "BenchResult",
    "Ratio",
    "Row",
    "format_result",
    "machine_info",
    "throughput_row",
    "write_json",
]

Value = float | int | str | None


@dataclass
class Row:
    """One line of a table: a contender's figures, or why it could not run."""

    label: str
    values: dict[str, Value] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)
    unavailable: str | None = None


def throughput_row(label: str, times: list[float], count: int, **extra: Value) -> Row:
    """A row of timed rounds of ``count`` messages: median, messages/s, min, max, extras."""
    middle = median(times)
    values: dict[str, Value] = {
        "median s": middle,
        "msgs/s": count / middle,
        "min s": min(times),
        "max s": max(times),
    }
    return Row(label, {**values, **extra}, samples=times)


@dataclass
class Ratio:
    """A comparison between two rows, with the goal from issue 7 when there is one."""

    label: str
    value: float | None
    goal: str = ""
    met: bool | None = None


@dataclass
class BenchResult:
    """Everything one benchmark found."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def _cell(value: Value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value


def format_result(result: BenchResult) -> str:
    """The result as a titled, aligned text table followed by its ratios and notes."""
    lines = [f"== {result.name}: {result.title} =="]
    columns: list[str] = []
    for row in result.rows:
        columns += [key for key in row.values if key not in columns]
    table = [["", *columns]] + [
        [row.label, *(_cell(row.values.get(key)) for key in columns)]
        for row in result.rows
        if row.unavailable is None
    ]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(columns) + 1)]
    widths[0] = max([widths[0], *(len(row.label) for row in result.rows)])
    if len(table) > 1:
        header = [table[0][0].ljust(widths[0])]
        header += [c.rjust(w) for c, w in zip(table[0][1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join(header))
    full_rows = iter(table[1:])
    for row in result.rows:
        if row.unavailable is not None:
            lines.append(f"  {row.label.ljust(widths[0])}  unavailable: {row.unavailable}")
            continue
        cells = next(full_rows)
        shown = [cells[0].ljust(widths[0])]
        shown += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        lines.append("  " + "  ".join(shown))
    for ratio in result.ratios:
        value = "unavailable" if ratio.value is None else f"{ratio.value:.2f}x"
        verdict = ""
        if ratio.goal:
            state = {True: "met", False: "NOT met", None: "n/a"}[ratio.met]
            verdict = f"   (goal {ratio.goal}: {state})"
        lines.append(f"  {ratio.label} = {value}{verdict}")
    lines += [f"  note: {note}" for note in result.notes]
    if result.error:
        lines.append(f"  FAILED: {result.error}")
    lines.append(f"  ({result.seconds:.1f} s)")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def machine_info() -> dict[str, Any]:
    """Where and on what the figures were taken."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for dist in ("mailkern", "mailkern-smtp", "django", "aiosmtpd"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    import mailcore

    core = Path(__file__).resolve().parent.parent / "core" / "src"
    changed = _git("status", "--porcelain", "--", "core", "plugins")
    return {
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
        "mailcore_from_this_repository": Path(mailcore.__file__).resolve().is_relative_to(core),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes_in_core_or_plugins": bool(changed) if changed is not None else None,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def write_json(
    path: Path, results: list[BenchResult], config: dict[str, Any], machine: dict[str, Any]
) -> None:
    """Write every result, the configuration and the machine to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": machine,
        "config": config,
        "benchmarks": {r.name: _jsonable(asdict(r)) for r in results},
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
