"""Streaming DATA (mailcore_smtp.transmit): the exact octets on the wire, and real servers
receiving them through the backend."""

from __future__ import annotations

import os
import smtplib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore import EmailMessage
from mailcore_smtp import SMTPBackend, SMTPReplyError
from mailcore_smtp.transmit import mail_from, rcpt_to, send_content
from tests.support.smtp_servers import RecordingSMTPServer, SessionRecord


class WireCapture:
    """An smtplib.SMTP whose socket is one end of a real socket pair; ``received()`` reads
    everything that came out of the other end."""

    def __init__(self) -> None:
        self.smtp = smtplib.SMTP()
        self.smtp.sock, self._peer = socket.socketpair()
        self._data = bytearray()
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        while chunk := self._peer.recv(1 << 16):
            self._data += chunk

    def received(self) -> bytes:
        self.smtp.close()
        self._reader.join()
        self._peer.close()
        return bytes(self._data)


def wire(chunks: list[bytes], buffer_size: int = 64 * 1024) -> bytes:
    capture = WireCapture()
    sent = send_content(capture.smtp, chunks, buffer_size)
    data = capture.received()
    assert sent == len(data)
    return data


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"Subject: x\r\n\r\nbody\r\n"], b"Subject: x\r\n\r\nbody\r\n.\r\n"),
        ([b"a\r\n.hidden\r\n..two\r\n"], b"a\r\n..hidden\r\n...two\r\n.\r\n"),
        ([b".first\r\n"], b"..first\r\n.\r\n"),
        ([b"line\r\n", b".dot\r\n"], b"line\r\n..dot\r\n.\r\n"),
        ([b"line\r", b"\n.dot\r\n"], b"line\r\n..dot\r\n.\r\n"),
        ([b"a\r\n", b".b\r", b"\n.c\r\n"], b"a\r\n..b\r\n..c\r\n.\r\n"),
        ([b"a\r\n", b".", b"b\r\n"], b"a\r\n..b\r\n.\r\n"),
        ([b"a", b".b\r\n"], b"a.b\r\n.\r\n"),
        ([b"no line end"], b"no line end\r\n.\r\n"),
        ([b"x\r\n", b"", b"y\r\n"], b"x\r\ny\r\n.\r\n"),
        ([], b"\r\n.\r\n"),
        ([b""], b"\r\n.\r\n"),
    ],
)
def test_the_content_on_the_wire(chunks: list[bytes], expected: bytes) -> None:
    assert wire(chunks) == expected


def smtplib_data_payload(data: bytes) -> bytes:
    """What smtplib.SMTP.data() sends after 354 for CRLF-only ``data``."""
    quoted = smtplib._quote_periods(data)  # type: ignore[attr-defined]
    if quoted[-2:] != b"\r\n":
        quoted += b"\r\n"
    return bytes(quoted + b".\r\n")


