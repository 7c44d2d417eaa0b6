"""Run by ``test_first_send.py`` in a fresh interpreter: the process's first ``await
asend_mail(...)``, with a ticker task on the event loop waking every 5 ms. Prints, as
JSON: ``sent``, ``worst_ms`` (the most a tick came late: how long the loop was stalled),
``loop_thread`` and ``imported_in`` (the thread each module of the set-up was imported in).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

#: What the first call loads: the settings (pydantic), the SMTP plugin, its async client.
WATCHED = (
    "pydantic_settings",
    "mailcore.settings",
    "mailcore_smtp.backend",
    "mailcore_smtp.aio",
    "aiosmtplib",
)
imported_in: dict[str, str] = {}


class Watcher:
    """A finder that finds nothing: it notes which thread first imports each module."""

    @staticmethod
    def find_spec(
        name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name in WATCHED:
            imported_in.setdefault(name, threading.current_thread().name)
        return None


sys.meta_path.insert(0, Watcher)

import mailcore  # noqa: E402 - the core alone: no settings, no plugin yet


async def main() -> None:
    worst = 0.0
    stop = False

    async def ticker() -> None:
        nonlocal worst
        while not stop:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - before - 0.005)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    sent = await mailcore.asend_mail("First", "Hello\n", "probe@example.com", ["to@example.com"])
    stop = True
    await task
    report = {
        "sent": sent,
        "worst_ms": round(worst * 1000, 1),
        "loop_thread": threading.current_thread().name,
        "imported_in": imported_in,
    }
    print(json.dumps(report))


asyncio.run(main())
