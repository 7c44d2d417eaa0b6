"""Helpers for the benchmarks' child processes: environment and error summaries."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO_ROOT", "child_env", "last_line"]

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
