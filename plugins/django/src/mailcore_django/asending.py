"""``await mailcore_django.asend_mail(...)``: Django's ``send_mail`` for async views."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMultiAlternatives

from mailcore_django.backend import EmailBackend

__all__ = ["asend_mail"]


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
    through the bridge's mailer (``using``, ``url``, or as configured for
    :class:`~mailcore_django.EmailBackend`) without blocking the event loop; 0 or 1.

    The mailer is made in the calling thread (making it reads settings, never the
    network); the sending goes through the mailer's async API.
    """
    options = {
        name: value
        for name, value in (("username", auth_user), ("password", auth_password))
        if value is not None
    }
    backend = EmailBackend(fail_silently, using=using, url=url, **options)
    mail = EmailMultiAlternatives(subject, message, from_email, list(recipient_list))
    if html_message:
        mail.attach_alternative(html_message, "text/html")
    return await backend.asend_messages([mail])
