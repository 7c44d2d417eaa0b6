"""A Django message rendered by Django, as the bytes and envelope mailcore transports.

The bytes and the envelope are the ones Django's own SMTP backend would send: Django's
``message()`` (so every Django feature, signal and policy applies), and the envelope of
its ``from_email`` and ``recipients()`` (Bcc included) prepared as that backend prepares
them (``prep_address`` from Django 6.0 on, ``sanitize_address`` before).
"""

from __future__ import annotations

import email.policy
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail.backends import smtp

from mailcore import StoredMessage

__all__ = ["stored_message"]

#: Django 6.0 and later render with a policy and prepare addresses with ``prep_address``.
_MODERN = hasattr(smtp.EmailBackend, "prep_address")


def _envelope(django_message: Any) -> tuple[str, list[str]]:
    if _MODERN:
        prep = smtp.EmailBackend.prep_address
        # prep_address uses nothing of the backend instance it is a method of
        return prep(None, django_message.from_email), [
            prep(None, address) for address in django_message.recipients()
        ]
    from django.core.mail.message import sanitize_address

    encoding = django_message.encoding or settings.DEFAULT_CHARSET
    return _addr_spec(sanitize_address(django_message.from_email, encoding)), [
        _addr_spec(sanitize_address(address, encoding)) for address in django_message.recipients()
    ]


def _addr_spec(address: str) -> str:
    """What ``smtplib`` puts in the envelope for a sanitized ``"Name <addr>"`` (Django
    5.2's SMTP backend hands those to ``sendmail``): the same function's answer."""
    quoted = str(smtplib.quoteaddr(address))
    return quoted[1:-1] if quoted.startswith("<") and quoted.endswith(">") else quoted


def _bytes(django_message: Any) -> bytes:
    if _MODERN:
        return bytes(django_message.message(policy=email.policy.SMTP).as_bytes())
    return bytes(django_message.message().as_bytes(linesep="\r\n"))


def stored_message(django_message: Any) -> StoredMessage | None:
    """``django_message`` rendered by Django, with Django's envelope; ``None`` when it has
    no recipients (Django's SMTP backend skips such a message, and so does the bridge).
    A bad header or address raises Django's error here, before anything is sent."""
    if not django_message.recipients():
        return None
    sender, recipients = _envelope(django_message)
    return StoredMessage(_bytes(django_message), sender, recipients)
