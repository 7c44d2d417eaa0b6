"""A Django message rendered by Django, as the bytes and envelope mailcore transports.

The bytes and the envelope are the ones Django's own SMTP backend would send: Django's
``message()`` (so every Django feature, signal and policy applies), and the envelope of
its ``from_email`` and ``recipients()`` (Bcc included) prepared as that backend prepares
them (``prep_address`` from Django 6.0 on, ``sanitize_address`` before). Addresses
therefore follow Django's rules (its IDNA encoding of domains, for one), not mailcore's,
but for one: a non-ASCII local part, which Django 6.x refuses and Django 5.2 writes as an
encoded word (``=?utf-8?b?...?=@example.com``, another mailbox), raises
:class:`mailcore.InvalidAddressError` (a ``ValueError``) with either, as mailcore does.

One check comes first that Django does not make: every extra header's name must be one
mailcore accepts (no CR, LF, colon, space or other non-printable character), or a
``BadHeaderError`` is raised (:func:`check_header_name`); Django refuses line breaks
only in values, and a name ``"X-A\\r\\nBcc"`` would put a Bcc line in the bytes.
"""

from __future__ import annotations

import email.policy
import re
import smtplib
from typing import Any

import django
from django.conf import settings
from django.core.mail.backends import smtp

import mailcore
from mailcore import StoredMessage

__all__ = ["stored_message"]

#: Django's error for a bad header before Django 6.0, which deprecates it for ValueError.
_DJANGO_BAD_HEADER: type[ValueError] | None = None
if django.VERSION < (6,):
    from django.core import mail as _mail

    _DJANGO_BAD_HEADER = _mail.BadHeaderError

#: Django 6.0 and later render with a policy and prepare addresses with ``prep_address``.
_MODERN = hasattr(smtp.EmailBackend, "prep_address")


#: A local part Django 5.2 wrote as an RFC 2047 encoded word (it was not ASCII).
_ENCODED_LOCAL_PART = re.compile(r"=\?[^@]*\?=@")


def _envelope(django_message: Any) -> tuple[str, list[str]]:
    if _MODERN:
        prep = smtp.EmailBackend.prep_address
        # prep_address uses nothing of the backend instance it is a method of
        return prep(None, django_message.from_email), [
            prep(None, address) for address in django_message.recipients()
        ]
    from django.core.mail.message import sanitize_address

    encoding = django_message.encoding or settings.DEFAULT_CHARSET

    def envelope_address(address: Any) -> str:
        spec = _addr_spec(sanitize_address(address, encoding))
        if _ENCODED_LOCAL_PART.match(spec) and not str(address).isascii():
            raise mailcore.InvalidAddressError(
                f"{address!r}: its local part is not ASCII (that would need SMTPUTF8); "
                "Django 5.2 would put an encoded word, another address, in the envelope"
            )
        return spec

    return envelope_address(django_message.from_email), [
        envelope_address(address) for address in django_message.recipients()
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


def check_header_name(name: Any) -> None:
    """Raise :class:`mailcore.BadHeaderError` (a ``ValueError``, what Django 6.x raises
    for a bad header) unless ``name`` is a header name mailcore accepts; with Django 5.2,
    Django's ``BadHeaderError`` instead, from mailcore's. mailcore's own rule, asked
    through a message holding that one header."""
    # with a Message-ID given, no random one is made: Django's MIME boundaries, drawn
    # from the same random generator, stay what they would be without the bridge
    headers = {"Message-ID": "<probe@example.invalid>", name: "x"}
    probe = mailcore.EmailMessage(from_email="probe@example.invalid", headers=headers)
    try:
        probe.header_fields()
    except mailcore.BadHeaderError as exc:
        if _DJANGO_BAD_HEADER is None:
            raise
        raise _DJANGO_BAD_HEADER(str(exc)) from exc
    except ValueError:
        pass  # a valid name that mailcore's own messages may not set (Bcc, ...)


def stored_message(django_message: Any) -> StoredMessage | None:
    """``django_message`` rendered by Django, with Django's envelope; ``None`` when it has
    no recipients (Django's SMTP backend skips such a message, and so does the bridge).
    A bad header or address raises Django's error here, before anything is sent."""
    if not django_message.recipients():
        return None
    for name in django_message.extra_headers:
        check_header_name(name)
    sender, recipients = _envelope(django_message)
    return StoredMessage(_bytes(django_message), sender, recipients)
