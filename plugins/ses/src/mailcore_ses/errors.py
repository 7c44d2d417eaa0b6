"""The errors of the SES backend: each names the cause and the message that failed.

All subclass :class:`SESSendError`, itself a :class:`mailcore.SendError`. The text says
which message failed (its subject and recipients) and why, with SES's own error code and
text; credentials are never part of it. ``stops_batch`` tells whether the rest of a batch
was abandoned because every message would fail the same way.
"""

from __future__ import annotations

from typing import ClassVar

from mailcore import SendError

__all__ = [
    "SESAccountError",
    "SESCredentialsError",
    "SESEndpointError",
    "SESIdentityNotVerifiedError",
    "SESMessageRejectedError",
    "SESSendError",
    "SESThrottlingError",
]


class SESSendError(SendError):
    """SES did not accept a message.

    ``code`` is the AWS error code (``"MessageRejected"``) or the botocore exception's
    name; ``message`` the :class:`mailcore.EmailMessage` that failed; ``sent`` how many
    messages of the batch SES accepted.
    """

    #: True when the backend stops the batch after this error (it would recur).
    stops_batch: ClassVar[bool] = False

    def __init__(
        self, text: str, *, code: str, sent: int = 0, message: object | None = None
    ) -> None:
        super().__init__(text, sent=sent, message=message)
        self.code = code


class SESThrottlingError(SESSendError):
    """SES refused for now: sending rate or daily quota exceeded (after boto3's retries)."""


class SESMessageRejectedError(SESSendError):
    """SES rejected this message (content, size, an address, a sandbox recipient)."""

    #: A refusal of this message, not of the transport: a failover does not move it on.
    temporary: ClassVar[bool] = False


class SESIdentityNotVerifiedError(SESMessageRejectedError):
    """The sender's address or domain (or its MAIL FROM domain) is not verified in SES."""


class SESCredentialsError(SESSendError):
    """boto3 found no AWS credentials, or AWS refused them; the batch stops."""

    stops_batch = True


class SESEndpointError(SESSendError):
    """The SES endpoint could not be reached (network, DNS, ``endpoint_url``); the batch stops."""

    stops_batch = True


class SESAccountError(SESSendError):
    """The account may not send: sending paused or account suspended; the batch stops."""

    stops_batch = True
