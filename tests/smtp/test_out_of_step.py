"""A server that is not speaking SMTP, or speaks out of step, fails the send with the same
error through the sync and the async API, its words quoted whole; and an async
connection left open on a closed event loop is closed without a raw error."""

from __future__ import annotations

import asyncio
import functools
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from mailcore import EmailMessage
from mailcore_smtp import (
    SMTPBackend,
    SMTPBatchStoppedError,
    SMTPConnectionError,
    SMTPRecipientsRefusedError,
)
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
def scripted(
    greeting: bytes,
    ehlo: bytes = b"250 scripted.example\r\n",
    *,
    auth: bytes = b"235 2.7.0 Accepted\r\n",
    heard: list[bytes] | None = None,
) -> Iterator[int]:
    """A server on 127.0.0.1 that sends ``greeting``, answers EHLO (and HELO) with ``ehlo``
    (all of it in one write), AUTH with ``auth`` and every other command as
    :func:`_plain_smtp`; the commands' verbs are added to ``heard``. Yields its port."""

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
                verb = line[:4].upper()
                if heard is not None:
                    heard.append(verb)
                scripted_answer = {b"EHLO": ehlo, b"HELO": ehlo, b"AUTH": auth}.get(verb)
                answer = scripted_answer or _plain_smtp(line)
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
@pytest.mark.parametrize(
    ("greeting", "line"),
    [
        (b"hello I am not smtp\r\n", "hello I am not smtp"),
        (b"220-scripted.example\r\n250 ok\r\n", "250 ok"),  # the codes of its lines differ
    ],
)
def test_a_greeting_that_is_not_smtp_is_a_permanent_greeting_failure_quoting_the_line(
    greeting: bytes, line: str
) -> None:
    with scripted(greeting) as port:
        backend = SMTPBackend(host="127.0.0.1", port=port, timeout=5)
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([make_message()])

    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{port} refused to talk while waiting for its greeting: "
        f"no SMTP reply: {line!r}"
    )
    error = caught.value
    assert (error.stage, error.smtp_code, error.temporary) == ("greeting", -1, False)
    assert error.smtp_reply == line


# -- a reply that is no SMTP reply while the connection is set up ----------------------


@pytest.mark.usefixtures("api")
@pytest.mark.parametrize(
    ("ehlo", "line"),
    [
        (b"250-scripted.example\r\n220 scripted.example\r\n", "220 scripted.example"),
        (b"600 x\r\n", "600 x"),  # no SMTP code: not a refusal that sends HELO next
        (b"hello garbage\r\n", "hello garbage"),
    ],
    ids=["mixed-codes", "code-600", "garbage"],
)
def test_a_reply_to_ehlo_that_is_no_smtp_reply_closes_the_connection_before_any_message(
    ehlo: bytes, line: str
) -> None:
    heard: list[bytes] = []
    with scripted(b"220 scripted.example ESMTP\r\n", ehlo, heard=heard) as port:
        backend = SMTPBackend(host="127.0.0.1", port=port, timeout=5)
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([make_message()])

    error = caught.value
    assert str(error) == (
        f"SMTP server 127.0.0.1:{port} sent no SMTP reply at EHLO: {line!r} "
        "(client and server are out of step: the connection was closed)"
    )
    assert (error.stage, error.smtp_code, error.smtp_reply, error.temporary) == (
        "ehlo",
        None,
        line,
        True,
    )
    assert heard == [b"EHLO"], "no HELO, no message: the connection was dropped at EHLO"


@pytest.mark.usefixtures("api")
def test_opening_a_connection_whose_ehlo_reply_is_no_smtp_reply_fails_out_of_step() -> None:
    with scripted(b"220 scripted.example ESMTP\r\n", b"-1 hello garbage\r\n") as port:
        backend = SMTPBackend(host="127.0.0.1", port=port, timeout=5)
        with pytest.raises(SMTPConnectionError) as caught:
            backend.open()

    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{port} sent no SMTP reply at EHLO: '-1 hello garbage' "
        "(client and server are out of step: the connection was closed)"
    )
    assert (caught.value.stage, caught.value.smtp_code) == ("ehlo", None)


