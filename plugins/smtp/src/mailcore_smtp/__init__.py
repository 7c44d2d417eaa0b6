"""mailkern-smtp: the SMTP backend (short name ``smtp``) and ``mailcore debug-server``."""

from __future__ import annotations

from mailcore_smtp.backend import SMTPBackend
from mailcore_smtp.errors import (
    SMTPAuthError,
    SMTPBatchStoppedError,
    SMTPConnectionError,
    SMTPError,
    SMTPMessageTooBigError,
    SMTPPoolTimeoutError,
    SMTPRecipientsRefusedError,
    SMTPReplyError,
    SMTPSecurityError,
)
from mailcore_smtp.options import SMTPOptions

__all__ = [
    "SMTPAuthError",
    "SMTPBackend",
    "SMTPBatchStoppedError",
    "SMTPConnectionError",
    "SMTPError",
    "SMTPMessageTooBigError",
    "SMTPOptions",
    "SMTPPoolTimeoutError",
    "SMTPRecipientsRefusedError",
    "SMTPReplyError",
    "SMTPSecurityError",
]
