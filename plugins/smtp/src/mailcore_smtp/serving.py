"""Run an asyncio (aiosmtpd) server on its own event loop in a background thread.

:class:`BackgroundServer` binds at :meth:`~BackgroundServer.start` (port 0 picks a free
port, read back from :attr:`~BackgroundServer.port`) and, at
:meth:`~BackgroundServer.stop`, closes the listening socket and every open connection,
then the loop: nothing is left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Self

__all__ = ["BackgroundServer", "ServerContext"]

#: How long start() waits for the server to bind.
_START_TIMEOUT = 30.0
#: How long stop() waits for open connections to close before aborting them.
_CLOSE_GRACE = 2.0


class ServerContext:
    """``with server:`` for anything with ``start() -> Self`` and ``stop()``."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class BackgroundServer(ServerContext):
    """A TCP server built from ``protocol_factory``, served from a daemon thread.

    ``ssl_context`` makes it an implicit-TLS server. Use as a context manager, or call
    :meth:`start` and :meth:`stop`. :meth:`start` raises :class:`OSError` when the
    address cannot be bound (port in use).
    """

    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.protocol_factory = protocol_factory
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._protocols: weakref.WeakSet[asyncio.BaseProtocol] = weakref.WeakSet()

    def _make_protocol(self) -> asyncio.BaseProtocol:
        protocol = self.protocol_factory()
        self._protocols.add(protocol)
        return protocol

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._make_protocol, self.host, self.port, ssl=self.ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _run(self, loop: asyncio.AbstractEventLoop, bound: Future[None]) -> None:
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._bind())
            except BaseException as exc:
                bound.set_exception(exc)
                return
            bound.set_result(None)
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def start(self) -> Self:
        """Bind and start serving; return self (its ``port`` is now the bound port).

        The loop runs in its own thread from the start, so this works from any thread,
        including one that runs an event loop of its own.
        """
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        loop = asyncio.new_event_loop()
        bound: Future[None] = Future()
        thread = threading.Thread(
            target=self._run, args=(loop, bound), name="mailcore-smtp-server", daemon=True
        )
        thread.start()
        try:
            bound.result(timeout=_START_TIMEOUT)
        except BaseException:
            if loop.is_running():
                loop.call_soon_threadsafe(loop.stop)
            thread.join()
            raise
        self._loop, self._thread = loop, thread
        return self

    async def _shutdown(self) -> None:
        assert self._server is not None
        loop = asyncio.get_running_loop()
        # Stop accepting, then let a connection accepted just before get its transport:
        # that is the first step of a task not yet started, which, cancelled below or
        # run after close() (it could not attach to a closed server), would leave the
        # accepted socket unclosed.
        for sock in self._server.sockets:
            with contextlib.suppress(NotImplementedError):  # a loop without readers
                loop.remove_reader(sock.fileno())
        for _ in range(3):
            await asyncio.sleep(0)
        self._server.close()
        for protocol in list(self._protocols):
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.close()
        await self._server.wait_closed()
        deadline = loop.time() + _CLOSE_GRACE
        while loop.time() < deadline and any(
            getattr(p, "transport", None) is not None for p in list(self._protocols)
        ):
            await asyncio.sleep(0.01)
        for protocol in list(self._protocols):
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.abort()
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Let the transports' connection_lost callbacks run and close their sockets.
        for _ in range(3):
            await asyncio.sleep(0)

    def stop(self) -> None:
        """Close every connection and the listening socket, stop the loop. Safe to call twice."""
        loop, thread = self._loop, self._thread
        self._loop, self._thread = None, None
        if loop is None or thread is None:
            return
        try:
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=_CLOSE_GRACE + 5)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            self._server = None
            self._protocols.clear()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None
