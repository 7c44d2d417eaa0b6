"""A TCP proxy on 127.0.0.1 that delays bytes and counts round trips.

:class:`LatencyProxy` forwards every connection to ``(host, port)``; each chunk is held
``delay`` seconds in each direction (a round trip costs ``2 * delay``), bytes stay in
order. It counts *turns*: each time the client sends after the server last spoke, the
client had to wait for an answer, which is one round trip. ``turns`` over a batch,
divided by its messages, is the round trips a message costs. Used by the tests and by
the ``wan`` benchmarks::

    with LatencyProxy(server.host, server.port, delay=0.01) as proxy:
        backend = SMTPBackend(host=proxy.host, port=proxy.port)
"""

from __future__ import annotations

import contextlib
import heapq
import socket
import threading
import time
from types import TracebackType
from typing import Self

__all__ = ["LatencyProxy"]


class _Pipe:
    """One connection through the proxy: a reader and a delayed writer per direction."""

    def __init__(self, proxy: LatencyProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.last_from_server = True  # the greeting is awaited: the first send is a turn
        for source, target, upstream in ((client, server, True), (server, client, False)):
            queue: list[tuple[float, int, bytes]] = []
            cond = threading.Condition()
            threading.Thread(
                target=self._read, args=(source, queue, cond, upstream), daemon=True
            ).start()
            threading.Thread(target=self._write, args=(target, queue, cond), daemon=True).start()

    def _read(
        self,
        source: socket.socket,
        queue: list[tuple[float, int, bytes]],
        cond: threading.Condition,
        upstream: bool,
    ) -> None:
        number = 0
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            with self.proxy.lock:
                if data and upstream and self.last_from_server:
                    self.proxy.turns += 1
                if data:
                    self.last_from_server = not upstream
            with cond:
                number += 1
                heapq.heappush(queue, (time.monotonic() + self.proxy.delay, number, data))
                cond.notify()
            if not data:
                return

    def _write(
        self,
        target: socket.socket,
        queue: list[tuple[float, int, bytes]],
        cond: threading.Condition,
    ) -> None:
        while True:
            with cond:
                while not queue:
                    cond.wait()
                due, _, data = queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    cond.wait(wait)
                    continue
                heapq.heappop(queue)
            if not data:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                return
            try:
                target.sendall(data)
            except OSError:
                return


class LatencyProxy:
    """Forwards 127.0.0.1:``port`` to ``(host, port)`` with ``delay`` seconds each way."""

    def __init__(self, host: str, port: int, delay: float = 0.01) -> None:
        self.target = (host, port)
        self.delay = delay
        self.turns = 0
        self.connections = 0
        self.lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.host = "127.0.0.1"
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closed = False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.connections += 1
                self._sockets += [client, server]
            _Pipe(self, client, server)

    def reset_turns(self) -> None:
        with self.lock:
            self.turns = 0

    def __enter__(self) -> Self:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._listener.close()
        with self.lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()
