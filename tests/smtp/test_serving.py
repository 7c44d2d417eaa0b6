"""The background server of the tests and of ``mailcore debug-server``
(:mod:`mailcore_smtp.serving`) leaves nothing open when it stops."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings

from mailcore_smtp.serving import BackgroundServer


class _Protocol(asyncio.Protocol):
    transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def test_a_connection_accepted_as_the_server_stops_is_closed_too() -> None:
    """A client connecting just before ``stop()``: its connection is accepted, but its
    transport not made yet; the server's side of it is closed all the same (it used to
    be left to the garbage collector: ``ResourceWarning: unclosed <socket.socket ...>``)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(20):
            server = BackgroundServer(_Protocol).start()
            with socket.create_connection((server.host, server.port)):
                server.stop()
        gc.collect()

    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
