"""An SMTP sink in its own process: accepts every message on 127.0.0.1 and discards it.

Its EHLO offers PIPELINING.

Run as a script (``python benchmarks/sink.py``) it listens on a free port, prints
``{"port": N}`` once ready, and on SIGTERM prints ``{"messages": n, "bytes": b, ...}`` (what it
accepted, its CPU time, the most messages that arrived within one second) and exits.
:class:`Sink` starts and stops it from the benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from types import TracebackType
from typing import Any

__all__ = ["Sink", "SinkStats"]

SinkStats = dict[str, int]


class _DiscardHandler:
    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.arrivals: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.arrivals.append(time.monotonic())
        self.bytes += len(envelope.original_content or b"")
        return "250 2.0.0 accepted and discarded"

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Offer PIPELINING (RFC 2920): aiosmtpd reads pipelined commands in order."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


async def _serve(host: str) -> SinkStats:
    from aiosmtpd.smtp import SMTP

    loop = asyncio.get_running_loop()
    handler = _DiscardHandler()

    def protocol() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=None,
            enable_SMTPUTF8=True,
            hostname="bench-sink",
            ident="bench-sink",
            loop=loop,
        )

    server = await loop.create_server(protocol, host=host, port=0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()
    stats = {"messages": handler.messages, "bytes": handler.bytes, "cpu_ms": _cpu_ms()}
    return {**stats, **_pace(handler.arrivals)}


def _pace(arrivals: list[float]) -> SinkStats:
    """The most messages that arrived within any one second, and the span of all
    arrivals in microseconds (for a rate-limit check)."""
    if len(arrivals) < 2:
        return {}
    most = 0
    first = 0
    for last, when in enumerate(arrivals):
        while when - arrivals[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return {"max_per_second_window": most, "span_us": round(1e6 * (arrivals[-1] - arrivals[0]))}


def _cpu_ms() -> int:
    """CPU milliseconds this process used so far."""
    return round(time.process_time() * 1000)


class Sink:
    """Context manager: the sink process, its ``port`` and, after exit, its ``stats``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.stats: SinkStats = {}
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Sink:
        # imported here: this file also runs as the child script, where it cannot be
        from benchmarks.processes import start_json_child

        self._process, started = start_json_child(__file__, [self.host], "the SMTP sink")
        self.port = int(started["port"])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        from benchmarks.processes import stop_json_child

        stats = stop_json_child(process)
        if stats is not None:
            self.stats = stats


def main(argv: list[str]) -> int:
    """Serve until SIGTERM, then print what was accepted."""
    stats = asyncio.run(_serve(argv[0] if argv else "127.0.0.1"))
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
