"""The errors of the SMTP backend: each names the server, the step and the cause.

Every one is a :class:`mailcore.SendError` and, as the seed documents for Django, an
:class:`smtplib.SMTPException`; :class:`SMTPConnectionError` is also a
:class:`ConnectionError`, so ``except ConnectionError`` blocks written for Django keep
working. The low-level exception (``OSError``, ``ssl.SSLError``,
an ``smtplib`` error) is kept as ``__cause__``. Credentials are never part of the text.

``stage`` says where the conversation failed, which tells whether the server may have
taken the message:

- ``"connect"``, ``"greeting"``, ``"ehlo"``, ``"starttls"``, ``"auth"``: before any
  message; nothing of the batch was sent from this point on.
- ``"mail"``, ``"rcpt"``, ``"data"``: during one message, before its content was sent
  in full (up to its final dot); the server has not accepted it.
- ``"message"``: the content was sent and the final reply did not come or was not 250.
  With a reply (``smtp_code`` set) the server refused it; without one (connection lost
  or timeout) the server may or may not have accepted it (``outcome_unknown``).

``temporary`` says whether the same step may work later (a 4xx reply, a lost connection,
a timeout); the backend's ``retries`` option retries exactly the errors that are
``temporary`` and not ``outcome_unknown``.
"""

from __future__ import annotations

import smtplib
from typing import Literal, Self

from mailcore import RecipientsRefusedError, SendError

__all__ = [
    "SMTPAuthError",
    "SMTPBatchStoppedError",
    "SMTPConnectionError",
    "SMTPError",
    "SMTPMessageTooBigError",
    "SMTPPoolTimeoutError",
    "SMTPRecipientsRefusedError",
    "SMTPReplyError",
    "SMTPSecurityError",
    "Stage",
]

Stage = Literal[
    "connect", "greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "message"
]

#: Stages at which a message of the batch was being sent.
MESSAGE_STAGES: frozenset[Stage] = frozenset({"mail", "rcpt", "data", "message"})


class SMTPError(SendError, smtplib.SMTPException):
    """Talking to the SMTP server failed.

    ``host``, ``port``: the server; ``stage``: where it failed (see the module doc);
    ``smtp_code``, ``smtp_reply``: the server's reply, when the failure was a reply;
    ``sent``: messages of the batch the server accepted; ``message``: the message
    being sent, if any.
    """

    def __init__(
        self,
        text: str,
        *,
        host: str,
        port: int,
        stage: Stage,
        smtp_code: int | None = None,
        smtp_reply: str | None = None,
        sent: int = 0,
        message: object | None = None,
    ) -> None:
        super().__init__(text, sent=sent, message=message)
        self.host = host
        self.port = port
        self.stage: Stage = stage
        self.smtp_code = smtp_code
        self.smtp_reply = smtp_reply

    @property
    def temporary(self) -> bool:
        """True when trying again later may work: a 4xx reply, or no reply at all
        (connection refused or lost, timeout)."""
        return self.smtp_code is None or 400 <= self.smtp_code < 500

    @property
    def outcome_unknown(self) -> bool:
        """True when the content was sent but no final reply came: it may have been accepted."""
        return self.stage == "message" and self.smtp_code is None

    def add_batch_progress(self, sent: int, total: int, message: object | None) -> None:
        """Record how far the batch got, and say it in the text when it had several messages."""
        self.sent = sent
        self.message = message
        if total > 1:
            self.args = (f"{self.args[0]}; {sent} of {total} messages were accepted before it",)


class SMTPBatchStoppedError(SMTPError):
    """A message was not attempted: the batch stopped at an earlier message's failure.

    That failure is ``__cause__``. The server never saw this message (``stage`` is
    ``"mail"``, ``outcome_unknown`` is False), so sending it again cannot duplicate it.
    """

    @classmethod
    def after(cls, cause: SMTPError | BaseException, *, host: str, port: int) -> Self:
        """The error for the messages left unsent after ``cause``."""
        error = cls(
            f"not sent: the batch stopped at an earlier message ({cause})",
            host=host,
            port=port,
            stage="mail",
            sent=getattr(cause, "sent", 0),
        )
        error.__cause__ = cause
        return error


class SMTPConnectionError(SMTPError, ConnectionError):
    """The server could not be reached, closed the connection, or did not answer in time.

    Also a :class:`ConnectionError`, as the failure of Django's SMTP backend is.
    """


class SMTPPoolTimeoutError(SMTPConnectionError):
    """No pooled connection became free in time: all ``max_connections`` stayed busy,
    and nothing was sent on them, for ``timeout`` seconds (``data_timeout`` while a
    send used one). ``stage`` is ``"connect"``: nothing of the batch was sent."""


class SMTPSecurityError(SMTPError):
    """TLS could not be set up: certificate not trusted, handshake failed, no STARTTLS."""

    @property
    def temporary(self) -> bool:
        """True only for a 4xx reply to STARTTLS (``454 TLS not available due to a
        temporary reason``): an untrusted certificate or a failed handshake stays so."""
        return self.smtp_code is not None and 400 <= self.smtp_code < 500


class SMTPAuthError(SMTPError):
    """The server refused the login, or offers no way to log in."""

    @property
    def temporary(self) -> bool:
        """True only for a 4xx reply (``454 4.7.0 Temporary authentication failure``)."""
        return self.smtp_code is not None and 400 <= self.smtp_code < 500


class SMTPReplyError(SMTPError):
    """The server refused one message (at MAIL FROM, DATA or after its content)."""


class SMTPMessageTooBigError(SMTPReplyError):
    """The message is larger than the server takes.

    ``message_size``: the message in octets, as sent; ``server_limit``: the largest the
    server takes, from the ``SIZE`` of its EHLO reply (``None`` when it gave none). When
    that limit is known the message is refused before ``MAIL FROM`` (``smtp_code`` is
    then ``None``); else this is the server's refusal (``552``) of it.
    """

    def __init__(
        self,
        text: str,
        *,
        message_size: int,
        server_limit: int | None,
        host: str,
        port: int,
        stage: Stage,
        smtp_code: int | None = None,
        smtp_reply: str | None = None,
    ) -> None:
        super().__init__(
            text, host=host, port=port, stage=stage, smtp_code=smtp_code, smtp_reply=smtp_reply
        )
        self.message_size = message_size
        self.server_limit = server_limit

    @property
    def temporary(self) -> bool:
        """True only for a 4xx reply: a message too big stays so."""
        return self.smtp_code is not None and 400 <= self.smtp_code < 500


class SMTPRecipientsRefusedError(RecipientsRefusedError, SMTPError):
    """The server refused every recipient of a message; ``refused`` maps each to its reply."""

    def __init__(
        self,
        text: str,
        refused: dict[str, tuple[int, str]],
        *,
        host: str,
        port: int,
        sent: int = 0,
        message: object | None = None,
    ) -> None:
        codes = {code for code, _ in refused.values()}
        SMTPError.__init__(
            self,
            text,
            host=host,
            port=port,
            stage="rcpt",
            smtp_code=codes.pop() if len(codes) == 1 else None,
            sent=sent,
            message=message,
        )
        self.refused = refused

    @property
    def temporary(self) -> bool:
        """True when every refusal was temporary (4xx)."""
        return all(400 <= code < 500 for code, _ in self.refused.values())
