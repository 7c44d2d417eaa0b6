"""``timeout`` and ``data_timeout`` bound a whole reply, not each byte: a server that
trickles one byte every 0.2 s and never ends the line is given up on in time, with the
same error as a silent server (real TCP servers on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mailcore_smtp import SMTPBackend, SMTPConnectionError
from tests.cli.command import run_mailcore
from tests.smtp.helpers import make_message

_BYTE_EVERY = 0.2


class TricklingServer:
    """An SMTP server on 127.0.0.1 that answers normally until ``trickle_at`` (``"greeting"``,
    a command verb such as ``"MAIL"``, or ``"."`` for the reply to the content), then sends
    ``2`` every 0.2 s and never ends the line. ``pipelining`` adds PIPELINING to its EHLO."""

    def __init__(self, trickle_at: str, pipelining: bool = False) -> None:
        self.trickle_at = trickle_at
        self.pipelining = pipelining
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self.listener.getsockname()[:2]
        self.trickled = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(10)

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn, contextlib.suppress(OSError):
                self._talk(conn)

    def _trickle(self, conn: socket.socket) -> None:
        self.trickled.set()
        while not self.stop.is_set():
            conn.sendall(b"2")
            time.sleep(_BYTE_EVERY)

    def _talk(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        if self.trickle_at == "greeting":
            self._trickle(conn)
            return
        conn.sendall(b"220 trickle ESMTP\r\n")
        reader = conn.makefile("rb")
        in_data = False
        while not self.stop.is_set():
            line = reader.readline()
            if not line:
                return
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    if self.trickle_at == ".":
                        self._trickle(conn)
                        return
                    conn.sendall(b"250 2.0.0 Ok: queued as T1\r\n")
                continue
            verb = line.split(b":")[0].split()[0].upper().decode() if line.strip() else ""
            if verb == self.trickle_at:
                self._trickle(conn)
                return
            if verb in ("EHLO", "HELO"):
                extra = b"250-PIPELINING\r\n" if self.pipelining else b""
                conn.sendall(b"250-trickle\r\n" + extra + b"250 8BITMIME\r\n")
            elif verb == "DATA":
                in_data = True
                conn.sendall(b"354 go ahead\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")


@contextlib.contextmanager
def trickling(trickle_at: str, pipelining: bool = False) -> Iterator[TricklingServer]:
    server = TricklingServer(trickle_at, pipelining)
    try:
        yield server
    finally:
        server.close()


def test_a_greeting_trickled_byte_by_byte_times_out_after_timeout() -> None:
    with trickling("greeting") as server:
        backend = SMTPBackend(host=server.host, port=server.port, timeout=1, data_timeout=60)
        started = time.monotonic()
        with pytest.raises(SMTPConnectionError) as caught:
            backend.open()
        elapsed = time.monotonic() - started

    assert server.trickled.is_set()
    assert elapsed < 10, "the whole greeting is bounded by timeout, not each byte"
    assert str(caught.value) == (
        f"SMTP server {server.host}:{server.port} did not answer within 1 s "
        "while waiting for its greeting (timeout)"
    )
    assert (caught.value.stage, caught.value.temporary, caught.value.outcome_unknown) == (
        "greeting",
        True,
        False,
    )


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelined"])
def test_a_command_reply_trickled_byte_by_byte_times_out_after_timeout(pipelining: bool) -> None:
    with trickling("RCPT", pipelining=pipelining) as server:
        message = make_message()
        backend = SMTPBackend(host=server.host, port=server.port, timeout=1, data_timeout=60)
        started = time.monotonic()
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([message])
        elapsed = time.monotonic() - started

    assert server.trickled.is_set()
    assert elapsed < 10
    assert str(caught.value) == (
        f"SMTP server {server.host}:{server.port} did not answer within 1 s at RCPT TO (timeout)"
    )
    assert (caught.value.stage, caught.value.outcome_unknown) == ("rcpt", False)
    assert message.result is not None and message.result.status == "failed"


@pytest.mark.parametrize("pipelining", [False, True], ids=["plain", "pipelined"])
def test_a_final_reply_trickled_byte_by_byte_times_out_after_data_timeout(
    pipelining: bool,
) -> None:
    with trickling(".", pipelining=pipelining) as server:
        message = make_message()
        backend = SMTPBackend(host=server.host, port=server.port, timeout=30, data_timeout=1)
        started = time.monotonic()
        with pytest.raises(SMTPConnectionError) as caught:
            backend.send_messages([message])
        elapsed = time.monotonic() - started

    assert server.trickled.is_set()
    assert elapsed < 10, "data_timeout bounds the whole final reply"
    assert str(caught.value) == (
        f"SMTP server {server.host}:{server.port} did not answer within 1 s "
        "after the message content was sent (data_timeout)"
    )
    assert (caught.value.stage, caught.value.outcome_unknown) == ("message", True)
    assert message.result is not None and message.result.status == "failed"


def test_a_reply_within_the_deadline_is_read_even_if_it_trickles_a_little() -> None:
    """The deadline is for the reply, not the connection: many replies, each in time."""
    with trickling("NONE") as server:
        backend = SMTPBackend(host=server.host, port=server.port, timeout=1)
        messages = [make_message(f"m{i}") for i in range(5)]
        sent = backend.send_messages(messages)

    assert sent == 5
    assert [m.result.message_id for m in messages if m.result] == ["T1"] * 5


def test_mailcore_check_against_a_trickling_greeting_ends_with_one_line() -> None:
    with trickling("greeting") as server:
        started = time.monotonic()
        done = run_mailcore(
            "check",
            "--backend",
            "smtp",
            "-o",
            "host=127.0.0.1",
            "-o",
            f"port={server.port}",
            "-o",
            "timeout=3",
            timeout=60,
        )
        elapsed = time.monotonic() - started

    assert done.status == 1, done
    assert elapsed < 30, "ended long before the server would stop trickling"
    [line] = done.error_lines
    assert line == (
        f"mailcore: error: the smtp backend could not connect: SMTP server "
        f"127.0.0.1:{server.port} did not answer within 3 s while waiting for its greeting "
        "(timeout)"
    ), done
    assert "Traceback" not in done.stderr