@pytest.mark.usefixtures("api")
@pytest.mark.parametrize("auth", [b"zzz\r\n", b"334-abc\r\n235 ok\r\n"], ids=["garbage", "mixed"])
def test_a_reply_to_auth_that_is_no_smtp_reply_fails_the_login_out_of_step(auth: bytes) -> None:
    offer = b"250-scripted.example\r\n250 AUTH PLAIN\r\n"
    heard: list[bytes] = []
    with scripted(b"220 scripted.example ESMTP\r\n", offer, auth=auth, heard=heard) as port:
        backend = SMTPBackend(
            host="127.0.0.1", port=port, timeout=5, username="user", password="secret"
        )
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([make_message()])

    line = auth.split(b"\r\n")[-2].decode()
    assert str(caught.value) == (
        f"SMTP server 127.0.0.1:{port} sent no SMTP reply during login: {line!r} "
        "(client and server are out of step: the connection was closed)"
    )
    assert (caught.value.stage, caught.value.smtp_code) == ("auth", None)
    assert heard == [b"EHLO", b"AUTH"]


@pytest.mark.usefixtures("api")
def test_a_reply_sent_unasked_after_ehlo_fails_the_messages_instead_of_desyncing() -> None:
    unasked = b"250 scripted.example\r\n250 2.0.0 Ok: queued as FAKE\r\n"
    with scripted(b"220 scripted.example ESMTP\r\n", ehlo=unasked) as port:
        backend = SMTPBackend(host="127.0.0.1", port=port, timeout=5)
        first, second = make_message(), make_message()
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([first, second])

    # the unasked 250 was taken for MAIL FROM's reply: one reply behind from then on,
    # DATA got RCPT's 250 instead of 354: out of step, so the connection was closed
    # before any content was sent (not a refusal: temporary)
    error = caught.value
    assert str(error).startswith(
        f"SMTP server 127.0.0.1:{port} sent an unexpected positive reply at DATA: "
        "'250 2.1.5 Ok' (client and server are out of step: the connection was closed)"
    )
    assert (error.stage, error.smtp_code, error.temporary, error.sent) == ("data", None, True, 0)


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


# -- a reply that is no SMTP reply in the middle of a transaction ----------------------


