"""A latency-injecting TCP proxy in its own process: a wide-area link on 127.0.0.1.

Run as a script (``python benchmarks/wan_proxy.py TARGET_PORT DELAY``) it listens on a
free port of 127.0.0.1, prints ``{"port": N}`` once ready, and forwards every connection
to 127.0.0.1:TARGET_PORT, holding each chunk DELAY seconds in each direction (a round
trip costs ``2 * DELAY``); bytes stay in order. On SIGTERM it prints ``{"turns": t,
"connections": c, "cpu": seconds}`` and exits.

A *turn* is the client sending after the server last spoke: the client waited for an
answer, so it is one round trip; a new connection costs one more (its TCP handshake,
modelled by holding the connection ``2 * DELAY`` before anything flows). Turns divided
by the messages sent through the proxy is the round trips a message cost.
:class:`WanProxy` starts and stops it (benchmarks and tests).
"""

from __future__ import annotations

import asyncio
import collections
import json
import selectors
import signal
import statistics
import subprocess
import sys
import time
from types import TracebackType

__all__ = ["WanProxy"]


class _Counts:
    """What the proxy saw: turns, connections, and where each turn's time went."""

    def __init__(self) -> None:
        self.turns = 0
        self.connections = 0
        #: Seconds from writing a client's chunk to the server to the server's answer.
        self.server_waits: list[float] = []
        #: Seconds from writing a server's answer to the client to the client's next send.
        self.client_waits: list[float] = []
        #: Seconds each chunk was forwarded after its due time (the proxy waiting for a CPU).
        self.late: list[float] = []
        #: Chunks (reads) each answer of the server came in.
        self.answer_chunks: list[int] = []
        self.open_now = 0
        #: The most client connections open at once.
        self.most_open = 0


class _Delayed:
    """Writes to ``writer`` what :meth:`put` gets, each chunk ``delay`` seconds later."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        writer: asyncio.StreamWriter,
        delay: float,
        late: list[float],
    ):
        self.loop = loop
        self.writer = writer
        self.delay = delay
        self.late = late
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        #: When the last chunk was written on (``loop.time()``).
        self.written = 0.0

    def put(self, data: bytes) -> None:
        self.queue.append((self.loop.time() + self.delay, data))
        if self.timer is None:
            self.timer = self.loop.call_at(self.queue[0][0], self._flush)

    def _flush(self) -> None:
        self.timer = None
        now = self.loop.time()
        while self.queue and self.queue[0][0] <= now:
            due, data = self.queue.popleft()
            self.late.append(now - due)
            self.written = now
            if not data:
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                continue
            self.writer.write(data)
        if self.queue:
            self.timer = self.loop.call_at(self.queue[0][0], self._flush)


class _Conversation:
    """Who spoke last on one connection, and when each side's answer came."""

    def __init__(self) -> None:
        self.server_spoke_last = True  # the client waits for the greeting: a turn
        #: When the server's current answer began and ended (its first and last chunk).
        self.answer_started = 0.0
        self.answer_ended = 0.0
        #: Chunks of the server's current answer.
        self.answer_chunks = 0


async def _pump(
    reader: asyncio.StreamReader,
    out: _Delayed,
    back: _Delayed,
    counts: _Counts,
    talk: _Conversation,
    upstream: bool,
) -> None:
    """Forward ``reader`` through ``out``; ``back`` carries the other direction (what
    this side answers)."""
    loop = out.loop
    while True:
        try:
            data = await reader.read(65536)
        except OSError:
            data = b""
        if data:
            now = loop.time()
            if upstream and talk.server_spoke_last:
                counts.turns += 1
                if back.written and out.written:
                    # the client answers the server: how long the client took, and how
                    # long the server took to answer the client's previous send (to its
                    # last chunk: the client waits for all of it)
                    counts.client_waits.append(max(0.0, now - back.written))
                    counts.server_waits.append(max(0.0, talk.answer_ended - out.written))
                    counts.answer_chunks.append(talk.answer_chunks)
            elif not upstream:
                if not talk.server_spoke_last:
                    talk.answer_started = now
                    talk.answer_chunks = 0
                talk.answer_ended = now
                talk.answer_chunks += 1
            talk.server_spoke_last = not upstream
        out.put(data)
        if not data:
            return


