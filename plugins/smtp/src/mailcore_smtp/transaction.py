"""One message's SMTP transaction: its envelope, what each reply means, and the plain
(unpipelined) exchange.

:class:`Transaction` is the one place that decides what a reply to MAIL FROM, RCPT TO,
DATA or the content means (with :mod:`mailcore_smtp.replies`): the plain exchange here
and the pipelined one (:mod:`mailcore_smtp.pipelining`) both feed it the replies in
order, so a refusal, a queue id or a lost connection is reported the same either way.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mailcore import SendError, SendResult
from mailcore_smtp.deadline import read_reply_within
from mailcore_smtp.errors import (
    SMTPConnectionError,
    SMTPError,
    SMTPRecipientsRefusedError,
    Stage,
)
from mailcore_smtp.exchange import Content, Pace, Reply, Send, Steps, drive
from mailcore_smtp.replies import means_too_big, queue_id_from_reply, reply_text
from mailcore_smtp.transmit import SEND_BUFFER_SIZE, wire_content

if TYPE_CHECKING:
    from mailcore import EmailMessage, SerializedMessage
    from mailcore_smtp.backend import SMTPBackend

__all__ = [
    "Capabilities",
    "Done",
    "Transaction",
    "needs_reset",
    "plain_steps",
    "read_final",
    "reset_steps",
    "send_plain",
]

log = logging.getLogger("mailcore.smtp")


@dataclass
class Done:
    """A transaction's end: the result the server gave, or the error."""

    transaction: Transaction
    result: SendResult | None = None
    error: SMTPError | None = None


class Capabilities(Protocol):
    """What a transaction needs to know of the server's EHLO: an
    :class:`smtplib.SMTP`, or the async client's view of an aiosmtplib connection."""

    @property
    def does_esmtp(self) -> bool: ...

    @property
    def esmtp_features(self) -> dict[str, str]: ...

    def has_extn(self, opt: str) -> bool: ...


def needs_reset(error: SMTPError) -> bool:
    """True when the server refused a step of an open transaction (so RSET is due)."""
    if isinstance(error, SMTPConnectionError) or error.stage not in ("mail", "rcpt", "data"):
        return False
    return error.smtp_code is not None or isinstance(error, SMTPRecipientsRefusedError)


class Transaction:
    """Sending ``message`` on ``smtp``: the envelope, the bytes, and the judgement of
    each reply. Raises :class:`~mailcore_smtp.SMTPMessageTooBigError` at once when the
    server's SIZE says the message is too big."""

    def __init__(self, backend: SMTPBackend, smtp: Capabilities, message: EmailMessage) -> None:
        self.backend = backend
        self.message = message
        #: The message's place in its batch (set by the sender).
        self.index = -1
        self.sender = message.envelope_from()
        self.recipients = message.envelope_recipients()
        self.refused: dict[str, tuple[int, str]] = {}
        esmtp = smtp.does_esmtp
        eight_bit = esmtp and smtp.has_extn("8bitmime")
        data: SerializedMessage = backend.prepared(message)
        self.message_id_header: str | None = None
        if not eight_bit and not data.isascii():
            # built before EHLO with 8-bit parts: this server takes 7-bit only (and a
            # DKIM signature must cover these bytes, not the 8-bit ones)
            data = backend.sign_message(backend.message_chunks(message, allow_8bit=False))
            self.message_id_header = data.message_id
        self.data = data
        #: With pipelining, a small message's content as it goes on the wire, built
        #: while the server answers (see :meth:`render`).
        self.wire: bytes | None = None
        self.size = len(data)
        self.limit = _size_limit(smtp) if esmtp else None
        if self.limit is not None and self.size > self.limit:
            raise backend.too_big(self.size, self.limit, "mail", None, b"")
        options = []
        if esmtp and smtp.has_extn("size"):
            options.append(f"SIZE={self.size}")
        if eight_bit and not data.isascii():
            options.append("BODY=8BITMIME")
        self.mail_options = "".join(f" {option}" for option in options)

    def render(self) -> None:
        """Build the content's wire bytes now, if the message is small (at most
        :data:`~mailcore_smtp.transmit.SEND_BUFFER_SIZE` times 4): called while the
        server is busy, so the work overlaps its. A large message is streamed instead."""
        if self.wire is None and self.size <= 4 * SEND_BUFFER_SIZE:
            self.wire = wire_content(self.data)

    def commands(self) -> list[str]:
        """MAIL FROM, one RCPT TO per recipient, DATA: each without its CRLF."""
        return [
            f"MAIL FROM:<{self.sender}>{self.mail_options}",
            *(f"RCPT TO:<{recipient}>" for recipient in self.recipients),
            "DATA",
        ]

    # -- what each reply means --------------------------------------------------------

    def judge_mail(self, code: int, reply: bytes) -> None:
        if means_too_big(code, reply_text(reply)):
            raise self.backend.too_big(self.size, self.limit, "mail", code, reply)
        self._expect("mail", code, reply, (250,), f"refused sender {self.sender!r}")

    def judge_rcpt(self, recipient: str, code: int, reply: bytes) -> None:
        if code == 421:
            self._expect("rcpt", code, reply, (250, 251), "")
        if code not in (250, 251):
            self.refused[recipient] = (code, reply_text(reply))

    def judge_recipients(self) -> None:
        """After every RCPT TO: raise when the server refused them all."""
        if len(self.refused) == len(self.recipients):
            described = ", ".join(f"{a} ({c} {t})" for a, (c, t) in self.refused.items())
            backend = self.backend
            raise SMTPRecipientsRefusedError(
                f"SMTP server {backend.address} refused every recipient: {described}",
                dict(self.refused),
                host=backend.options.host,
                port=backend.options.port,
                message=self.message,
            )

    def judge_data(self, code: int, reply: bytes) -> None:
        self._expect("data", code, reply, (354,), "refused DATA")

    def judge_final(self, code: int, reply: bytes) -> SendResult:
        """The result of the reply to the content (raises if it is a refusal)."""
        if means_too_big(code, reply_text(reply)):
            raise self.backend.too_big(self.size, self.limit, "message", code, reply)
        self._expect("message", code, reply, (250,), "refused the message")
        message_id = queue_id_from_reply(reply_text(reply))
        log.debug("%s accepted a message (queue id %s)", self.backend.address, message_id)
        return SendResult(
            "sent",
            message_id=message_id,
            message_id_header=self.message_id_header,
            refused=dict(self.refused),
        )

    def finish(self, code: int, reply: bytes) -> Done:
        """:meth:`judge_final` as a :class:`Done`."""
        try:
            return Done(self, result=self.judge_final(code, reply))
        except SMTPError as exc:
            return Done(self, error=exc)

    def _expect(
        self, stage: Stage, code: int, reply: bytes, expected: tuple[int, ...], what: str
    ) -> None:
        """Raise unless ``code`` is expected; 421 means the server is closing the connection."""
        if code in expected:
            return
        if code == 421:
            self.backend.fail_reply(
                SMTPConnectionError, stage, code, reply, "is closing the connection"
            )
        self.backend.fail_reply(None, stage, code, reply, what)


