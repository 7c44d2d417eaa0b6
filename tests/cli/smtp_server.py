"""A real SMTP server on 127.0.0.1 (aiosmtpd) that records what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["QUEUE_ID", "Received", "RecordingHandler", "closed_port", "smtp_server"]

#: What the server says in its final reply, which the SMTP backend reports as message id.
QUEUE_ID = "CLI4TEST0001"


@dataclass
class Received:
    """One message as the server got it: the envelope and the bytes."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    """aiosmtpd handler that keeps every message and answers like Postfix."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), data))
        return f"250 2.0.0 Ok: queued as {QUEUE_ID}"


def closed_port() -> int:
    """A loopback port nothing listens on (bound a moment ago, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[int, RecordingHandler]]:
    """Serve SMTP on a free port of 127.0.0.1; yield the port and the handler."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=closed_port())
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()