_LINES = st.lists(st.sampled_from([b"", b".", b"..", b"a", b".a", b"a.b", b" ."]), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    lines=_LINES,
    final_break=st.booleans(),
    cuts=st.lists(st.integers(0, 60), max_size=6),
)
def test_crlf_content_split_anywhere_goes_out_as_smtplib_sends_it_whole(
    lines: list[bytes], final_break: bool, cuts: list[int]
) -> None:
    data = b"\r\n".join(lines) + (b"\r\n" if final_break and lines else b"")
    points = sorted({min(cut, len(data)) for cut in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]

    assert wire(chunks) == smtplib_data_payload(data)


def test_large_content_goes_out_in_several_writes_unchanged() -> None:
    body = os.urandom(300_000).hex().encode()  # 600 kB, no line ends: one long "line"
    chunks = [body[i : i + 7000] for i in range(0, len(body), 7000)]

    assert wire(chunks, buffer_size=50_000) == body + b"\r\n.\r\n"


def test_a_lost_connection_raises_server_disconnected() -> None:
    smtp = smtplib.SMTP()
    smtp.sock, peer = socket.socketpair()
    peer.close()

    with pytest.raises(smtplib.SMTPServerDisconnected):
        send_content(smtp, [b"x" * 200_000] * 10, buffer_size=100_000)
    assert smtp.sock is None, "smtplib closed the socket, as after any failed send"


@pytest.fixture
def connection(server: RecordingSMTPServer) -> Iterator[smtplib.SMTP]:
    with smtplib.SMTP(server.host, server.port) as smtp:
        smtp.ehlo()
        yield smtp


def big_message(attachment: bytes) -> EmailMessage:
    message = EmailMessage(
        "Quarterly figures",
        "Figures attached.\n.\n.. and a line that starts with two dots\n",
        "Sender <sender@example.com>",
        ["to@example.com"],
    )
    message.attach("figures.bin", attachment, "application/octet-stream")
    return message


def test_the_backend_streams_what_smtplib_data_delivers(
    server: RecordingSMTPServer, connection: smtplib.SMTP
) -> None:
    attachment = os.urandom(500_000)

    assert (
        SMTPBackend(**server.backend_options(timeout=5)).send_messages([big_message(attachment)])
        == 1
    )
    (streamed,) = server.messages
    connection.sendmail("sender@example.com", ["to@example.com"], streamed.data)

    streamed, by_smtplib = server.messages
    assert streamed.data == by_smtplib.data
    parsed = streamed.parsed()
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text == "Figures attached.\r\n.\r\n.. and a line that starts with two dots\r\n"
    (part,) = parsed.iter_attachments()
    assert part.get_content() == attachment


class ReadRecording(EmailMessage):
    """A message whose serialized chunks note in ``read`` when they are first read."""

    read: list[str]

    def iter_serialized(self, *args: object, **kwargs: object) -> Any:
        real = super().iter_serialized(*args, **kwargs)  # type: ignore[arg-type]
        read = self.read

        class Chunks:
            def __len__(self) -> int:
                return len(real)

            def isascii(self) -> bool:
                return real.isascii()

            def __iter__(self) -> Iterator[bytes]:
                read.append("started")
                yield from real

        return Chunks()


def test_a_refused_data_command_fails_before_any_content_is_read(
    server: RecordingSMTPServer,
) -> None:
    def refuse_data(stage: str, session: SessionRecord, argument: str) -> str | None:
        return "554 5.5.1 No valid recipients" if stage == "DATA_COMMAND" else None

    server.fault = refuse_data
    message = ReadRecording("refused", "body", "sender@example.com", ["to@example.com"])
    message.read = []

    with pytest.raises(SMTPReplyError) as raised:
        SMTPBackend(**server.backend_options(timeout=5)).send_messages([message])

    assert (raised.value.stage, raised.value.smtp_code) == ("data", 554)
    assert raised.value.smtp_reply == "5.5.1 No valid recipients"
    assert message.read == []
    assert server.messages == []


def test_mail_from_and_rcpt_to_send_addresses_and_options_as_given(
    server: RecordingSMTPServer, connection: smtplib.SMTP
) -> None:
    assert mail_from(connection, '"john doe"@example.com', ["SIZE=42", "BODY=8BITMIME"]) == (
        250,
        b"2.1.0 OK",
    )
    assert rcpt_to(connection, "to@xn--bcher-kva.example") == (250, b"2.1.5 OK")
    connection.data(b"Subject: x\r\n\r\nbody\r\n")

    (received,) = server.messages
    assert received.mail_from == '"john doe"@example.com'
    assert received.mail_options == ["SIZE=42", "BODY=8BITMIME"]
    assert received.rcpt_tos == ["to@xn--bcher-kva.example"]
    assert received.data == b"Subject: x\r\n\r\nbody\r\n"


def test_rcpt_to_returns_a_refusal_instead_of_raising(
    connection: smtplib.SMTP, server: RecordingSMTPServer
) -> None:
    server.refuse["nobody@example.com"] = (550, "5.1.1 No such user")
    mail_from(connection, "sender@example.com")

    assert rcpt_to(connection, "nobody@example.com") == (550, b"5.1.1 No such user")


def test_an_interrupt_mid_data_drops_the_connection() -> None:
    """A KeyboardInterrupt while the content goes out leaves no connection to reuse."""

    class Interrupting(EmailMessage):
        def iter_serialized(self, *args: object, **kwargs: object) -> Any:
            real = super().iter_serialized(*args, **kwargs)  # type: ignore[arg-type]

            class Chunks:
                def __len__(self) -> int:
                    return len(real)

                def isascii(self) -> bool:
                    return real.isascii()

                def __iter__(self) -> Any:
                    yield b"Subject: cut\r\n"
                    raise KeyboardInterrupt

            return Chunks()

    with RecordingSMTPServer() as server:
        backend = SMTPBackend(host=server.host, port=server.port)
        backend.open()
        try:
            message = Interrupting("cut", "body", "a@example.com", ["b@example.com"])
            with pytest.raises(KeyboardInterrupt):
                backend.send_messages([message])
            assert backend.connection is None
            ok = EmailMessage("after", "body", "a@example.com", ["b@example.com"])
            assert backend.send_messages([ok]) == 1
        finally:
            backend.close()
        assert [m.parsed()["Subject"] for m in server.messages] == ["after"]