class StoringServer:
    """A raw SMTP server on 127.0.0.1 that accepts every recipient and stores every
    message it gets the final dot of, with its recipients (``messages``: sender,
    recipients). ``lines`` lists what each connection said (``(connection, line)``).

    ``answers`` maps a command line (``"RCPT TO:<b@example.com>"``; ``". from
    a@example.com"`` for the final dot of a@example.com's message) to replies sent
    instead of the usual one (``None``: the usual), the first time, the second time...;
    the command still
    does what it does (a recipient is added, a message stored). ``always_354``: DATA
    gets 354 even when no recipient was accepted (as servers breaking RFC 5321 do);
    ``refuse``: recipients answered 550 and not added."""

    def __init__(
        self,
        answers: dict[str, list[bytes | None]] | None = None,
        *,
        pipelining: bool = True,
        refuse: tuple[str, ...] = (),
        always_354: bool = False,
    ) -> None:
        self.answers = answers or {}
        self.messages: list[tuple[str, list[str]]] = []
        self.lines: list[tuple[int, str]] = []
        self.connections = 0
        lock = threading.Lock()
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with lock:
                    server.connections += 1
                    number = server.connections
                write = self.wfile.write
                write(b"220 storing.example ESMTP\r\n")
                sender = ""
                recipients: list[str] = []
                for raw in self.rfile:
                    line = raw.decode().rstrip("\r\n")
                    server.lines.append((number, line))
                    verb = line[:4].upper()
                    if verb == "EHLO":
                        offer = b"250-PIPELINING\r\n" if pipelining else b""
                        reply = b"250-storing.example\r\n" + offer + b"250 8BITMIME\r\n"
                    elif verb == "MAIL":
                        sender, recipients = line[11:].split(">")[0], []
                        reply = b"250 2.1.0 Ok\r\n"
                    elif verb == "RCPT":
                        address = line[9:].rstrip(">")
                        if address in refuse:
                            reply = b"550 5.1.1 No such user\r\n"
                        else:
                            recipients.append(address)
                            reply = b"250 2.1.5 Ok\r\n"
                    elif verb == "DATA" and not recipients and not always_354:
                        reply = b"554 5.5.1 No valid recipients\r\n"
                    elif verb == "DATA":
                        write(server._answer(line, b"354 Go ahead\r\n"))
                        for content in self.rfile:
                            if content == b".\r\n":
                                break
                        else:
                            return  # closed before the final dot: nothing stored
                        server.lines.append((number, "."))
                        with lock:
                            server.messages.append((sender, recipients))
                            queued = f"250 2.0.0 Ok: queued as Q{len(server.messages)}\r\n"
                        line, reply = f". from {sender}", queued.encode()
                    elif verb == "QUIT":
                        write(b"221 2.0.0 Bye\r\n")
                        return
                    else:
                        reply = b"250 2.0.0 Ok\r\n" if verb in ("RSET", "NOOP") else b"502 No\r\n"
                    write(server._answer(line, reply))

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]

    def _answer(self, line: str, usual: bytes) -> bytes:
        planned = self.answers.get(line)
        return (planned.pop(0) or usual) if planned else usual

    def __enter__(self) -> StoringServer:
        serve = functools.partial(self._server.serve_forever, poll_interval=0.02)
        threading.Thread(target=serve, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def three_messages() -> list[EmailMessage]:
    """Messages from a1@, a2@, a3@example.com to b1@, b2@, b3@example.com."""
    return [
        make_message(f"Message {n}", from_email=f"a{n}@example.com", to=[f"b{n}@example.com"])
        for n in (1, 2, 3)
    ]


GARBLED = [b"hello garbage\r\n", b"garbage\r\n250 2.1.5 Ok\r\n"]


@pytest.mark.usefixtures("api")
@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "plain"])
@pytest.mark.parametrize("garbled", GARBLED, ids=["garbage", "garbage-then-250"])
def test_a_garbled_reply_to_an_accepted_recipient_fails_the_message_and_drops_the_connection(
    pipelining: bool, garbled: bytes
) -> None:
    # the server accepted b2@ but said something that is no SMTP reply
    answers: dict[str, list[bytes | None]] = {"RCPT TO:<b2@example.com>": [garbled]}
    with StoringServer(answers, pipelining=pipelining) as server:
        backend = SMTPBackend(host="127.0.0.1", port=server.port, timeout=5, fail_silently=True)
        first, second, third = messages = three_messages()
        assert backend.send_messages(messages) == 1

    assert first.result is not None and first.result.sent
    assert second.result is not None and second.result.status == "failed"
    error = second.result.error
    assert isinstance(error, SMTPConnectionError)
    line = garbled.split(b"\r\n")[0].decode()
    assert str(error) == (
        f"SMTP server 127.0.0.1:{server.port} sent no SMTP reply at RCPT TO: {line!r} "
        "(client and server are out of step: the connection was closed); "
        "1 of 3 messages were accepted before it"
    )
    assert (error.stage, error.smtp_code, error.temporary, error.outcome_unknown) == (
        "rcpt",
        None,
        True,
        False,
    )
    assert second.result.refused == {}
    # the connection was closed at once: no dot, no empty message; no retries, so the
    # batch stopped there (the third message was not attempted)
    assert server.messages == [("a1@example.com", ["b1@example.com"])]
    assert [line for _, line in server.lines].count(".") == 1
    assert third.result is not None and isinstance(third.result.error, SMTPBatchStoppedError)
    assert server.connections == 1