async def _serve(target_port: int, delay: float) -> _Counts:
    loop = asyncio.get_running_loop()
    counts = _Counts()

    async def handle(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        counts.connections += 1
        counts.open_now += 1
        counts.most_open = max(counts.most_open, counts.open_now)
        counts.turns += 1  # the TCP handshake: one round trip before anything flows
        try:
            await asyncio.sleep(2 * delay)
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except (OSError, asyncio.CancelledError):
            client_writer.close()
            counts.open_now -= 1
            return
        talk = _Conversation()
        up = _Delayed(loop, server_writer, delay, counts.late)
        down = _Delayed(loop, client_writer, delay, counts.late)
        try:
            await asyncio.gather(
                _pump(client_reader, up, down, counts, talk, True),
                _pump(server_reader, down, up, counts, talk, False),
            )
            await asyncio.sleep(delay * 2)
        except asyncio.CancelledError:
            pass  # the proxy is stopping
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
            counts.open_now -= 1

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    server.close()
    return counts


class WanProxy:
    """Context manager: the proxy process in front of 127.0.0.1:``target_port``, its
    ``host`` and ``port``, and after exit ``turns``, ``connections`` and ``most_open``
    (the most client connections open at once)."""

    def __init__(self, target_port: int, delay: float = 0.010) -> None:
        self.target_port = target_port
        self.delay = delay
        self.host = "127.0.0.1"
        self.port = 0
        self.turns = 0
        self.connections = 0
        self.most_open = 0
        #: CPU seconds the proxy process used (after exit).
        self.cpu_seconds = 0.0
        #: Where the turns' time went (after exit), in ms (mean, median, p90): ``server``
        #: and ``client``, each side's time to answer; ``late``, chunks forwarded late.
        self.waits: dict[str, dict[str, float]] = {}
        self._process: subprocess.Popen[str] | None = None

    def mean_ms(self, what: str) -> float:
        """The mean of :attr:`waits` ``what`` (``server``, ``client``, ``late``) in ms;
        NaN when the proxy timed none."""
        return self.waits.get(what, {}).get("mean", float("nan"))

    def __enter__(self) -> WanProxy:
        # imported here: this file also runs as the child script, where it cannot be
        from benchmarks.processes import start_json_child

        self._process, started = start_json_child(
            __file__, [str(self.target_port), str(self.delay)], "the WAN proxy"
        )
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
            self.turns, self.connections = stats["turns"], stats["connections"]
            self.most_open = stats["most_open"]
            self.cpu_seconds = stats["cpu"]
            self.waits = {name: stats[f"{name}_ms"] for name in ("server", "client", "late")}
            self.chunks_per_answer = stats["chunks_per_answer"]


def _summary(seconds: list[float]) -> dict[str, float]:
    """Mean, median and 90th percentile of ``seconds``, in milliseconds."""
    if not seconds:
        return {}
    ordered = sorted(seconds)
    return {
        "mean": round(1000 * statistics.fmean(ordered), 3),
        "median": round(1000 * ordered[len(ordered) // 2], 3),
        "p90": round(1000 * ordered[int(len(ordered) * 0.9)], 3),
    }


def main(argv: list[str]) -> int:
    """Forward until SIGTERM, then print the counts."""
    # select(2) waits to the microsecond; epoll (asyncio's default) rounds each wait up
    # to a whole millisecond, which would hold every chunk 0.5 ms too long on average
    with asyncio.Runner(
        loop_factory=lambda: asyncio.SelectorEventLoop(selectors.SelectSelector())
    ) as runner:
        counts = runner.run(_serve(int(argv[0]), float(argv[1])))
    stats = {
        "turns": counts.turns,
        "connections": counts.connections,
        "most_open": counts.most_open,
        "cpu": time.process_time(),
        "server_ms": _summary(counts.server_waits),
        "client_ms": _summary(counts.client_waits),
        "late_ms": _summary(counts.late),
        "chunks_per_answer": statistics.fmean(counts.answer_chunks) if counts.answer_chunks else 0,
    }
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
