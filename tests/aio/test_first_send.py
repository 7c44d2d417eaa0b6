"""The first async send of a process does not stall the event loop: what it loads (the
settings and pydantic, the backends' discovery, the SMTP plugin, aiosmtplib) is loaded
in a worker thread (``mailcore.asending.built``, ``mailcore_smtp.backend._import_aio``),
not on the loop. Measured in fresh interpreters (``first_send_probe.py``): before, the
loop stood still for the whole set-up, about 180 ms (200 to 500 ms on a loaded machine);
now a 5 ms ticker is late by some 10 to 20 ms at most."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.smtp_servers import RecordingSMTPServer

PROBE = Path(__file__).with_name("first_send_probe.py")


def probe(server: RecordingSMTPServer, cwd: Path, cache: Path) -> dict[str, Any]:
    """One fresh interpreter's first send to ``server`` (bytecode cached in ``cache``, as
    an installed library has it: compiling a module holds the GIL, threads or not)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILCORE_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        PYTHONPYCACHEPREFIX=str(cache),
        MAILCORE_BACKEND="smtp",
        MAILCORE_SMTP_HOST=server.host,
        MAILCORE_SMTP_PORT=str(server.port),
    )
    done = subprocess.run(
        [sys.executable, str(PROBE)], env=env, cwd=cwd, capture_output=True, text=True, timeout=50
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_the_first_async_send_loads_its_set_up_off_the_event_loop(tmp_path: Path) -> None:
    cache = tmp_path / "pycache"
    with RecordingSMTPServer() as server:
        probe(server, tmp_path, cache)  # compiles every module once, into the cache
        reports = []
        for _ in range(3):  # the best of three: a busy machine only ever adds lateness
            reports.append(probe(server, tmp_path, cache))
            if reports[-1]["worst_ms"] < 100:
                break
    assert len(server.messages) == 1 + len(reports)
    for report in reports:
        assert report["sent"] == 1
        assert report["loop_thread"] == "MainThread"
        imported_in = report["imported_in"]
        assert set(imported_in) == {
            "pydantic_settings",
            "mailcore.settings",
            "mailcore_smtp.backend",
            "mailcore_smtp.aio",
            "aiosmtplib",
        }
        assert "MainThread" not in imported_in.values(), imported_in
    assert min(report["worst_ms"] for report in reports) < 100, reports
