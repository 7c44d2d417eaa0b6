"""mailcore: Django's mail API without Django, with backends as plugins.

``mailcore.outbox`` appears once the locmem backend has sent something, as in Django.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailcore import hooks
from mailcore._wire.mime import SerializedMessage
from mailcore.asending import amail_admins, amail_managers, asend_mail, asend_mass_mail
from mailcore.backend import BaseEmailBackend
from mailcore.errors import (
    BackendLoadError,
    BackendNotFoundError,
    BadHeaderError,
    CancelSend,
    ConfigurationError,
    ConfigurationWarning,
    InvalidAddressError,
    InvalidMailer,
    MailcoreError,
    MailerDoesNotExist,
    MailersFailedError,
    RecipientsRefusedError,
    SendError,
)
from mailcore.message import (
    EmailAlternative,
    EmailAttachment,
    EmailMessage,
    EmailMultiAlternatives,
)
from mailcore.pacing import RateLimiter
from mailcore.registry import connection_from_url, mailers
from mailcore.results import SendResult
from mailcore.sending import (
    get_connection,
    mail_admins,
    mail_managers,
    send_mail,
    send_mass_mail,
)
from mailcore.steps import adrive_steps, drive_steps
from mailcore.stored import StoredMessage
from mailcore.stream import StreamEmailBackend
from mailcore.urls import URLScheme

if TYPE_CHECKING:
    from mailcore.options import BackendOptions, DKIMOptions, PerSecond, Seconds
    from mailcore.settings import configure, get_settings

#: Names whose modules import pydantic, loaded on first use to keep start-up fast.
_LAZY = {
    "BackendOptions": "mailcore.options",
    "DKIMOptions": "mailcore.options",
    "PerSecond": "mailcore.options",
    "Seconds": "mailcore.options",
    "configure": "mailcore.settings",
    "get_settings": "mailcore.settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mailcore' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BackendLoadError",
    "BackendNotFoundError",
    "BackendOptions",
    "BadHeaderError",
    "BaseEmailBackend",
    "CancelSend",
    "ConfigurationError",
    "ConfigurationWarning",
    "DKIMOptions",
    "EmailAlternative",
    "EmailAttachment",
    "EmailMessage",
    "EmailMultiAlternatives",
    "InvalidAddressError",
    "InvalidMailer",
    "MailcoreError",
    "MailerDoesNotExist",
    "MailersFailedError",
    "PerSecond",
    "RateLimiter",
    "RecipientsRefusedError",
    "Seconds",
    "SendError",
    "SendResult",
    "SerializedMessage",
    "StoredMessage",
    "StreamEmailBackend",
    "URLScheme",
    "adrive_steps",
    "amail_admins",
    "amail_managers",
    "asend_mail",
    "asend_mass_mail",
    "configure",
    "connection_from_url",
    "drive_steps",
    "get_connection",
    "get_settings",
    "hooks",
    "mail_admins",
    "mail_managers",
    "mailers",
    "send_mail",
    "send_mass_mail",
]

__version__ = "0.1.0"

#: The list the locmem backend appends to; it exists only after its first send.
outbox: list[EmailMessage]
