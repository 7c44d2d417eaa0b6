"""A server that is not speaking SMTP, or speaks out of step, fails the send with the same
error through the sync and the async API, its words quoted whole; and an async
connection left open on a closed event loop is closed without a raw error."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from mailcore_smtp import SMTPBackend, SMTPConnectionError, SMTPReplyError
from mailcore_smtp.aio import _sessions
from tests.smtp.async_driver import sync_and_async
from tests.smtp.helpers import make_message
from tests.support.certs import TestCertificates
from tests.support.smtp_servers import RecordingSMTPServer

api = sync_and_async(__name__, autouse=False)  # a test using it: sync, then async


Answer = Callable[[bytes], bytes]


def _plain_smtp(line: bytes) -> bytes:
    """An ordinary server's answer to a command line (DATA's content: one ``250``)."""
    verb = line[:4].upper()
    return {
        b"MAIL": b"250 2.1.0 Ok\r\n",
        b"RCPT": b"250 2.1.5 Ok\r\n",
        b"DATA": b"354 Go ahead\r\n",
        b"RSET": b"250 2.0.0 Ok\r\n",
        b"NOOP": b"250 2.0.0 Ok\r\n",
        b"QUIT": b"221 2.0.0 Bye\r\n",
    }.get(verb, b"500 5.5.2 What?\r\n")


@contextmanager
def scripted(greeting: bytes, ehlo: bytes = b"250 scripted.example\r\n") -> Iterator[int]:
    """A server on 127.0.0.1 that sends ``greeting``, answers EHLO with ``ehlo`` (all of it
    in one write) and every other command as :func:`_plain_smtp`. Yields its port."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(greeting)
            in_data = False
            for line in self.rfile:
                if in_data:
                    if line == b".\r\n":
                        in_data = False
                        self.wfile.write(b"250 2.0.0 Ok: queued as REAL\r\n")
                    continue
                answer = ehlo if line[:4].upper() in (b"EHLO", b"HELO") else _plain_smtp(line)
                in_data = answer.startswith(b"354")
                self.wfile.write(answer)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()


@pytest.mark.usefixtures("api")
def test_a_greeting_that_is_not_smtp_is_a_permanent_greeting_failure_quoting_the_line() -> None:
    with scripted(b"hello I am not smtp\r\n") as port:
        backend = SMTPBackend(host="127.0.0.1", port=port, timeout=5)
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([make_message()])

    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{port} refused to talk while waiting for its greeting: "
        "no SMTP reply: 'hello I am not smtp'"
    )
    error = caught.value
    assert (error.stage, error.smtp_code, error.temporary) == ("greeting", -1, False)
    assert error.smtp_reply == "hello I am not smtp"


@pytest.mark.usefixtures("api")
def test_a_reply_sent_unasked_after_ehlo_fails_the_messages_instead_of_desyncing() -> None:
    unasked = b"250 scripted.example\r\n250 2.0.0 Ok: queued as FAKE\r\n"
    with scripted(b"220 scripted.example ESMTP\r\n", ehlo=unasked) as port:
        backend = SMTPBackend(host="127.0.0.1", port=port, timeout=5)
        first, second = make_message(), make_message()
        with pytest.raises(SMTPReplyError) as caught:
            backend.send_messages([first, second])

    # the unasked 250 was taken for MAIL FROM's reply: one reply behind from then on,
    # DATA got RCPT's 250 instead of 354; no message content was sent
    assert caught.value.stage == "data"
    assert caught.value.smtp_code == 250
    assert caught.value.sent == 0


def test_aclose_on_another_event_loop_closes_the_connection_silently() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(5)
        port = listener.getsockname()[1]
        backend = SMTPBackend(host="127.0.0.1", port=port, timeout=5)
        accepted: list[socket.socket] = []

        def serve() -> None:
            peer, _ = listener.accept()
            accepted.append(peer)
            peer.sendall(b"220 ok\r\n")
            assert peer.recv(100).startswith(b"EHLO")
            peer.sendall(b"250 ok\r\n")

        thread = threading.Thread(target=serve)
        thread.start()
        assert asyncio.run(backend.aopen()) is True
        thread.join(5)
        (peer,) = accepted
        with peer:
            asyncio.run(backend.aclose())  # the first loop is closed: no RuntimeError

            peer.settimeout(5)
            assert peer.recv(100) == b"", "the connection was closed, not left open"


@pytest.mark.usefixtures("trust_test_ca")
def test_aclose_on_another_event_loop_closes_a_tls_connection_silently(
    certs: TestCertificates,
) -> None:
    with RecordingSMTPServer(implicit_tls=certs.server_context()) as server:
        backend = SMTPBackend(**server.backend_options(use_ssl=True))
        assert asyncio.run(backend.aopen()) is True
        link = _sessions[backend].link
        assert link is not None
        sock = link.transport.get_extra_info("socket")
        assert sock.fileno() != -1

        asyncio.run(backend.aclose())  # the first loop is closed: no RuntimeError

        assert sock.fileno() == -1, "the TLS connection's socket was closed"
