"""An SMTP sink in its own process: accepts every message on 127.0.0.1 and discards it.

Its EHLO offers PIPELINING.

Run as a script (``python benchmarks/sink.py``) it listens on a free port, prints
``{"port": N}`` once ready, and on SIGTERM prints ``{"messages": n, "bytes": b, ...}``
(what it accepted, a CRC-32 of the contents in order of arrival, its CPU time, the most
messages that arrived within one second) and exits.
:class:`Sink` starts and stops it from the benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import zlib
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP

__all__ = ["Sink", "SinkStats"]

SinkStats = dict[str, int]


class _DiscardHandler:
    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.crc32 = 0  # of every message's content, in order of arrival
        self.arrivals: list[float] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.arrivals.append(time.monotonic())
        content = envelope.original_content or b""
        self.bytes += len(content)
        self.crc32 = zlib.crc32(content, self.crc32)
        return "250 2.0.0 accepted and discarded"

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Offer PIPELINING (RFC 2920): aiosmtpd reads pipelined commands in order."""
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


def _sink_class() -> type[SMTP]:
    """aiosmtpd's SMTP server, reading DATA a block at a time and answering a pipelined
    group in one write.

    aiosmtpd reads a message's content a line at a time, in Python: about 0.2 ms of CPU
    per message of the benchmark corpus (16 KiB on average, mostly 76-character base64
    lines), most of what the sink spent on a message. The server answers every
    contender's turns, so its time sits inside each measured round trip; a production
    MTA (Postfix, a provider's front end) reads in C and answers in microseconds. This
    reader takes the same bytes to the same result, a block at a time: up to each
    ``.<CRLF>`` (asyncio's :meth:`~asyncio.StreamReader.readuntil`, which leaves the
    next pipelined commands in the buffer), until that dot begins a line; then RFC 5321
    section 4.5.2's transparency is undone (a line's leading dot removed). The
    preconditions, replies and the handler's ``handle_DATA`` are aiosmtpd's. Its replies
    to a pipelined group go out together, as RFC 2920 section 3.2 suggests and Postfix
    does (aiosmtpd writes each at once: a system call and a TCP segment per reply).
    """
    from aiosmtpd.smtp import SMTP

    class BlockDataSMTP(SMTP):
        # a whole message fits the reader's buffer (its default is one 1001-byte line)
        line_length_limit = 2**30
        _replies: list[bytes]

        def connection_made(self, transport: Any) -> None:
            self._replies = []
            super().connection_made(transport)

        async def push(self, status: str | bytes) -> None:
            """Answer pipelined commands together (RFC 2920 section 3.2, as Postfix does):
            a reply waits while the client's next command is already in the buffer."""
            reply = status.encode() if isinstance(status, str) else status
            self._replies.append(reply + b"\r\n")
            # the next command is already here (asyncio's private buffer: no public API says)
            if b"\n" in self._reader._buffer:  # type: ignore[attr-defined]
                return
            self._writer.write(b"".join(self._replies))
            self._replies.clear()
            await self._writer.drain()

        async def smtp_DATA(self, arg: str) -> None:
            if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
                return
            envelope = self.envelope
            assert envelope is not None
            if not envelope.rcpt_tos:
                await self.push("503 Error: need RCPT command")
                return
            if arg:
                await self.push("501 Syntax: DATA")
                return
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            pieces: list[bytes] = []
            while True:
                piece: bytes = await self._reader.readuntil(b".\r\n")
                pieces.append(piece)
                # the dot begins a line: the content's first byte, or right after a CRLF
                if len(piece) == 3 or piece.endswith(b"\r\n.\r\n"):
                    break
            content = b"".join(pieces)[:-3].replace(b"\r\n.", b"\r\n")
            if content.startswith(b"."):
                content = content[1:]
            envelope.content = envelope.original_content = content
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(status)

    return BlockDataSMTP


async def _serve(host: str) -> SinkStats:
    loop = asyncio.get_running_loop()
    handler = _DiscardHandler()

    sink_class = _sink_class()

    def protocol() -> SMTP:
        return sink_class(
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
    stats = {
        "messages": handler.messages,
        "bytes": handler.bytes,
        "crc32": handler.crc32,
        "cpu_ms": _cpu_ms(),
    }
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