@pytest.mark.usefixtures("api")
@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "plain"])
@pytest.mark.parametrize(
    ("command", "garbled", "stage"),
    [
        ("MAIL FROM:<a2@example.com>", b"250-Ok\r\n354 Go ahead\r\n", "mail"),  # codes differ
        ("RCPT TO:<b2@example.com>", b"garbage\r\n250 2.1.5 Ok\r\n", "rcpt"),
        ("RCPT TO:<b2@example.com>", b"354 Go ahead\r\n", "rcpt"),  # RCPT cannot get 354
        ("DATA", b"199 Go ahead\r\n", "data"),  # no SMTP code
        ("DATA", b"250 2.0.0 Ok\r\n", "data"),  # a positive reply DATA cannot get
    ],
)
def test_a_garbled_reply_before_the_dot_is_retried_on_a_new_connection(
    pipelining: bool, command: str, garbled: bytes, stage: str
) -> None:
    # garbled once, for the second message (DATA: the first message's is answered as usual)
    answers: dict[str, list[bytes | None]] = {
        command: [None, garbled] if command == "DATA" else [garbled]
    }
    with StoringServer(answers, pipelining=pipelining) as server:
        backend = SMTPBackend(
            host="127.0.0.1", port=server.port, timeout=5, retries=1, retry_backoff=0.001
        )
        assert backend.send_messages(three_messages()) == 3

    # each message once, for its recipient: the second on a new connection
    assert server.messages == [(f"a{n}@example.com", [f"b{n}@example.com"]) for n in (1, 2, 3)]
    assert server.connections == 2
    assert [line for _, line in server.lines].count(".") == 3
    dropped = [line for number, line in server.lines if number == 1]
    assert "QUIT" not in dropped, f"the first connection was dropped at {stage}, not quit"


@pytest.mark.usefixtures("api")
@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelining", "plain"])
@pytest.mark.parametrize("garbled", [b"hello garbage\r\n", b"354 Go ahead\r\n"])
def test_a_garbled_reply_to_the_final_dot_is_an_unknown_outcome_never_sent_again(
    pipelining: bool, garbled: bytes
) -> None:
    # the server stored the second message, then its reply to the dot was garbled
    answers: dict[str, list[bytes | None]] = {". from a2@example.com": [garbled]}
    with StoringServer(answers, pipelining=pipelining) as server:
        backend = SMTPBackend(
            host="127.0.0.1",
            port=server.port,
            timeout=5,
            retries=2,
            retry_backoff=0.001,
            fail_silently=True,
        )
        first, second, third = messages = three_messages()
        assert backend.send_messages(messages) == 2

    assert second.result is not None and second.result.status == "failed"
    error = second.result.error
    assert isinstance(error, SMTPConnectionError)
    assert (error.stage, error.outcome_unknown, error.smtp_reply) == (
        "message",
        True,
        garbled.decode().strip(),
    )
    # held once: not re-sent despite retries=2; the third went on a new connection
    assert [sender for sender, _ in server.messages] == [f"a{n}@example.com" for n in (1, 2, 3)]
    assert first.result is not None and first.result.sent
    assert third.result is not None and third.result.message_id == "Q3"
    assert server.connections == 2


@pytest.mark.usefixtures("api")
@pytest.mark.parametrize("retries", [0, 1])
def test_354_after_every_recipient_refused_closes_the_connection_instead_of_a_dot(
    retries: int,
) -> None:
    # pipelined: the server refused b2@ but answered DATA with 354 all the same; the
    # batch goes on with a refused message, retries or not: the backend closed the
    # connection itself, nothing was lost
    with StoringServer(refuse=("b2@example.com",), always_354=True) as server:
        backend = SMTPBackend(
            host="127.0.0.1", port=server.port, timeout=5, retries=retries, fail_silently=True
        )
        first, second, third = messages = three_messages()
        assert backend.send_messages(messages) == 2

    assert second.result is not None and second.result.status == "failed"
    assert isinstance(second.result.error, SMTPRecipientsRefusedError)
    assert second.result.refused == {"b2@example.com": (550, "5.1.1 No such user")}
    # no lone dot, so no empty message: the connection was closed inside DATA, and the
    # third message went on a new one
    assert server.messages == [
        ("a1@example.com", ["b1@example.com"]),
        ("a3@example.com", ["b3@example.com"]),
    ]
    assert [line for _, line in server.lines].count(".") == 2
    assert server.connections == 2
    assert first.result is not None and first.result.message_id == "Q1"
    assert third.result is not None and third.result.message_id == "Q2"