def _size_limit(connection: Capabilities) -> int | None:
    """The largest message the server takes, from the SIZE of its EHLO reply (RFC 1870);
    ``None`` when it gave none, or 0 (no fixed limit)."""
    value = connection.esmtp_features.get("size", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def read_final(smtp: smtplib.SMTP, data_timeout: float) -> tuple[int, bytes]:
    """The reply to a message's content, all of it within ``data_timeout``."""
    return read_reply_within(smtp, data_timeout)


def reset_steps() -> Steps[bool]:
    """RSET after a refused transaction; False when the connection failed it."""
    try:
        yield Send(b"RSET\r\n")
        code, _ = yield Reply()
    except (smtplib.SMTPException, OSError):
        return False
    return bool(code == 250)


def reset(smtp: smtplib.SMTP) -> bool:
    """:func:`reset_steps` on ``smtp``."""
    return drive(reset_steps(), smtp)


def plain_steps(transaction: Transaction) -> Steps[SendResult]:
    """Run ``transaction`` waiting for each reply (a server without PIPELINING).

    Raises the :class:`SMTPError` of the first refusal or loss; the caller RSETs when
    :func:`needs_reset` says so, and drops the connection after an
    :class:`~mailcore_smtp.SMTPConnectionError`.
    """
    tx = transaction
    backend = tx.backend
    if not tx.recipients:
        return SendResult("failed", error=SendError("the message has no recipients"))
    stage: Stage = "mail"
    try:
        yield Send(f"MAIL FROM:<{tx.sender}>{tx.mail_options}\r\n".encode("ascii"))
        tx.judge_mail(*(yield Reply()))
        stage = "rcpt"
        for recipient in tx.recipients:
            yield Send(f"RCPT TO:<{recipient}>\r\n".encode("ascii"))
            tx.judge_rcpt(recipient, *(yield Reply()))
        tx.judge_recipients()
        stage = "data"
        yield Send(b"DATA\r\n")
        tx.judge_data(*(yield Reply(positive=3)))
        # Still "data" while the content goes out: if sending fails, the final dot
        # did not, so the server cannot have accepted the message (safe to retry).
        yield Pace(backend.pool.limiter)
        yield Content(tx.data)
        stage = "message"
        code, reply = yield Reply(backend.options.data_timeout)
    except SMTPError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise backend.translate(exc, stage) from exc
    return tx.judge_final(code, reply)


def send_plain(transaction: Transaction, smtp: smtplib.SMTP) -> SendResult:
    """:func:`plain_steps` on ``smtp``."""
    return drive(plain_steps(transaction), smtp)
