"""The big-attachment memory benchmark: peak memory above the baseline, per fresh process.

One message with a ``attachment_mib`` MiB file attached is sent through the file backend
and through SMTP (to the sink), by mailcore and by Django, each in its own process
(:mod:`benchmarks.memory_child` says how the peak is measured).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.config import Config
from benchmarks.contenders import django_available
from benchmarks.processes import child_env, last_line
from benchmarks.report import BenchResult, Ratio, Row
from benchmarks.sink import Sink
from benchmarks.timing import median, rotation

__all__ = ["BACKENDS", "make_attachment", "run_child", "run_memory"]

BACKENDS = ("file", "smtp")
CHUNK = 1 << 20


def make_attachment(directory: Path, mib: int) -> Path:
    """Write ``mib`` MiB of random (incompressible) bytes to a file; its path."""
    path = directory / "attachment.bin"
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(os.urandom(CHUNK))
    return path


def run_child(
    library: str, backend: str, attachment: Path, workdir: Path, port: int
) -> dict[str, Any]:
    """Measure one send in a fresh process; its figures, or ``{"error": ...}``."""
    outdir = Path(tempfile.mkdtemp(prefix=f"{library}-{backend}-", dir=workdir))
    command = [sys.executable, "-m", "benchmarks.memory_child", "--library", library]
    command += ["--backend", backend, "--attachment", str(attachment), "--outdir", str(outdir)]
    command += ["--port", str(port)]
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            env=child_env(importable_harness=True),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            return {"error": last_line(done.stderr)}
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        figures["output_bytes"] = sum(p.stat().st_size for p in outdir.iterdir())
        return figures
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def run_memory(config: Config) -> BenchResult:
    """Measure every (library, backend) pair ``config.memory_rounds`` times."""
    mib = config.attachment_mib
    result = BenchResult(
        "big-attachment",
        f"peak memory above the baseline sending one {mib} MiB attachment read from a file, "
        f"a fresh process each, {config.memory_rounds} round(s)",
    )
    libraries = ["mailcore", "django"] if django_available() else ["mailcore"]
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="mailcore-bench-") as tmp, Sink() as sink:
        workdir = Path(tmp)
        attachment = make_attachment(workdir, mib)
        for backend in BACKENDS:
            for round_index in range(config.memory_rounds):
                for library in rotation(libraries, round_index):
                    figures = run_child(library, backend, attachment, workdir, sink.port)
                    runs.setdefault((library, backend), []).append(figures)
    methods = {f["method"] for rs in runs.values() for f in rs if "method" in f}
    result.notes.append(f"peak measured with {', '.join(sorted(methods)) or '-'}")
    for backend in BACKENDS:
        for library in libraries:
            figures_list = runs[(library, backend)]
            errors = [f["error"] for f in figures_list if "error" in f]
            label = f"{library} {backend}"
            if errors:
                result.rows.append(Row(label, unavailable=errors[0]))
                if library == "mailcore":
                    result.ratios.append(
                        Ratio(f"{label}: extra memory / attachment size", None, "<= 2.0x")
                    )
                continue
            extra = [f["extra_kib"] / 1024 for f in figures_list]
            middle = median(extra)
            result.rows.append(
                Row(
                    label,
                    {
                        "extra MiB": middle,
                        "x attachment": middle / mib,
                        "baseline MiB": median([f["baseline_kib"] / 1024 for f in figures_list]),
                        "peak MiB": median([f["peak_kib"] / 1024 for f in figures_list]),
                        "seconds": median([f["seconds"] for f in figures_list]),
                    },
                    samples=extra,
                )
            )
            multiple = middle / mib
            goal = "<= 2.0x" if library == "mailcore" else ""
            met = multiple <= 2.0 if library == "mailcore" else None
            result.ratios.append(
                Ratio(f"{label}: extra memory / attachment size", multiple, goal, met)
            )
            if backend == "file" and figures_list[0].get("output_bytes", 0) < mib * CHUNK:
                result.error = f"{label} wrote {figures_list[0].get('output_bytes')} bytes only"
    smtp_ok = sum(1 for (_, b), rs in runs.items() if b == "smtp" for f in rs if "error" not in f)
    received = sink.stats.get("bytes", 0)
    if smtp_ok and received < smtp_ok * mib * CHUNK:
        result.error = f"the sink received {received} bytes, less than {smtp_ok} attachments"
    return result
