"""Both clients send with Nagle's algorithm off: the sync one plain and over implicit TLS,
the async one on its asyncio transport. A pipelined turn is one write (a message's
content, then the next MAIL FROM, RCPT TO and DATA); with Nagle on, the tail of a write
longer than a segment waits for the server to acknowledge what went before, which a
delayed acknowledgement holds back by up to 40 ms: a round trip's worth on a fast link."""

from __future__ import annotations

import socket

import pytest

from mailcore_smtp import SMTPBackend
from tests.smtp.helpers import make_message
from tests.support.certs import TestCertificates
from tests.support.smtp_servers import RecordingSMTPServer


def _nagle_off(backend: SMTPBackend) -> bool:
    assert backend.connection is not None and backend.connection.sock is not None
    return bool(backend.connection.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def test_the_connection_sends_without_nagle(server: RecordingSMTPServer) -> None:
    with SMTPBackend(**server.backend_options()) as backend:
        assert _nagle_off(backend)
        assert backend.send_messages([make_message("one")]) == 1


@pytest.mark.usefixtures("trust_test_ca")
def test_an_implicit_tls_connection_sends_without_nagle(certs: TestCertificates) -> None:
    with (
        RecordingSMTPServer(implicit_tls=certs.server_context()) as server,
        SMTPBackend(**server.backend_options(use_ssl=True, timeout=5)) as backend,
    ):
        assert _nagle_off(backend)
        assert backend.send_messages([make_message("one")]) == 1


def test_the_async_client_sends_without_nagle_too(server: RecordingSMTPServer) -> None:
    import asyncio

    from mailcore_smtp.aclient import open_link

    async def nagle_off() -> bool:
        link = await open_link(SMTPBackend(**server.backend_options()), "client.example")
        try:
            sock = link.transport.get_extra_info("socket")
            return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        finally:
            link.discard()

    assert asyncio.run(nagle_off())
