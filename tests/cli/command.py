"""Running ``mailcore`` as a user does: a subprocess, in the test's working directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["MAILCORE", "Run", "closed_port", "run_mailcore"]

#: The console script installed by the core distribution.
MAILCORE = Path(sys.executable).with_name("mailcore")


class Run:
    """The outcome of one ``mailcore`` run."""

    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.status = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr

    @property
    def error_lines(self) -> list[str]:
        """The non-empty lines written to stderr."""
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __repr__(self) -> str:
        return f"<Run status={self.status}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}>"


def run_mailcore(
    *args: str | Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 30,
) -> Run:
    """Run ``mailcore ARGS`` with the current environment plus ``env`` (no MAILCORE_* from
    the caller's shell: the test fixture removed them), stdin from ``stdin`` or empty."""
    environment = {**os.environ, **(env or {})}
    done = subprocess.run(
        [str(MAILCORE), *map(str, args)],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    return Run(done)


def closed_port() -> int:
    """A loopback port nothing listens on (bound a moment ago, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
