"""Fixtures of the web preview tests: a debug server with ``--web`` on free loopback ports."""

from __future__ import annotations

import io
import smtplib
import struct
import zlib
from collections.abc import Iterator
from email.mime.image import MIMEImage

import pytest

from mailcore import EmailMessage, EmailMultiAlternatives
from mailcore.testing import PreviewClient
from mailcore_smtp import SMTPBackend
from mailcore_smtp.debug_server import DebugServer


def _png(width: int, height: int) -> bytes:
    """A PNG banner: indigo with a lighter band (made here, so the tests need no file)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00"
        + (b"\x8f\x9c\xf0" if height // 3 <= y < 2 * height // 3 else b"\x2f\x3d\x8f") * width
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


#: The newsletter's inline (cid:) image, 160x48.
PNG = _png(160, 48)


#: Latin-1 bytes in a message that declares no charset (so: not valid UTF-8).
NON_UTF8 = (
    b"From: sender@example.com\r\nTo: ann@example.com\r\nSubject: caf\xe9 \xff\r\n\r\n"
    b"Body in latin-1: caf\xe9, and a stray \xff byte.\r\n"
)


def send(server: DebugServer, *messages: EmailMessage) -> None:
    """Send ``messages`` through mailcore's SMTP backend to ``server``."""
    backend = SMTPBackend(host=server.host, port=server.port, timeout=10)
    assert backend.send_messages(list(messages)) == len(messages)


def send_raw(server: DebugServer, data: bytes, to: str = "raw@example.com") -> None:
    """Send bytes as they are (no mailcore in between), for malformed messages."""
    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        client.sendmail("raw-sender@example.com", [to], data)


def plain_message(subject: str, body: str = "Plain body.\n") -> EmailMessage:
    return EmailMessage(subject, body, "Sender <sender@example.com>", ["Ann <ann@example.com>"])


def newsletter() -> EmailMultiAlternatives:
    """HTML with an inline cid: image, a text part, a Bcc and a PDF attachment."""
    message = EmailMultiAlternatives(
        "November newsletter",
        "Newsletter as plain text.\n",
        "News <news@example.com>",
        ["Bob <bob@example.com>"],
        cc=["carol@example.com"],
        bcc=["hidden@example.com"],
    )
    message.attach_alternative(
        '<h1 id="headline">Rendered headline</h1><p>Hello <b>Bob</b></p>'
        '<img id="logo" alt="logo" src="cid:logo@example.com">',
        "text/html",
    )
    logo = MIMEImage(PNG, "png")
    logo.add_header("Content-ID", "<logo@example.com>")
    logo.add_header("Content-Disposition", "inline", filename="logo.png")
    message.attach(logo)
    message.attach("invoice-2026.pdf", b"%PDF-1.4 invoice " * 64, "application/pdf")
    return message


@pytest.fixture(scope="module")
def preview_server() -> Iterator[DebugServer]:
    """One debug server with the web preview per module (SMTP and HTTP on free ports)."""
    with DebugServer(port=0, out=io.StringIO(), quiet=True, web_port=0) as server:
        yield server


@pytest.fixture
def preview(preview_server: DebugServer) -> Iterator[DebugServer]:
    """The module's server, emptied before the test."""
    assert preview_server.store is not None
    preview_server.store.clear()
    yield preview_server


@pytest.fixture
def client(preview: DebugServer) -> PreviewClient:
    assert preview.web_url is not None
    return PreviewClient(preview.web_url, timeout=10)
