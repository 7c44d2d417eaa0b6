"""Helpers for the benchmarks' child processes: environment and error summaries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["REPO_ROOT", "child_env", "last_line", "start_json_child", "stop_json_child"]

#: The repository root (the folder that holds ``benchmarks/``).
REPO_ROOT = Path(__file__).resolve().parent.parent


def child_env(importable_harness: bool = False) -> dict[str, str]:
    """This environment without any ``MAILCORE_*`` variable (so no local configuration leaks
    in); with the repository on ``PYTHONPATH`` when the child imports ``benchmarks``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MAILCORE_")}
    if importable_harness:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def last_line(text: str, default: str = "no output") -> str:
    """The last non-empty line of ``text`` (a traceback's error line), shortened."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else default
    return line if len(line) <= 160 else line[:157] + "..."


def start_json_child(script: str, args: list[str], what: str) -> tuple[subprocess.Popen[str], Any]:
    """Run ``script`` as a child process and return it with the JSON of its first output
    line (where it says what it bound); ``what`` names it in the error if it dies first."""
    process = subprocess.Popen(
        [sys.executable, str(Path(script).resolve()), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        process.stdout.close()
        raise RuntimeError(f"{what} exited with {process.returncode} at start")
    return process, json.loads(line)


def stop_json_child(process: subprocess.Popen[str]) -> Any:
    """SIGTERM a child of :func:`start_json_child`; the JSON of its last output line, or
    ``None`` when it printed nothing more."""
    process.send_signal(signal.SIGTERM)
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    lines = out.strip().splitlines()
    return json.loads(lines[-1]) if lines else None
