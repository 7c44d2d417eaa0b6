"""The exceptions mailcore raises, all rooted in :class:`MailcoreError`."""

from __future__ import annotations

__all__ = [
    "BackendLoadError",
    "BackendNotFoundError",
    "BadHeaderError",
    "CancelSend",
    "ConfigurationError",
    "ConfigurationWarning",
    "InvalidAddressError",
    "InvalidMailer",
    "MailcoreError",
    "MailerDoesNotExist",
    "MailersFailedError",
    "RecipientsRefusedError",
    "SendError",
]


class MailcoreError(Exception):
    """Base class of every error mailcore raises on purpose."""


class BadHeaderError(MailcoreError, ValueError):
    """A header value (or attachment file name) holds CR or LF: nothing was sent."""


class InvalidAddressError(MailcoreError, ValueError):
    """An e-mail address cannot be used (malformed, or a non-ASCII local part)."""


class ConfigurationError(MailcoreError, ValueError):
    """A setting or backend option is missing, unknown or invalid.

    Also a :class:`ValueError`, so code written for Django's ``except ValueError`` works.
    """


class ConfigurationWarning(UserWarning):
    """An environment variable named like a mailcore setting that no setting or installed
    backend has (probably a typo): a warning, since the environment is shared."""


class InvalidMailer(ConfigurationError):
    """A named mailer is configured wrongly: its backend, an option or its connection URL.
    The text names the mailer and the option."""


class MailerDoesNotExist(InvalidMailer, KeyError):
    """No mailer has the alias asked for; the text lists the configured aliases."""

    def __str__(self) -> str:  # not KeyError's quoted repr
        return str(self.args[0]) if self.args else ""


class BackendNotFoundError(ConfigurationError):
    """No installed backend has the requested short name or import path."""


class BackendLoadError(ConfigurationError):
    """A backend plugin is installed but failed to import."""


class CancelSend(MailcoreError):
    """Raised by a before-send hook to cancel one message: it is not sent, and its result
    has status ``"cancelled"`` with this error (whose text is ``reason``)."""

    def __init__(self, reason: str = "cancelled by a before-send hook") -> None:
        super().__init__(reason)
        self.reason = reason


class SendError(MailcoreError):
    """The transport failed to deliver one or more messages.

    ``sent`` counts the messages of the batch that the transport accepted before or
    despite the failure; ``message`` is the message that failed, when one did.
    """

    def __init__(self, text: str, *, sent: int = 0, message: object | None = None) -> None:
        super().__init__(text)
        self.sent = sent
        self.message = message


class RecipientsRefusedError(SendError):
    """The transport refused every recipient of a message.

    ``refused`` maps each refused address to the server's ``(code, text)``.
    """

    def __init__(
        self,
        text: str,
        refused: dict[str, tuple[int, str]],
        *,
        sent: int = 0,
        message: object | None = None,
    ) -> None:
        super().__init__(text, sent=sent, message=message)
        self.refused = refused


class MailersFailedError(SendError):
    """Every mailer of a ``failover`` or ``roundrobin`` backend failed to send a message.

    ``answers`` maps each mailer tried, in order, to the error it answered with.
    """

    def __init__(
        self,
        text: str,
        answers: dict[str, BaseException],
        *,
        sent: int = 0,
        message: object | None = None,
    ) -> None:
        super().__init__(text, sent=sent, message=message)
        self.answers = answers
