"""``await mailcore_django.asend_mail(...)``: Django's ``send_mail`` for async views.

The message goes where Django's ``send_mail`` would send it: Django's default connection
(``EMAIL_BACKEND``, or Django 6.1's default mailer), which Django's test runner swaps for
its ``locmem`` backend, so that under test it lands in ``django.core.mail.outbox``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.core import mail as django_mail
from django.core.mail import EmailMultiAlternatives

from mailcore_django.backend import EmailBackend
from mailcore_django.outbox import django_outbox_active

__all__ = ["asend_mail"]


def _connection(fail_silently: bool, using: str | None, url: str | None, **options: Any) -> Any:
    """With ``using`` or ``url``, the bridge for that mailer (Django's test outbox while
    Django's test environment is set up); otherwise Django's default connection, made as
    Django's ``send_mail`` makes it."""
    if (using is not None or url is not None) and not django_outbox_active():
        return EmailBackend(fail_silently, using=using, url=url, **options)
    with warnings.catch_warnings():
        # Django 6.1 deprecates get_connection() for projects; its own send_mail uses it
        warnings.filterwarnings("ignore", message=r"get_connection\(\) is deprecated")
        return django_mail.get_connection(fail_silently=fail_silently, **options)


async def asend_mail(
    subject: str,
    message: str,
    from_email: str | None,
    recipient_list: Sequence[str],
    fail_silently: bool = False,
    auth_user: str | None = None,
    auth_password: str | None = None,
    html_message: str | None = None,
    *,
    using: str | None = None,
    url: str | None = None,
) -> int:
    """Build the message as Django's ``send_mail`` does (Django renders it) and send it
    as that function would, without blocking the event loop; 0 or 1.

    Through the bridge (the default connection, or the mailer ``using`` or ``url``) it goes
    through the mailer's async API; through any other Django backend (``locmem`` under
    Django's test runner) in a worker thread. The connection is made in the calling
    thread (making it reads settings, never the network).
    """
    options = {
        name: value
        for name, value in (("username", auth_user), ("password", auth_password))
        if value is not None
    }
    mail = EmailMultiAlternatives(subject, message, from_email, list(recipient_list))
    if html_message:
        mail.attach_alternative(html_message, "text/html")
    if not mail.recipients():
        return 0  # as Django's EmailMessage.send(): no connection made
    connection = _connection(fail_silently, using, url, **options)
    if isinstance(connection, EmailBackend):
        return await connection.asend_messages([mail])
    return int(await sync_to_async(connection.send_messages)([mail]))
